package store

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// SubjectItems lists every item about a contact in both tables: its partition
// (profile, connections, conversation pointers, page views, devices) and the
// partitions of each of its conversations (meta, messages, dedupe markers), in
// the Data table and in the Archive table. Everything is found by Query.
func (s *Store) SubjectItems(ctx context.Context, tenantID, contactID string) ([]Entry, error) {
	var out []Entry
	convs := map[string]bool{}
	for _, table := range []string{s.data, s.archive} {
		es, err := s.partitionEntries(ctx, table, ContactPK(tenantID, contactID), "")
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			out = append(out, e)
			if id, ok := strings.CutPrefix(e.Ref.sk, prefConv); ok {
				convs[id] = true
			}
			if table == s.data && strings.HasPrefix(e.Ref.sk, prefContactUser) {
				// The channel user's lookup, which the contact's item names.
				users, err := s.partitionEntries(ctx, table, TenantPrefix(tenantID)+e.Ref.sk, "")
				if err != nil {
					return nil, err
				}
				out = append(out, users...)
			}
		}
	}
	for id := range convs {
		for _, table := range []string{s.data, s.archive} {
			es, err := s.partitionEntries(ctx, table, ConversationPK(tenantID, id), "")
			if err != nil {
				return nil, err
			}
			out = append(out, es...)
		}
	}
	return out, nil
}

// holdable reports whether a legal hold keeps an item: everything about the
// subject except live-session bookkeeping (WebSocket connection records), which
// $disconnect deletes and whose short TTL only cleans up missed disconnects,
// and rate-limit counters (ratelimit.go), which record only a count.
func holdable(pk, sk string) bool { return !strings.HasPrefix(sk, prefConn) && !isRatePK(pk) }

// SetContactHold sets or clears the legal hold flag of a live contact (a
// missing, expired or foreign one is chat.ErrNotFound). Setting it also removes
// the profile's expiresAt at once, so nothing can delete the profile after the
// flag is set; it reports whether the profile had one. The subject's other
// items are the caller's (legalhold).
func (s *Store) SetContactHold(ctx context.Context, tenantID, contactID string, hold bool) (bool, error) {
	expr := "SET #h = :h"
	if hold {
		expr += " REMOVE expiresAt"
	}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(ContactPK(tenantID, contactID), SKProfile),
		UpdateExpression:         aws.String(expr),
		ConditionExpression:      aws.String("attribute_exists(PK) AND (" + LiveFilter + ")"),
		ExpressionAttributeNames: map[string]string{"#h": attrName(chat.Contact{}, "LegalHold")},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":h": &types.AttributeValueMemberBOOL{Value: hold}, ":now": s.nowValue(),
		},
		ReturnValues: types.ReturnValueUpdatedOld,
	})
	if isConditionFailed(err) {
		return false, chat.ErrNotFound
	}
	if err != nil {
		return false, wrap("set contact legal hold", err)
	}
	_, had := res.Attributes["expiresAt"]
	return hold && had, nil
}

// SetTenantHold sets or clears a tenant-wide legal hold on the tenant profile:
// held, the profile has no expiresAt and every write under the tenant's periods
// stamps none; lifted, the profile gets its account expiresAt back.
func (s *Store) SetTenantHold(ctx context.Context, tenantID string, hold bool) error {
	rec, err := s.TenantRecord(ctx, tenantID)
	if err != nil {
		return err
	}
	vals := map[string]types.AttributeValue{":h": &types.AttributeValueMemberBOOL{Value: hold}}
	expr := "SET #h = :h REMOVE expiresAt"
	if !hold {
		t := rec.Tenant
		t.LegalHold = false
		expr = "SET #h = :h, expiresAt = :exp"
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(retention.TenantExpiresAt(t.Periods(), t.ClosedAt, s.Now()))}
	}
	_, err = s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#h": attrName(chat.Tenant{}, "LegalHold")},
		ExpressionAttributeValues: vals,
	}))
	if isConditionFailed(err) {
		return chat.ErrNotFound
	}
	return wrap("set tenant legal hold", err)
}

// RestoredExpiry is the expiresAt an item gets back when a legal hold is lifted,
// recomputed with retention.ExpiresAt from the item's own basis under p: its
// last activity (index position), creation (message and page view keys, dedupe
// markers' message), the creation of its conversation (pointers, createdOf) or
// its connection time. Archived items get the archive period counted from when
// they left the hot table. It may lie in the past: the item then expires as
// normal (hidden at once, removed by TTL, archived if its class is).
func (s *Store) RestoredExpiry(p retention.Periods, e Entry, createdOf map[string]time.Time) int64 {
	p.Held = false
	if e.Archived {
		if hot, err := parseInt(e.attrs["hotExpiresAt"]); err == nil && hot > 0 {
			return ArchiveExpiry(p, hot)
		}
		return s.Now().Add(p.ArchivePeriod()).Unix()
	}
	switch {
	case e.Entity == "conversationPointer":
		if c, ok := createdOf[e.ConversationID]; ok {
			return retention.ExpiresAt(p, retention.Communication, c)
		}
	case strings.HasPrefix(e.Ref.sk, prefConn):
		if c, err := time.Parse(time.RFC3339Nano, firstOf(e.attrs, "connectedAt", "ConnectedAt")); err == nil {
			return c.Add(retention.ConnectionTTL).Unix()
		}
	case e.Entity == "tenant":
		return retention.TenantExpiresAt(p, nil, s.Now())
	}
	class := e.Class
	if !class.Valid() {
		class = retention.Technical
	}
	if e.Basis.IsZero() {
		return retention.ExpiresAt(p, class, s.Now())
	}
	return retention.ExpiresAt(p, class, e.Basis)
}
