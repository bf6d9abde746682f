package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/retention"
)

// The retention operations below are entity-agnostic: they read items through
// the retention index (GSI2) or by partition, with only the attributes retention
// needs, and change an item's expiresAt or delete it under conditions that make
// them safe to repeat and to race (a sweep never extends an expiry, never
// touches an item on legal hold, and never deletes an item whose basis moved).

// Entry is an item as retention sees it.
type Entry struct {
	PK, SK    string
	GSI2PK    string
	GSI2SK    string
	Class     retention.Class
	Entity    string
	ExpiresAt int64 // 0: on legal hold
	// Basis is the time the item's retention counts from (its last activity),
	// when the keys say it; zero otherwise.
	Basis time.Time
	// Attrs holds the other projected attributes, as strings.
	Attrs map[string]string
}

// Held reports whether the item has no expiresAt (legal hold).
func (e Entry) Held() bool { return e.ExpiresAt == 0 }

// CreatedAt is the createdAt attribute of the item, as stored ("" if none).
func (e Entry) CreatedAt() string { return firstOf(e.Attrs, "createdAt", "CreatedAt") }

// ContactID is the contact the item names ("" if none).
func (e Entry) ContactID() string { return firstOf(e.Attrs, "contactId", "ContactID") }

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// IndexKey is the retention index position of an entry, usable as a cursor.
func (e Entry) IndexKey() map[string]string {
	return map[string]string{"PK": e.PK, "SK": e.SK, "GSI2PK": e.GSI2PK, "GSI2SK": e.GSI2SK}
}

// PointerSK is the sort key of a conversation's pointer under its contact.
func PointerSK(convID string) string { return prefConv + convID }

// Months lists the first instants of the months from the month of from to the
// month of to, inclusive: the retention index partitions covering [from, to].
func Months(from, to time.Time) []time.Time {
	from, to = from.UTC(), to.UTC()
	var out []time.Time
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(to); m = m.AddDate(0, 1, 0) {
		out = append(out, m)
	}
	return out
}

// RetentionPage reads up to limit entries of the tenant's class in the retention
// index partition of month, with basis at or after from, in time order, starting
// after the cursor after (nil at the start). It returns the cursor of the next
// page, or nil at the partition's end. Only the index is read: its cost follows
// the entries returned, not the table.
func (s *Store) RetentionPage(ctx context.Context, tenantID string, class retention.Class, month, from time.Time, after map[string]string, limit int) ([]Entry, map[string]string, error) {
	return s.retentionPage(ctx, s.data, RetentionKey(tenantID, string(class), month), from, after, limit)
}

// ArchivePage is RetentionPage over the Archive table's retention index, whose
// partitions are by the month the items left the hot table.
func (s *Store) ArchivePage(ctx context.Context, tenantID string, month, from time.Time, after map[string]string, limit int) ([]Entry, map[string]string, error) {
	return s.retentionPage(ctx, s.archive, RetentionKey(tenantID, ArchiveClass, month), from, after, limit)
}

func (s *Store) retentionPage(ctx context.Context, table, gsi2pk string, from time.Time, after map[string]string, limit int) ([]Entry, map[string]string, error) {
	in := &dynamodb.QueryInput{
		TableName: aws.String(table), IndexName: aws.String("GSI2"),
		KeyConditionExpression: aws.String("GSI2PK = :pk AND GSI2SK >= :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   &types.AttributeValueMemberS{Value: gsi2pk},
			":from": &types.AttributeValueMemberS{Value: TimeKey(from)},
		},
		Limit: aws.Int32(int32(limit)),
	}
	if after != nil {
		in.ExclusiveStartKey = stringKey(after)
	}
	res, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, nil, wrap("query retention index", err)
	}
	out := make([]Entry, 0, len(res.Items))
	for _, it := range res.Items {
		out = append(out, entryOf(it))
	}
	var next map[string]string
	if res.LastEvaluatedKey != nil {
		next = map[string]string{}
		for k, v := range res.LastEvaluatedKey {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				next[k] = sv.Value
			}
		}
	}
	return out, next, nil
}

// PartitionEntries reads every item of partition pk in table (the Data or the
// Archive table) whose sort key starts with prefix ("" for all), with the
// attributes retention needs.
func (s *Store) PartitionEntries(ctx context.Context, table, pk, prefix string) ([]Entry, error) {
	cond := "PK = :pk"
	vals := map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}
	if prefix != "" {
		cond += " AND begins_with(SK, :p)"
		vals[":p"] = &types.AttributeValueMemberS{Value: prefix}
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(table), KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
		ProjectionExpression: aws.String("PK, SK, GSI2PK, GSI2SK, dataClass, entity, expiresAt, hotExpiresAt, " +
			"messageSk, conversationId, contactId, ContactID, createdAt, CreatedAt, connectedAt, ConnectedAt"),
	})
	var out []Entry
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("query partition", err)
		}
		for _, it := range res.Items {
			out = append(out, entryOf(it))
		}
	}
	return out, nil
}

