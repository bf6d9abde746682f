// Package archive is the logic of the archive function. It reads REMOVE records
// of the Data table's stream and copies the items that DynamoDB's TTL removed
// (never a user's delete) and whose class is archived (communication) into the
// Archive table, where they live for the archive period. Subjects that have been
// erased are skipped; items of a subject or tenant on legal hold are put back
// into the Data table without expiresAt instead, so held data is never lost.
package archive

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	TenantRecord(ctx context.Context, tenantID string) (*store.TenantRecord, error)
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	ArchiveItem(ctx context.Context, item map[string]types.AttributeValue, expiresAt int64) (bool, error)
	RestoreHeld(ctx context.Context, item map[string]types.AttributeValue) error
	ConversationContact(ctx context.Context, tenantID, convID string) (string, error)
	ForgetOpenConversation(ctx context.Context, tenantID, contactID, convID string) error
}

var _ Store = (*store.Store)(nil)

// Handler archives TTL removals.
type Handler struct {
	store Store
	supp  Suppressions
	log   *slog.Logger
}

// New returns a Handler.
func New(st Store, supp Suppressions, log *slog.Logger) *Handler {
	return &Handler{store: st, supp: supp, log: log}
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
	b := &batch{h: h, tenants: map[string]*store.TenantRecord{}, held: map[string]bool{}}
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
	tenants map[string]*store.TenantRecord
	held    map[string]bool
}

func (b *batch) record(ctx context.Context, r events.DynamoDBEventRecord) (Outcome, error) {
	if !IsTTLRemoval(r) {
		return Skipped, nil
	}
	item, err := store.FromStreamImage(r.Change.OldImage)
	if err != nil {
		return "", fmt.Errorf("decode old image: %w", err)
	}
	pk := str(item["PK"])
	tenantID := store.TenantOfKey(pk)
	if tenantID == "" || tenantID == store.PlatformID {
		return Skipped, nil
	}
	class := retention.Class(str(item["dataClass"]))
	tenant, err := b.tenant(ctx, tenantID)
	if err != nil {
		return "", err
	}
	contactID, err := b.subject(ctx, tenantID, item)
	if err != nil {
		return "", err
	}
	held := tenant != nil && tenant.Tenant.LegalHold
	if !held && contactID != "" {
		if held, err = b.contactHeld(ctx, tenantID, contactID); err != nil {
			return "", err
		}
	}
	if held && store.Holdable(pk, str(item["SK"])) {
		if err := b.h.store.RestoreHeld(ctx, item); err != nil {
			return "", err
		}
		return Restored, nil
	}
	if str(item["entity"]) == "conversation" && contactID != "" {
		// An expired conversation is no longer the contact's open one.
		conv := strings.TrimPrefix(pk, store.ConversationPK(tenantID, ""))
		if err := b.h.store.ForgetOpenConversation(ctx, tenantID, contactID, conv); err != nil {
			return "", err
		}
	}
	if !retention.Archived(class) {
		return Skipped, nil
	}
	if contactID != "" {
		erased, err := b.h.supp.IsSuppressed(ctx, tenantID, store.SuppressContact, contactID)
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
	hot, _ := strconv.ParseInt(num(item["expiresAt"]), 10, 64)
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

func (b *batch) tenant(ctx context.Context, tenantID string) (*store.TenantRecord, error) {
	if t, ok := b.tenants[tenantID]; ok {
		return t, nil
	}
	t, err := b.h.store.TenantRecord(ctx, tenantID)
	if err == chat.ErrNotFound {
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
	if err == chat.ErrNotFound {
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
func (b *batch) subject(ctx context.Context, tenantID string, item map[string]types.AttributeValue) (string, error) {
	pk := str(item["PK"])
	rest := strings.TrimPrefix(pk, store.TenantPrefix(tenantID))
	if id, ok := strings.CutPrefix(rest, "CONTACT#"); ok {
		return id, nil
	}
	for _, a := range []string{"contactId", "ContactID"} {
		if v := str(item[a]); v != "" {
			return v, nil
		}
	}
	if conv, ok := strings.CutPrefix(rest, "CONV#"); ok {
		return b.h.store.ConversationContact(ctx, tenantID, conv)
	}
	return "", nil
}

func str(v types.AttributeValue) string {
	var s string
	if v != nil {
		_ = attributevalue.Unmarshal(v, &s)
	}
	return s
}

func num(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}
