package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Audit events live in one partition per tenant, sorted by time:
//
//	audit event     T#t#AUDIT                 EVT#<time>#<eventId>    -                                     -
//
// An event says who (key id and role), what (action and target ids) and when. It
// never holds message text or personal data: targets are ids only.
const prefAudit = "EVT#"

// AuditPK is the partition of a tenant's audit events.
func AuditPK(tenantID string) string { return TenantPrefix(tenantID) + "AUDIT" }

// AuditEvent is one entry of a tenant's audit trail.
type AuditEvent struct {
	ID        string            `dynamodbav:"id" json:"id"`
	TenantID  string            `dynamodbav:"tenantId" json:"-"`
	At        time.Time         `dynamodbav:"at" json:"at"`
	ActorKey  string            `dynamodbav:"actorKeyId" json:"actorKeyId"`
	ActorRole string            `dynamodbav:"actorRole" json:"actorRole"`
	Action    string            `dynamodbav:"action" json:"action"`
	Targets   map[string]string `dynamodbav:"targets,omitempty" json:"targets,omitempty"`
	RequestID string            `dynamodbav:"requestId,omitempty" json:"requestId,omitempty"`
}

type auditItem struct {
	Base
	AuditEvent
}

// PutAuditEvent writes an audit event; it is technical data and expires after
// the tenant's technical period.
func (s *Store) PutAuditEvent(ctx context.Context, e *AuditEvent, p retention.Periods) error {
	item, err := attributevalue.MarshalMap(auditItem{
		Base: Base{PK: AuditPK(e.TenantID), SK: prefAudit + TimeKey(e.At) + "#" + e.ID,
			DataClass: retention.Technical, Entity: "auditEvent",
			ExpiresAt: retention.ExpiresAt(p, retention.Technical, e.At)},
		AuditEvent: *e,
	})
	if err != nil {
		return wrap("marshal audit event", err)
	}
	created, err := s.putNew(ctx, item)
	if err == nil && !created {
		return chat.Errorf(chat.EConflict, "audit event exists")
	}
	return wrap("put audit event", err)
}

// AuditEvents lists one page of a tenant's audit events, newest first, from
// cursor ("" for the first page), and returns the cursor of the next page (""
// at the end). A cursor that is not of this list is ErrBadPageCursor.
func (s *Store) AuditEvents(ctx context.Context, tenantID string, limit int, cursor string) ([]AuditEvent, string, error) {
	l := auditPages(tenantID)
	start, err := l.startKey(cursor)
	if err != nil {
		return nil, "", err
	}
	var items []auditItem
	lek, err := s.queryPage(ctx, AuditPK(tenantID), prefAudit, true, limit, start, &items)
	if err != nil {
		return nil, "", wrap("query audit events", err)
	}
	next, err := l.cursor(lek)
	if err != nil {
		return nil, "", wrap("audit events", err)
	}
	out := make([]AuditEvent, len(items))
	for i, it := range items {
		out[i] = it.AuditEvent
		out[i].TenantID = tenantID
	}
	return out, next, nil
}
