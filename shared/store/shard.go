package store

import (
	"hash/fnv"
	"strconv"
	"time"

	"github.com/livesupportbot/backend/shared/retention"
)

// Write sharding. A partition key that takes a whole tenant's stream of
// writes (its inbox, its retention index by month, its audit trail) would
// cap the tenant at one partition's 1,000 write units a second, and a sort key
// that grows with time gets no help from DynamoDB's splitting. Such a key is
// split into a bounded number of shards: shard i of key K is K#i, and shard 0
// is K itself, so every item written before sharding (and every item of a
// tenant with one shard) is in shard 0 and is read with the rest. An item's
// shard is a hash of an id the item owns, so it stays put while the item is
// rewritten. Shard counts only ever grow: a reader reads shards 0..n-1 of the
// count it knows, which includes every shard a smaller count used.
//
// Readers that need one order across shards merge them (mergedPage); the
// retention sweep walks them one after another (its cost stays one Query page
// per shard and month plus the affected items).

// Shard returns the shard of id among n (0 when n <= 1): FNV-1a of id, mod n.
func Shard(id string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// ShardKey is shard i of partition key key.
func ShardKey(key string, i int) string {
	if i == 0 {
		return key
	}
	return key + "#" + strconv.Itoa(i)
}

// shardKeys are the keys of shards 0..n-1 of key.
func shardKeys(key string, n int) []string {
	out := make([]string, max(1, n))
	for i := range out {
		out[i] = ShardKey(key, i)
	}
	return out
}

// Retention index shards by class: a fixed count per class, sized for the
// class's write rate at the largest tenant of ten times the design point
// (docs/SCALE.md): each item's entry goes to the shard of its partition key.
// The sweep reads every shard of a month it walks, so a count costs the sweep
// that many Query pages per month, only when a period shortens. Never lower a
// count (nor AuditShards, ParkedShards): the entries in the shards above it
// would no longer be read.
var retentionShards = map[string]int{
	string(retention.Usage):         512, // a page view each: up to ~160,000 a second
	string(retention.Communication): 16,  // conversations: new ones, and each moves once a day
	string(retention.Personal):      16,  // contacts' visits
	string(retention.Technical):     64,  // devices (once a day each), rate counters are not indexed
	ArchiveClass:                    128, // every message leaving the hot table
}

// RetentionShards is the number of shards of a class's retention index.
func RetentionShards(class string) int { return max(1, retentionShards[class]) }

// RetentionKey is the GSI2 partition of the tenant's items of a class whose
// retention basis falls in the month of t, for the item with partition key
// pk: the month's partition is sharded by pk (RetentionShards). The sweep
// reads every shard of a month, in time order within each, so its cost
// follows the affected items, not the table.
func RetentionKey(tenantID, class string, t time.Time, pk string) string {
	return ShardKey(retentionMonthKey(tenantID, class, t), Shard(pk, RetentionShards(class)))
}

// retentionMonthKey is shard 0 of a class's month: the key before sharding.
func retentionMonthKey(tenantID, class string, t time.Time) string {
	return TenantPrefix(tenantID) + "RET#" + class + "#" + t.UTC().Format("2006-01")
}

// AuditShards is the number of shards of a tenant's audit trail: every
// admin action writes an event, so a big tenant's agents write thousands a
// second; listing them (owners, rarely) merges the shards.
const AuditShards = 64

// InboxShards is a tenant's number of inbox shards from its settings (0 or
// 1: one), at most MaxInboxShards.
func InboxShards(n int) int { return min(max(1, n), MaxInboxShards) }

// MaxInboxShards bounds a tenant's inbox shards: an inbox page reads each.
const MaxInboxShards = 64

// InboxStep is how much newer a message must be than a conversation's
// recorded activity to move it in the inbox (TouchConversation's step, for
// dispatch and agent replies alike): a conversation's inbox entry moves at
// most once a minute, however fast its messages come.
const InboxStep = time.Minute

// InboxKey is the GSI1 partition of conversation convID in the inbox of a
// tenant's conversations with a status, with shards shards.
func InboxKey(tenantID, status, convID string, shards int) string {
	return ShardKey(StatusKey(tenantID, status), Shard(convID, InboxShards(shards)))
}
