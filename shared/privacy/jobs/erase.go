package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/store"
)

// EraseHook is a channel adapter's part of an erasure: it removes what the
// adapter put outside our tables about the contact (Slack: the messages our bot
// posted to threads about them). It must be safe to call again after a partial
// run.
type EraseHook interface {
	EraseSubject(ctx context.Context, tenantID, contactID string) error
}

// ConnectionCloser closes a live WebSocket connection (pusher.Pusher); a gone
// connection is no error.
type ConnectionCloser interface {
	Close(ctx context.Context, connectionID string) error
}

// ObjectDeleter deletes export files (an S3 client, or SignedDeleter).
type ObjectDeleter interface {
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// SignedDeleter deletes export files through signed links (s3link.Signer), so
// the erase function links no S3 client.
type SignedDeleter struct {
	Signer interface {
		Delete(ctx context.Context, bucket, key string) error
	}
}

// DeleteObject deletes the object in.Key of in.Bucket.
func (d SignedDeleter) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if err := d.Signer.Delete(ctx, aws.ToString(in.Bucket), aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	return &s3.DeleteObjectOutput{}, nil
}

// EraseStore is what the Eraser needs of the store (store.Store).
type EraseStore interface {
	Store
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	Suppress(ctx context.Context, tenantID, kind, value, requestID string) error
	SubjectHash(tenantID, kind, value string) (string, error)
	ScrubPrivacyRequest(ctx context.Context, tenantID, id, subjectHash, endStatus, endReason string) error
	EraseHoldings(ctx context.Context, tenantID, id, owner string, h *store.Holdings) (map[string]int, error)
	CompleteErasure(ctx context.Context, tenantID, id, owner string, u chat.PrivacyUpdate, t chat.Tombstone) error
}

// Eraser is the privacy-erase function: it erases a subject everywhere and keeps
// only the tombstone and the suppression entries.
type Eraser struct {
	Store       EraseStore
	S3          ObjectDeleter
	Bucket      string
	Connections ConnectionCloser
	Hooks       []EraseHook
	Lease       time.Duration
	MaxAttempts int
	Log         *slog.Logger
}

// Handle processes one erase request event. Every step can run again: claims are
// leased, deletes and suppressions are idempotent, counts are added per partition
// as it is deleted, and the request completes with its tombstone in one
// transaction; a finished request is left alone.
func (e *Eraser) Handle(ctx context.Context, ev privacy.Event) error {
	p := &processor{st: e.Store, function: "privacy-erase", lease: e.Lease, maxAttempts: e.MaxAttempts, log: e.Log}
	return p.handle(ctx, ev, chat.PrivacyErase, func(ctx context.Context, tenant *chat.Tenant, r *chat.PrivacyRequest, who string) error {
		return e.run(ctx, p, tenant, r, who)
	})
}

func (e *Eraser) run(ctx context.Context, p *processor, tenant *chat.Tenant, r *chat.PrivacyRequest, who string) error {
	st := e.Store
	act := privacy.System(p.function)
	if err := step("audit", privacy.Audit(ctx, st, tenant, act, "privacy.erase.start", r.ID, nil)); err != nil {
		return err
	}
	contacts, err := p.resolveOnce(ctx, r, who)
	if err != nil {
		return step("resolve subject", err)
	}

	// Legal hold (policy, section 5) blocks the erasure, with the reason.
	if held, reason, err := e.held(ctx, tenant, contacts); err != nil {
		return step("check legal hold", err)
	} else if held {
		now := st.Now()
		err := st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, chat.PrivacyUpdate{
			Status: chat.PrivacyBlocked, StatusReason: reason, CompletedAt: &now, Release: true})
		if err != nil && !errors.Is(err, store.ErrPrivacyLeaseLost) {
			return step("block", err)
		}
		return step("audit", privacy.Audit(ctx, st, tenant, act, "privacy.erase.block", r.ID, nil))
	}

	h, err := gather(ctx, st, r, contacts, false)
	if err != nil {
		return step("gather", err)
	}

	// Suppress first: from here on the ingest paths and the archive refuse the
	// subject's identities, so nothing re-creates what is being erased.
	if err := e.suppressAndRecord(ctx, r, h, who); err != nil {
		return err
	}
	// Gather again now that every ingest path refuses the subject: a
	// connection or page view admitted just before the suppression is found
	// and erased too; an identity it added (an email given meanwhile) is
	// suppressed as well.
	if h, err = gather(ctx, st, r, contacts, false); err != nil {
		return step("gather", err)
	}
	if err := e.suppressAndRecord(ctx, r, h, who); err != nil {
		return err
	}
	hashes := r.SubjectHashes

	// Live connections are closed through the management API.
	if e.Connections != nil {
		for _, id := range h.Connections {
			if err := e.Connections.Close(ctx, id); err != nil {
				return step("close connection", err)
			}
		}
	}
	// Channel adapters remove their copies while our records still lead to them.
	for _, c := range contacts {
		for _, hook := range e.Hooks {
			if err := hook.EraseSubject(ctx, r.TenantID, c); err != nil {
				return step("channel erase hook", err)
			}
		}
	}
	added := map[string]int{}
	// Earlier requests about the subject: their export files are deleted and
	// their records keep no identifier of the subject.
	for _, id := range h.PrivacyRequests {
		if id == r.ID {
			continue
		}
		n, err := e.eraseRequest(ctx, r.TenantID, id, hashes)
		if err != nil {
			return step("erase earlier requests", err)
		}
		added["exportFiles"] += n
	}
	if added["exportFiles"] > 0 {
		if err := st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, chat.PrivacyUpdate{Add: added}); err != nil {
			return step("count", err)
		}
	}

	deleted, err := st.EraseHoldings(ctx, r.TenantID, r.ID, who, h)
	if err != nil {
		return step("delete items", err)
	}
	counts := map[string]int{}
	for k, v := range r.Counts {
		counts[k] = v
	}
	for _, m := range []map[string]int{added, deleted} {
		for k, v := range m {
			counts[k] += v
		}
	}
	counts["suppressions"] = len(hashes)
	now := st.Now()
	err = st.CompleteErasure(ctx, r.TenantID, r.ID, who,
		chat.PrivacyUpdate{Status: chat.PrivacyCompleted, CompletedAt: &now, SubjectErased: true, Counts: counts,
			DropSubject: true, Release: true},
		chat.Tombstone{RequestID: r.ID, SubjectHashes: hashes, Counts: counts, ReceivedAt: r.ReceivedAt, CompletedAt: now})
	if errors.Is(err, store.ErrPrivacyLeaseLost) {
		return nil
	}
	if err != nil {
		return step("complete", err)
	}
	if err := privacy.Audit(ctx, st, tenant, act, "privacy.erase.complete", r.ID, counts); err != nil {
		p.log.ErrorContext(ctx, "audit failed", "privacyRequest", r.ID, "error", err.Error())
	}
	return nil
}

