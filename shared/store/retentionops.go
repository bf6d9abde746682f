package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// ItemRef names one stored item (its table and keys) for the retention
// operations. It is opaque outside store and comparable, so it can key a map.
type ItemRef struct {
	table          string
	pk, sk         string
	gsi2pk, gsi2sk string // the retention index position it was read at; "" when read by partition
}

// AnyBasis returns the reference without the condition that the item's
// retention basis has not moved since it was read (as if read by partition).
func (r ItemRef) AnyBasis() ItemRef {
	r.gsi2pk, r.gsi2sk = "", ""
	return r
}

// String describes the reference for test failures and debugging.
func (r ItemRef) String() string { return r.table + "|" + r.pk + "|" + r.sk }

// Entry is an item as retention sees it: a reference to it and the domain
// facts the store reads from its keys and attributes.
type Entry struct {
	Ref       ItemRef
	Class     retention.Class
	Entity    string
	ExpiresAt int64 // 0: on legal hold
	// Basis is the time the item's retention counts from (its last activity),
	// when the keys say it; zero otherwise.
	Basis time.Time
	// ContactID is the contact whose partition holds the item, else the
	// contact the item names ("" if none).
	ContactID string
	// ConversationID is the conversation whose partition holds the item, or
	// the one a conversation pointer names ("" if none).
	ConversationID string
	// CreatedAt is the item's creation time, when it records one.
	CreatedAt time.Time
	// Holdable is whether a legal hold keeps the item (see holdable).
	Holdable bool
	// Archived is whether the item is in the Archive table.
	Archived bool
	// attrs holds the other projected attributes, as strings.
	attrs map[string]string
}

// Held reports whether the item has no expiresAt (legal hold).
func (e Entry) Held() bool { return e.ExpiresAt == 0 }

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// Cursor is the retention index position of an entry read from the index, as
// an opaque cursor: a walk resumed from it continues with the next entry.
func (e Entry) Cursor() string {
	month, shard := monthAndShard(e.Ref.gsi2pk)
	return encodeCursor(indexPos{Month: month, Shard: shard,
		After: map[string]string{"PK": e.Ref.pk, "SK": e.Ref.sk, "GSI2PK": e.Ref.gsi2pk, "GSI2SK": e.Ref.gsi2sk}})
}

// monthAndShard reads the month and shard of a retention index partition key
// (T#t#RET#<class>#<yyyy-mm>[#<shard>]).
func monthAndShard(gsi2pk string) (string, int) {
	parts := strings.Split(gsi2pk, "#")
	for i, p := range parts {
		if p == "RET" && i+2 < len(parts) {
			month, shard := parts[i+2], 0
			if i+3 < len(parts) {
				shard, _ = strconv.Atoi(parts[i+3])
			}
			return month, shard
		}
	}
	return "", 0
}

// indexPos is a position in a tenant's retention index: the month partition
// ("2006-01"), its shard, and the index key after which to continue (nil: the
// shard's start). Cursors are its opaque encoding.
type indexPos struct {
	Month string            `json:"m"`
	Shard int               `json:"s,omitempty"`
	After map[string]string `json:"k,omitempty"`
}

// encodeCursor turns an index position into an opaque cursor ("" for none).
func encodeCursor(p indexPos) string {
	if p.Month == "" && p.After == nil {
		return ""
	}
	b, _ := json.Marshal(p) // strings only: always marshals
	return string(b)
}

// decodeCursor is the index position of an opaque cursor (zero for "").
func decodeCursor(c string) (indexPos, error) {
	var p indexPos
	if c == "" {
		return p, nil
	}
	if err := json.Unmarshal([]byte(c), &p); err != nil {
		return p, fmt.Errorf("bad retention cursor: %w", err)
	}
	return p, nil
}

// PointerRef is the reference of a conversation's pointer under its contact.
func (s *Store) PointerRef(tenantID, contactID, convID string) ItemRef {
	return ItemRef{table: s.data, pk: ContactPK(tenantID, contactID), sk: prefConv + convID}
}

const monthKey = "2006-01"

