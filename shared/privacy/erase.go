package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/shared/chat"
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

// Eraser is the privacy-erase function: it erases a subject everywhere and keeps
// only the tombstone and the suppression entries.
type Eraser struct {
	Store       *store.Store
	S3          ObjectStore
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
func (e *Eraser) Handle(ctx context.Context, ev Event) error {
	p := &processor{st: e.Store, function: "privacy-erase", lease: e.Lease, maxAttempts: e.MaxAttempts, log: e.Log}
	p.defaults()
	who := owner(ctx)
	r, tenant, err := p.claim(ctx, ev, store.PrivacyErase, who)
	if err != nil || r == nil {
		return err
	}
	return p.finish(ctx, tenant, r, who, e.run(ctx, p, tenant, r, who))
}

func (e *Eraser) run(ctx context.Context, p *processor, tenant *chat.Tenant, r *store.PrivacyRequest, who string) error {
	st := e.Store
	act := system(p.function)
	if err := step("audit", audit(ctx, st, tenant, act, "privacy.erase.start", r.ID, nil)); err != nil {
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
		err := st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, store.PrivacyUpdate{
			Set:    map[string]any{"status": store.PrivacyBlocked, "statusReason": reason, "completedAt": st.Now()},
			Remove: []string{"leaseOwner", "leaseUntil"},
		})
		if err != nil && err != store.ErrPrivacyLeaseLost {
			return step("block", err)
		}
		return step("audit", audit(ctx, st, tenant, act, "privacy.erase.block", r.ID, nil))
	}

	h, err := gather(ctx, st, r.TenantID, contacts, false)
	if err != nil {
		return step("gather", err)
	}

	// Suppress first: from here on the ingest paths and the archive refuse the
	// subject's identities, so nothing re-creates what is being erased.
	hashes, err := e.suppress(ctx, r, h)
	if err != nil {
		return step("suppress", err)
	}
	if err := st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, store.PrivacyUpdate{
		Set: map[string]any{"subjectHashes": hashes}}); err != nil {
		return step("record hashes", err)
	}
	r.SubjectHashes = hashes

	// Live connections are closed through the management API.
	if e.Connections != nil {
		for _, it := range h.Contacts {
			if id, ok := strings.CutPrefix(it.sk(), "CONN#"); ok && it.Table == TableData {
				if err := e.Connections.Close(ctx, id); err != nil {
					return step("close connection", err)
				}
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
	for _, it := range h.Contacts {
		id, ok := store.PrivacyRequestOfPointer(it.sk())
		if !ok || id == r.ID {
			continue
		}
		n, err := e.eraseRequest(ctx, r.TenantID, id, hashes)
		if err != nil {
			return step("erase earlier requests", err)
		}
		added["exportFiles"] += n
	}
	if added["exportFiles"] > 0 {
		if err := st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, store.PrivacyUpdate{Add: added}); err != nil {
			return step("count", err)
		}
	}

	// Conversations first (both tables), then the contact partitions that point
	// to them, the Archive's before the Data's, and in the Data one the profile
	// (its email index entry finds the subject) and the request pointers (they
	// find the earlier requests to scrub) last: whatever an attempt leaves, a
	// retry, or a new request for the same email, still finds.
	byPartition := func(items []item) []partition {
		var out []partition
		for _, it := range items {
			p := partition{it.Table, it.pk()}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out
	}
	groups := map[partition][]item{}
	for _, it := range h.all() {
		p := partition{it.Table, it.pk()}
		groups[p] = append(groups[p], it)
	}
	parts := byPartition(h.Conversations)
	for _, table := range []string{TableArchive, TableData} {
		for _, p := range byPartition(h.Contacts) {
			if p.Table == table {
				parts = append(parts, p)
			}
		}
	}
	for _, part := range parts {
		var items, keys []item
		for _, it := range groups[part] {
			_, pointer := store.PrivacyRequestOfPointer(it.sk())
			if part.Table == TableData && (it.sk() == store.SKProfile || pointer) {
				keys = append(keys, it)
			} else {
				items = append(items, it)
			}
		}
		for _, chunk := range append(chunks(items), chunks(keys)...) {
			n, err := e.deleteItems(ctx, r, who, part.Table, chunk)
			if err != nil {
				return step("delete items", err)
			}
			for k, v := range n {
				added[k] += v
			}
		}
	}

	counts := map[string]int{}
	for k, v := range r.Counts {
		counts[k] = v
	}
	for k, v := range added {
		counts[k] += v
	}
	counts["suppressions"] = len(hashes)
	now := st.Now()
	tomb, err := st.TombstonePut(r.TenantID, store.Tombstone{RequestID: r.ID, SubjectHashes: hashes, Counts: counts,
		ReceivedAt: r.ReceivedAt, CompletedAt: now})
	if err != nil {
		return step("complete", err)
	}
	err = st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, store.PrivacyUpdate{
		Set: map[string]any{"status": store.PrivacyCompleted, "completedAt": now, "subjectErased": true,
			"counts": counts},
		Remove: []string{"subject", "contactIds", "leaseOwner", "leaseUntil"},
	}, tomb)
	if err == store.ErrPrivacyLeaseLost {
		return nil
	}
	if err != nil {
		return step("complete", err)
	}
	if err := audit(ctx, st, tenant, act, "privacy.erase.complete", r.ID, counts); err != nil {
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
		if err == chat.ErrNotFound {
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

// suppress writes a suppression entry for each identifier of the subject and
// returns their hashes (with those of earlier attempts), sorted.
func (e *Eraser) suppress(ctx context.Context, r *store.PrivacyRequest, h *holdings) ([]string, error) {
	ids := subjectIdentities(r.Subject, h)
	hashes := append([]string(nil), r.SubjectHashes...)
	for _, kv := range []struct {
		kind   string
		values []string
	}{{store.SuppressEmail, ids.Emails}, {store.SuppressContact, ids.Contacts}, {store.SuppressChannel, ids.Channels}} {
		for _, v := range kv.values {
			if err := e.Store.Suppress(ctx, r.TenantID, kv.kind, v, r.ID); err != nil {
				return nil, err
			}
			hsh, err := e.Store.SubjectHash(r.TenantID, kv.kind, v)
			if err != nil {
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
	if err == chat.ErrNotFound {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	if old.Type == store.PrivacyExport && !old.SubjectErased {
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
	end, why := store.PrivacyFailed, "the subject was erased by another request"
	if old.Type == store.PrivacyErase {
		end, why = store.PrivacyCompleted, "the subject was erased by another request"
	}
	return n, e.Store.ScrubPrivacyRequest(ctx, tenantID, id, first, end, why)
}

// maxChunk is the most items deleteItems deletes at once: a transaction holds
// 100 writes, one of them the request's counts.
const maxChunk = 99

// chunks splits items into groups deleteItems takes.
func chunks(items []item) [][]item {
	var out [][]item
	for start := 0; start < len(items); start += maxChunk {
		out = append(out, items[start:min(start+maxChunk, len(items))])
	}
	return out
}

// deleteItems deletes items of one table and adds them to the request's counts
// in one transaction, only while who holds the request: an attempt that fails
// either deleted and counted them or did neither, so the counts of a request
// that needed several attempts are exact, and an attempt that lost its lease
// deletes nothing more. It returns the counts it added.
func (e *Eraser) deleteItems(ctx context.Context, r *store.PrivacyRequest, who, table string, items []item) (map[string]int, error) {
	name := e.Store.DataTable()
	if table == TableArchive {
		name = e.Store.ArchiveTable()
	}
	n := map[string]int{table + "Items": len(items)}
	deletes := make([]types.TransactWriteItem, 0, len(items))
	for _, it := range items {
		if it.sk() == store.SKMeta && table == TableData {
			n["conversations"]++
		}
		if strings.HasPrefix(it.sk(), "CONN#") {
			n["connections"]++
		}
		if it.sk() == store.SKProfile && table == TableData {
			n["contacts"]++
		}
		deletes = append(deletes, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(name), Key: store.Key(it.pk(), it.sk())}})
	}
	if err := e.Store.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, store.PrivacyUpdate{Add: n}, deletes...); err != nil {
		return nil, fmt.Errorf("delete and count: %w", err)
	}
	return n, nil
}