// held reports whether a legal hold on the tenant or on one of the contacts
// blocks the erasure, and the reason to show.
func (e *Eraser) held(ctx context.Context, tenant *chat.Tenant, contacts []string) (bool, string, error) {
	if tenant.LegalHold {
		return true, "legal hold on the tenant account", nil
	}
	for _, id := range contacts {
		c, err := e.Store.Contact(ctx, tenant.ID, id)
		if errors.Is(err, chat.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, "", err
		}
		if c.LegalHold {
			return true, "legal hold on the contact", nil
		}
	}
	return false, "", nil
}

// identities are the identifiers of a subject that erasure suppresses.
type identities struct {
	Emails   []string
	Contacts []string
	Channels []string // chat.ChannelIdentity values
}

// subjectIdentities lists the subject's identifiers: the request's email, the
// contact ids, the contacts' emails and their channel identities.
func subjectIdentities(subject *chat.PrivacySubject, h *store.Holdings) identities {
	var ids identities
	if subject != nil && subject.Email != "" {
		ids.Emails = append(ids.Emails, strings.ToLower(subject.Email))
	}
	ids.Contacts = append(ids.Contacts, h.ContactIDs...)
	ids.Emails = append(ids.Emails, h.Emails...)
	ids.Channels = append(ids.Channels, h.Channels...)
	for _, l := range []*[]string{&ids.Emails, &ids.Contacts, &ids.Channels} {
		sort.Strings(*l)
		*l = slices.Compact(*l)
	}
	return ids
}

// suppressAndRecord suppresses the subject's identities in h and records the
// hashes of those new since the request's last record on it, so a retried
// erasure neither suppresses twice nor forgets one.
func (e *Eraser) suppressAndRecord(ctx context.Context, r *chat.PrivacyRequest, h *store.Holdings, who string) error {
	hashes, err := e.suppress(ctx, r, h)
	if err != nil {
		return step("suppress", err)
	}
	if len(hashes) == len(r.SubjectHashes) { // suppress only adds to them
		return nil
	}
	if err := e.Store.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, chat.PrivacyUpdate{SubjectHashes: hashes}); err != nil {
		return step("record hashes", err)
	}
	r.SubjectHashes = hashes
	return nil
}

// suppress writes a suppression entry for each identifier of the subject not
// suppressed yet (its hash not recorded on the request) and returns the
// hashes, with those recorded before, sorted.
func (e *Eraser) suppress(ctx context.Context, r *chat.PrivacyRequest, h *store.Holdings) ([]string, error) {
	ids := subjectIdentities(r.Subject, h)
	hashes := append([]string(nil), r.SubjectHashes...)
	for _, kv := range []struct {
		kind   string
		values []string
	}{{chat.SuppressEmail, ids.Emails}, {chat.SuppressContact, ids.Contacts}, {chat.SuppressChannel, ids.Channels}} {
		for _, v := range kv.values {
			hsh, err := e.Store.SubjectHash(r.TenantID, kv.kind, v)
			if err != nil {
				return nil, err
			}
			if slices.Contains(r.SubjectHashes, kv.kind+"#"+hsh) {
				continue // suppressed before its hash was recorded
			}
			if err := e.Store.Suppress(ctx, r.TenantID, kv.kind, v, r.ID); err != nil {
				return nil, err
			}
			hashes = append(hashes, kv.kind+"#"+hsh)
		}
	}
	sort.Strings(hashes)
	return slices.Compact(hashes), nil
}

// eraseRequest deletes the export file of an earlier request about the subject
// and scrubs the request's record. It returns 1 when it deleted a file.
func (e *Eraser) eraseRequest(ctx context.Context, tenantID, id string, hashes []string) (int, error) {
	old, err := e.Store.PrivacyRequest(ctx, tenantID, id)
	if errors.Is(err, chat.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	if old.Type == chat.PrivacyExport && !old.SubjectErased {
		if _, err := e.S3.DeleteObject(ctx, &s3.DeleteObjectInput{
			Bucket: aws.String(e.Bucket), Key: aws.String(ExportKey(tenantID, id))}); err != nil {
			return 0, fmt.Errorf("delete export file: %w", err)
		}
		if old.ExportKey != "" {
			n = 1
		}
	}
	first := ""
	if len(hashes) > 0 {
		first = hashes[0]
	}
	end, why := chat.PrivacyFailed, "the subject was erased by another request"
	if old.Type == chat.PrivacyErase {
		end, why = chat.PrivacyCompleted, "the subject was erased by another request"
	}
	return n, e.Store.ScrubPrivacyRequest(ctx, tenantID, id, first, end, why)
}