// SetExpiry shortens the expiresAt of an item to exp: only if it has one (not on
// legal hold) that is later, and, when gsi2sk is given, only if its retention
// basis has not moved since it was read. It reports whether the item now has
// exp because of this call (a retried call whose first attempt wrote counts).
func (s *Store) SetExpiry(ctx context.Context, table, pk, sk string, exp int64, gsi2sk string) (bool, error) {
	cond := "attribute_exists(expiresAt) AND expiresAt > :exp"
	vals := map[string]types.AttributeValue{":exp": &types.AttributeValueMemberN{Value: itoa(exp)}}
	if gsi2sk != "" {
		cond += " AND GSI2SK = :g2sk"
		vals[":g2sk"] = &types.AttributeValueMemberS{Value: gsi2sk}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: key(pk, sk), UpdateExpression: aws.String("SET expiresAt = :exp"),
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		// Already at exp: an earlier attempt whose answer was lost (the SDK
		// retried) made this change.
		n, ok := cf.Item["expiresAt"].(*types.AttributeValueMemberN)
		return ok && n.Value == itoa(exp), nil
	}
	return err == nil, wrap("set expiry", err)
}

// DeleteExpiring deletes an item of the Data table that is past its retention:
// only if it is not on legal hold and, when gsi2sk is given, its retention basis
// has not moved since it was read. It reports whether the item is gone.
func (s *Store) DeleteExpiring(ctx context.Context, pk, sk, gsi2sk string) (bool, error) {
	return s.DeleteExpiringIn(ctx, s.data, pk, sk, gsi2sk)
}

// DeleteExpiringIn is DeleteExpiring in either table.
func (s *Store) DeleteExpiringIn(ctx context.Context, table, pk, sk, gsi2sk string) (bool, error) {
	cond := "attribute_exists(expiresAt)"
	var vals map[string]types.AttributeValue
	if gsi2sk != "" {
		cond += " AND GSI2SK = :g2sk"
		vals = map[string]types.AttributeValue{":g2sk": &types.AttributeValueMemberS{Value: gsi2sk}}
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(pk, sk),
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		// Gone: an earlier attempt whose answer was lost (the SDK retried)
		// deleted it, or TTL did. Present: held, or its basis moved.
		return cf.Item == nil, nil
	}
	return err == nil, wrap("delete expiring item", err)
}

// HoldItem removes the expiresAt of an item (legal hold). It reports whether the
// item is held because of this call (callers pass items that had an expiresAt;
// a retried call whose first attempt wrote counts).
func (s *Store) HoldItem(ctx context.Context, table, pk, sk string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: key(pk, sk), UpdateExpression: aws.String("REMOVE expiresAt"),
		ConditionExpression:                 aws.String("attribute_exists(expiresAt)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return cf.Item != nil, nil // present without expiresAt: held
	}
	return err == nil, wrap("hold item", err)
}

// ReleaseItem gives an item on legal hold its expiresAt back. It reports whether
// the item has exp because of this call (an item that already had another
// expiresAt is left alone).
func (s *Store) ReleaseItem(ctx context.Context, table, pk, sk string, exp int64) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: key(pk, sk), UpdateExpression: aws.String("SET expiresAt = :exp"),
		ConditionExpression:                 aws.String("attribute_exists(PK) AND attribute_not_exists(expiresAt)"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":exp": &types.AttributeValueMemberN{Value: itoa(exp)}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		n, ok := cf.Item["expiresAt"].(*types.AttributeValueMemberN)
		return ok && n.Value == itoa(exp), nil
	}
	return err == nil, wrap("release item", err)
}

func stringKey(m map[string]string) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = &types.AttributeValueMemberS{Value: v}
	}
	return out
}

func entryOf(it map[string]types.AttributeValue) Entry {
	e := Entry{Attrs: map[string]string{}}
	for k, v := range it {
		var s string
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			s = x.Value
		case *types.AttributeValueMemberN:
			s = x.Value
		default:
			continue
		}
		switch k {
		case "PK":
			e.PK = s
		case "SK":
			e.SK = s
		case "GSI2PK":
			e.GSI2PK = s
		case "GSI2SK":
			e.GSI2SK = s
		case "dataClass":
			e.Class = retention.Class(s)
		case "entity":
			e.Entity = s
		case "expiresAt":
			e.ExpiresAt, _ = strconv.ParseInt(s, 10, 64)
		default:
			e.Attrs[k] = s
		}
	}
	e.Basis = basisOf(e)
	return e
}

// basisOf reads the retention basis of an item from its keys: the time of its
// retention index position, or the time in its sort key (messages, page views),
// or in the message key of a dedupe marker.
func basisOf(e Entry) time.Time {
	if t, ok := keyTime(e.GSI2SK); ok && !strings.HasPrefix(e.GSI2PK, TenantPrefix(PlatformID)) {
		return t
	}
	for _, pre := range []string{prefMsg, prefPageView} {
		if rest, ok := strings.CutPrefix(e.SK, pre); ok {
			if t, ok := keyTime(rest); ok {
				return t
			}
		}
	}
	if rest, ok := strings.CutPrefix(e.Attrs["messageSk"], prefMsg); ok {
		if t, ok := keyTime(rest); ok {
			return t
		}
	}
	return time.Time{}
}

// keyTime parses the fixed-width time at the start of a key.
func keyTime(s string) (time.Time, bool) {
	n := len(TimeKey(time.Time{}))
	if len(s) < n {
		return time.Time{}, false
	}
	t, err := time.Parse(timeKey, s[:n])
	return t, err == nil
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