// RetentionPage reads the next entries of the tenant's class from the retention
// index, whose partitions are by month of each item's basis: those with basis
// in [from, the end of to's month], in time order, starting after the cursor
// after ("" at from). It returns up to limit entries (at least one unless the
// walk is over) and the cursor of the next page, "" at the end. Only the index
// is read: its cost follows the entries returned, not the table.
func (s *Store) RetentionPage(ctx context.Context, tenantID string, class retention.Class, from, to time.Time, after string, limit int) ([]Entry, string, error) {
	return s.retentionWalk(ctx, s.data, tenantID, string(class), from, to, after, limit)
}

// ArchivePage is RetentionPage over the Archive table's retention index, whose
// partitions are by the month the items left the hot table.
func (s *Store) ArchivePage(ctx context.Context, tenantID string, from, to time.Time, after string, limit int) ([]Entry, string, error) {
	return s.retentionWalk(ctx, s.archive, tenantID, ArchiveClass, from, to, after, limit)
}

// retentionWalk reads the month partitions of label in table from the cursor's
// month (never before from's) through to's, each month shard by shard, one
// Query at a time, skipping empty partitions.
func (s *Store) retentionWalk(ctx context.Context, table, tenantID, label string, from, to time.Time, after string, limit int) ([]Entry, string, error) {
	pos, err := decodeCursor(after)
	if err != nil {
		return nil, "", err
	}
	if first := from.UTC().Format(monthKey); pos.Month < first {
		pos = indexPos{Month: first}
	}
	shards := RetentionShards(label)
	for {
		m, err := time.Parse(monthKey, pos.Month)
		if err != nil {
			return nil, "", fmt.Errorf("bad retention cursor month: %w", err)
		}
		if m.After(to) {
			return nil, "", nil
		}
		if pos.Shard < 0 || pos.Shard >= shards {
			return nil, "", fmt.Errorf("bad retention cursor shard %d", pos.Shard)
		}
		entries, next, err := s.retentionPage(ctx, table, ShardKey(retentionMonthKey(tenantID, label, m), pos.Shard), from, pos.After, limit)
		if err != nil {
			return nil, "", err
		}
		if next != nil {
			return entries, encodeCursor(indexPos{Month: pos.Month, Shard: pos.Shard, After: next}), nil
		}
		if pos.Shard+1 < shards {
			pos = indexPos{Month: pos.Month, Shard: pos.Shard + 1}
		} else {
			m = m.AddDate(0, 1, 0)
			pos = indexPos{Month: m.Format(monthKey)}
		}
		if len(entries) > 0 {
			if m.After(to) {
				return entries, "", nil
			}
			return entries, encodeCursor(pos), nil
		}
	}
}

// retentionPage reads one page of one retention index partition.
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
		out = append(out, entryOf(table, table == s.archive, it, true))
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

// PartitionEntries reads every item in the partition of the referenced item
// (a conversation's meta: its messages and markers; a contact's profile: its
// pointers, connections, usage), with the attributes retention needs.
func (s *Store) PartitionEntries(ctx context.Context, of ItemRef) ([]Entry, error) {
	return s.partitionEntries(ctx, of.table, of.pk, "")
}

// DedupeMarkers reads the dedupe markers in the partition of the referenced
// item (a conversation's).
func (s *Store) DedupeMarkers(ctx context.Context, of ItemRef) ([]Entry, error) {
	return s.partitionEntries(ctx, of.table, of.pk, prefCMID)
}

// partitionEntries reads every item of partition pk in table (the Data or the
// Archive table) whose sort key starts with prefix ("" for all), with the
// attributes retention needs.
func (s *Store) partitionEntries(ctx context.Context, table, pk, prefix string) ([]Entry, error) {
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
			out = append(out, entryOf(table, table == s.archive, it, false))
		}
	}
	return out, nil
}

