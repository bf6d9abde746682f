// Package archive is the logic of the archive function. It reads REMOVE records
// of the Data table's stream and copies the items that DynamoDB's TTL removed
// (never a user's delete) and whose class is archived (communication) into the
// Archive table, where they live for the archive period. Subjects that have been
// erased are skipped; items of a subject or tenant on legal hold are put back
// into the Data table without expiresAt instead, so held data is never lost.
package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// TTL deletes show in stream records with this user identity.
const (
	ttlIdentityType = "Service"
	ttlPrincipal    = "dynamodb.amazonaws.com"
)

// Suppressions tells whether a subject has been erased: privacy-erase writes the
// entries (hashed with the subject key), the store reads them.
type Suppressions interface {
	IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error)
}

var _ Suppressions = (*store.Store)(nil)

// Store is what the archive needs of the store.
type Store interface {
	TenantRecord(ctx context.Context, tenantID string) (*chat.TenantRecord, error)
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	ArchiveItem(ctx context.Context, item *store.RemovedItem, expiresAt int64) (bool, error)
	RestoreHeld(ctx context.Context, item *store.RemovedItem) error
	ConversationContact(ctx context.Context, tenantID, convID string) (string, error)
	ForgetOpenConversation(ctx context.Context, tenantID, contactID, convID string) error
}

var _ Store = (*store.Store)(nil)

// Deps are what the archive handler is built from; production passes the
// store for both Store and Suppressions.
type Deps struct {
	Store        Store
	Suppressions Suppressions
	Log          *slog.Logger
}

// Handler archives TTL removals.
type Handler struct {
	store Store
	supp  Suppressions
	log   *slog.Logger
}

// New returns a Handler.
func New(d Deps) *Handler {
	return &Handler{store: d.Store, supp: d.Suppressions, log: d.Log}
}

// Outcome says what became of one stream record.
type Outcome string

// Outcomes of a record.
const (
	Skipped    Outcome = "skipped"    // not a TTL removal, or a class that is not archived
	Archived   Outcome = "archived"   // copied to the Archive table
	Duplicate  Outcome = "duplicate"  // already archived (redelivery)
	Suppressed Outcome = "suppressed" // subject erased: not archived
	Restored   Outcome = "restored"   // subject or tenant on legal hold: put back
)

// IsTTLRemoval reports whether a stream record is a removal made by DynamoDB's
// TTL, not by a user or a function.
func IsTTLRemoval(r events.DynamoDBEventRecord) bool {
	return r.EventName == string(events.DynamoDBOperationTypeRemove) && r.UserIdentity != nil &&
		r.UserIdentity.Type == ttlIdentityType && r.UserIdentity.PrincipalID == ttlPrincipal
}

// Handle processes a batch and reports the records that failed, so the event
// source retries from the first of them (ReportBatchItemFailures).
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	counts := map[Outcome]int{}
	b := &batch{h: h, tenants: map[string]*chat.TenantRecord{}, held: map[string]bool{}}
	for _, r := range ev.Records {
		out, err := b.record(ctx, r)
		if err != nil {
			h.log.ErrorContext(ctx, "archive record failed", "eventId", r.EventID, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			continue
		}
		counts[out]++
	}
	h.log.InfoContext(ctx, "archive batch", "records", len(ev.Records), "archived", counts[Archived],
		"duplicate", counts[Duplicate], "suppressed", counts[Suppressed], "restored", counts[Restored],
		"skipped", counts[Skipped], "failed", len(resp.BatchItemFailures))
	return resp, nil
}

// batch caches tenants and holds within one batch.
type batch struct {
	h       *Handler
	tenants map[string]*chat.TenantRecord
	held    map[string]bool
}

func (b *batch) record(ctx context.Context, r events.DynamoDBEventRecord) (Outcome, error) {
	if !IsTTLRemoval(r) {
		return Skipped, nil
	}
	item, err := store.RemovedFromStream(r.Change.OldImage)
	if err != nil {
		return "", fmt.Errorf("decode old image: %w", err)
	}
	tenantID := item.TenantID
	if tenantID == "" {
		return Skipped, nil
	}
	tenant, err := b.tenant(ctx, tenantID)
	if err != nil {
		return "", err
	}
	contactID, err := b.subject(ctx, item)
	if err != nil {
		return "", err
	}
	held := tenant != nil && tenant.Tenant.LegalHold
	if !held && contactID != "" {
		if held, err = b.contactHeld(ctx, tenantID, contactID); err != nil {
			return "", err
		}
	}
	if held && item.Holdable {
		if err := b.h.store.RestoreHeld(ctx, item); err != nil {
			return "", err
		}
		return Restored, nil
	}
	if item.Entity == "conversation" && contactID != "" && item.ConversationID != "" {
		// An expired conversation is no longer the contact's open one.
		if err := b.h.store.ForgetOpenConversation(ctx, tenantID, contactID, item.ConversationID); err != nil {
			return "", err
		}
	}
	if !retention.Archived(item.Class) || item.Entity == store.EntitySummary {
		// A conversation's summary only repeats its last message, which is
		// archived itself.
		return Skipped, nil
	}
	if contactID != "" {
		erased, err := b.h.supp.IsSuppressed(ctx, tenantID, chat.SuppressContact, contactID)
		if err != nil {
			return "", fmt.Errorf("check suppression: %w", err)
		}
		if erased {
			return Suppressed, nil
		}
	}
	p := retention.Defaults
	if tenant != nil {
		p = tenant.Tenant.Periods()
		p.Held = false
	}
	hot := item.ExpiresAt
	if hot == 0 { // TTL only removes items with an expiresAt; be safe anyway
		hot = r.Change.ApproximateCreationDateTime.Unix()
	}
	wrote, err := b.h.store.ArchiveItem(ctx, item, store.ArchiveExpiry(p, hot))
	if err != nil {
		return "", err
	}
	if !wrote {
		return Duplicate, nil
	}
	return Archived, nil
}

func (b *batch) tenant(ctx context.Context, tenantID string) (*chat.TenantRecord, error) {
	if t, ok := b.tenants[tenantID]; ok {
		return t, nil
	}
	t, err := b.h.store.TenantRecord(ctx, tenantID)
	if errors.Is(err, chat.ErrNotFound) {
		t, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.tenants[tenantID] = t
	return t, nil
}

func (b *batch) contactHeld(ctx context.Context, tenantID, contactID string) (bool, error) {
	k := tenantID + "/" + contactID
	if h, ok := b.held[k]; ok {
		return h, nil
	}
	c, err := b.h.store.Contact(ctx, tenantID, contactID)
	if errors.Is(err, chat.ErrNotFound) {
		b.held[k] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b.held[k] = c.LegalHold
	return c.LegalHold, nil
}

// subject returns the contact an item is about: the contact of its partition, its
// contactId attribute, or the contact of its conversation.
func (b *batch) subject(ctx context.Context, item *store.RemovedItem) (string, error) {
	if item.ContactID != "" || item.ConversationID == "" {
		return item.ContactID, nil
	}
	return b.h.store.ConversationContact(ctx, item.TenantID, item.ConversationID)
}
