package store

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Audit events live in AuditShards partitions per tenant (write shards, see
// shard.go: an event's shard is its id's), sorted by time:
//
//	audit event     T#t#AUDIT[#n]             EVT#<time>#<eventId>    -                                     -
//
// Listing them merges the shards, newest first.
// An event says who (key id and role), what (action and target ids) and when. It
// never holds message text or personal data: targets are ids only.
const prefAudit = "EVT#"

// AuditPK is the partition of a tenant's audit event eventID.
func AuditPK(tenantID, eventID string) string {
	return ShardKey(auditKey(tenantID), Shard(eventID, AuditShards))
}

// AuditPartitions are the partitions of all of a tenant's audit shards.
func AuditPartitions(tenantID string) []string { return shardKeys(auditKey(tenantID), AuditShards) }

// auditKey is shard 0 of a tenant's audit trail: its partition before sharding.
func auditKey(tenantID string) string { return TenantPrefix(tenantID) + "AUDIT" }

// auditRecord is an audit event as stored.
type auditRecord struct {
	ID        string            `dynamodbav:"id"`
	TenantID  string            `dynamodbav:"tenantId"`
	At        time.Time         `dynamodbav:"at"`
	ActorKey  string            `dynamodbav:"actorKeyId"`
	ActorRole string            `dynamodbav:"actorRole"`
	Action    string            `dynamodbav:"action"`
	Targets   map[string]string `dynamodbav:"targets,omitempty"`
	RequestID string            `dynamodbav:"requestId,omitempty"`
}

type auditItem struct {
	Base
	auditRecord
}

// complianceActions are the prefixes of the audit actions that record how the
// platform honoured privacy rights and legal duties: privacy requests and
// their processing, privacy settings and suppression lifts, legal holds, and
// the closing of accounts. They are kept as long as the records they account
// for (tombstones, suppression entries: 1,095 days), whatever the tenant's
// technical period; every other audit event is technical data.
var complianceActions = []string{"privacy.", "contact.legalHold.", "tenant.legalHold.", "tenant.close", "tenant.reopen"}

// ComplianceAudit reports whether an audit action is a compliance record.
func ComplianceAudit(action string) bool {
	for _, p := range complianceActions {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// auditRetention is an audit event's data class and expiresAt: a compliance
// record is kept as the tombstones and requests it accounts for (personal,
// the compliance period); any other event is technical data (the tenant's
// technical period, none while the tenant is on legal hold).
func auditRetention(e *chat.AuditEvent, p retention.Periods) (retention.Class, int64) {
	if ComplianceAudit(e.Action) {
		return retention.Personal, complianceExpiresAt(e.At)
	}
	return retention.Technical, retention.ExpiresAt(p, retention.Technical, e.At)
}

// PutAuditEvent writes an audit event: a compliance record (ComplianceAudit)
// lasts as long as the tombstones it accounts for; any other event is
// technical data and expires after the tenant's technical period.
func (s *Store) PutAuditEvent(ctx context.Context, e *chat.AuditEvent, p retention.Periods) error {
	class, exp := auditRetention(e, p)
	item, err := attributevalue.MarshalMap(auditItem{
		Base: Base{PK: AuditPK(e.TenantID, e.ID), SK: prefAudit + TimeKey(e.At) + "#" + e.ID,
			DataClass: class, Entity: "auditEvent", ExpiresAt: exp},
		auditRecord: auditRecord{ID: e.ID, TenantID: e.TenantID, At: e.At, ActorKey: e.ActorKey, ActorRole: e.ActorRole,
			Action: e.Action, Targets: e.Targets, RequestID: e.RequestID},
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
func (s *Store) AuditEvents(ctx context.Context, tenantID string, limit int, cursor string) ([]chat.AuditEvent, string, error) {
	l := auditPages(tenantID)
	after, err := l.after(cursor)
	if err != nil {
		return nil, "", err
	}
	raw, last, err := s.mergedPage(ctx, mergedList{pkAttr: "PK", skAttr: "SK", prefix: prefAudit,
		parts: AuditPartitions(tenantID)}, limit, after)
	if err != nil {
		return nil, "", wrap("query audit events", err)
	}
	var items []auditItem
	if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
		return nil, "", wrap("unmarshal audit events", err)
	}
	next, err := l.cursorAt(last)
	if err != nil {
		return nil, "", wrap("audit events", err)
	}
	out := make([]chat.AuditEvent, len(items))
	for i, it := range items {
		r := it.auditRecord
		out[i] = chat.AuditEvent{ID: r.ID, TenantID: tenantID, At: r.At, ActorKey: r.ActorKey, ActorRole: r.ActorRole,
			Action: r.Action, Targets: r.Targets, RequestID: r.RequestID}
	}
	return out, next, nil
}