// SetExpiry shortens the expiresAt of an item to exp: only if it has one (not on
// legal hold) that is later, and, for an item read from the retention index,
// only if its retention basis has not moved since it was read. It reports
// whether the item now has exp because of this call (a retried call whose
// first attempt wrote counts).
func (s *Store) SetExpiry(ctx context.Context, ref ItemRef, exp int64) (bool, error) {
	cond := "attribute_exists(expiresAt) AND expiresAt > :exp"
	vals := map[string]types.AttributeValue{":exp": &types.AttributeValueMemberN{Value: itoa(exp)}}
	if ref.gsi2sk != "" {
		cond += " AND GSI2SK = :g2sk"
		vals[":g2sk"] = &types.AttributeValueMemberS{Value: ref.gsi2sk}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(ref.table), Key: key(ref.pk, ref.sk), UpdateExpression: aws.String("SET expiresAt = :exp"),
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

// DeleteExpiring deletes an item that is past its retention: only if it is not
// on legal hold and, for an item read from the retention index, its retention
// basis has not moved since it was read. It reports whether the item is gone.
func (s *Store) DeleteExpiring(ctx context.Context, ref ItemRef) (bool, error) {
	cond := "attribute_exists(expiresAt)"
	var vals map[string]types.AttributeValue
	if ref.gsi2sk != "" {
		cond += " AND GSI2SK = :g2sk"
		vals = map[string]types.AttributeValue{":g2sk": &types.AttributeValueMemberS{Value: ref.gsi2sk}}
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(ref.table), Key: key(ref.pk, ref.sk),
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
func (s *Store) HoldItem(ctx context.Context, ref ItemRef) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(ref.table), Key: key(ref.pk, ref.sk), UpdateExpression: aws.String("REMOVE expiresAt"),
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
func (s *Store) ReleaseItem(ctx context.Context, ref ItemRef, exp int64) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(ref.table), Key: key(ref.pk, ref.sk), UpdateExpression: aws.String("SET expiresAt = :exp"),
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

// entryOf reads an item of table (the Archive table when archived) as
// retention sees it; indexed is whether it was read from the retention index
// (its position then conditions the writes).
func entryOf(table string, archived bool, it map[string]types.AttributeValue, indexed bool) Entry {
	e := Entry{Archived: archived, attrs: map[string]string{}}
	var gsi2pk, gsi2sk string
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
			e.Ref.pk = s
		case "SK":
			e.Ref.sk = s
		case "GSI2PK":
			gsi2pk = s
		case "GSI2SK":
			gsi2sk = s
		case "dataClass":
			e.Class = retention.Class(s)
		case "entity":
			e.Entity = s
		case "expiresAt":
			e.ExpiresAt, _ = strconv.ParseInt(s, 10, 64)
		default:
			e.attrs[k] = s
		}
	}
	e.Ref.table = table
	if indexed {
		e.Ref.gsi2pk, e.Ref.gsi2sk = gsi2pk, gsi2sk
	}
	e.Basis = basisOf(e.Ref.sk, gsi2pk, gsi2sk, e.attrs)
	e.ContactID, e.ConversationID = subjectOf(e.Ref.pk, e.Ref.sk, e.attrs)
	if t, err := time.Parse(time.RFC3339Nano, firstOf(e.attrs, "createdAt", "CreatedAt")); err == nil {
		e.CreatedAt = t
	}
	e.Holdable = holdable(e.Ref.pk, e.Ref.sk)
	return e
}

// subjectOf returns the contact and the conversation an item belongs to: the
// contact of its partition, else the one it names; the conversation of its
// partition, or the one a pointer names.
func subjectOf(pk, sk string, attrs map[string]string) (contactID, convID string) {
	tenantID := TenantOfKey(pk)
	if id, ok := strings.CutPrefix(pk, ContactPK(tenantID, "")); ok {
		convID, _ = strings.CutPrefix(sk, prefConv)
		return id, convID
	}
	convID, _ = strings.CutPrefix(pk, ConversationPK(tenantID, ""))
	return firstOf(attrs, "contactId", "ContactID"), convID
}

// basisOf reads the retention basis of an item from its keys: the time of its
// retention index position, or the time in its sort key (messages, page views),
// or in the message key of a dedupe marker.
func basisOf(sk, gsi2pk, gsi2sk string, attrs map[string]string) time.Time {
	if t, ok := keyTime(gsi2sk); ok && !strings.HasPrefix(gsi2pk, TenantPrefix(PlatformID)) {
		return t
	}
	for _, pre := range []string{prefMsg, prefPageView} {
		if rest, ok := strings.CutPrefix(sk, pre); ok {
			if t, ok := keyTime(rest); ok {
				return t
			}
		}
	}
	if rest, ok := strings.CutPrefix(attrs["messageSk"], prefMsg); ok {
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
