package store

import (
	"strings"
	"time"
)

// The key layout of the Data table. Every partition key and every index
// partition key starts with "T#<tenantId>#", so tenant isolation is enforced here
// and nowhere else.
//
//	item            PK                        SK                      GSI1PK / GSI1SK                       GSI2PK / GSI2SK (retention index)
//	tenant          T#t#TENANT                PROFILE                 -                                     -
//	contact         T#t#CONTACT#c             PROFILE                 T#t#EMAIL#<email> / CONTACT#c         T#t#RET#personal#<yyyy-mm>[#n] / <time>#PK
//	connection      T#t#CONTACT#c             CONN#<connectionId>     -                                     -
//	conv. pointer   T#t#CONTACT#c             CONV#<convId>           -                                     -
//	conversation    T#t#CONV#v                META                    T#t#CONVS#<status>[#n] / <lastAct.>#v T#t#RET#communication#<yyyy-mm>[#n] / <time>#PK
//	message         T#t#CONV#v                MSG#<createdAt>#<id>    -                                     -
//	dedupe marker   T#t#CONV#v                CMID#<clientMessageId>  -                                     -
//	rate counter    T#t#RATE#<subject>        <bucket>#<window>#<n>   -                                     -  (ratelimit.go)
//	api key         T#t#APIKEY#<keyId>        KEY                     T#t#APIKEYS / <keyId>                 -  (apikey.go)
//	api key (old)   T#t#TENANT                APIKEY#<keyId>          -                                     -  (moved on use, apikeymove.go)
//	suppression     T#t#SUPPRESS#<hhh>        <kind>#<hmac hex>       -                                     -  (suppression.go; hhh: the hmac's first three hex digits)
//	legacy suppr.   T#t#SUPPRESS              <kind>#<hmac hex>       -                                     -  (before sharding: read and moved until the marker says done)
//	migration mark  T#_platform#MIGRATIONS    SUPPRESS-SHARDED        -                                     -  (suppressmigrate.go)
//	conv. summary   T#t#CONV#v                SUMMARY                 -                                     -  (summary.go)
//	agent           T#t#AGENTS                AGENT#<keyId>           -                                     -  (agent.go)
//	console conn.   T#t#AGENTS                CONN#<connectionId>     -                                     -  (agent.go)
//
// [#n] is a write shard (shard.go): the inbox has the tenant's InboxShards,
// each retention index month RetentionShards(class); shard 0 has no suffix.
const (
	SKProfile = "PROFILE"
	SKMeta    = "META"
	prefConn  = "CONN#"
	prefConv  = "CONV#"
	prefMsg   = "MSG#"
	prefCMID  = "CMID#"
)

// timeKey formats t with a fixed width, so keys sort by time.
const timeKey = "2006-01-02T15:04:05.000000Z"

// TimeKey formats t for a sort key.
func TimeKey(t time.Time) string { return t.UTC().Format(timeKey) }

// TenantPrefix is the start of every key of the tenant.
func TenantPrefix(tenantID string) string { return "T#" + tenantID + "#" }

// TenantPK is the partition of the tenant profile.
func TenantPK(tenantID string) string { return TenantPrefix(tenantID) + "TENANT" }

// ContactPK is the partition of a contact: profile, connections, conversation pointers.
func ContactPK(tenantID, contactID string) string {
	return TenantPrefix(tenantID) + "CONTACT#" + contactID
}

// ConversationPK is the partition of a conversation: meta, messages, dedupe markers.
func ConversationPK(tenantID, convID string) string {
	return TenantPrefix(tenantID) + "CONV#" + convID
}

// EmailKey is the GSI1 partition of contacts with that email.
func EmailKey(tenantID, email string) string {
	return TenantPrefix(tenantID) + "EMAIL#" + strings.ToLower(strings.TrimSpace(email))
}

// StatusKey is shard 0 of the GSI1 partition of the tenant's conversations
// with a status (InboxKey gives a conversation's shard).
func StatusKey(tenantID, status string) string { return TenantPrefix(tenantID) + "CONVS#" + status }

// DayEnd is the end of t's UTC day: the retention basis and expiry of an item
// whose activity moves with every message (a conversation), so that its
// retention index entry and expiresAt change once a day, not with each
// message (each change is an index delete and put). Rounded up, never down:
// such an item is kept at most a day longer, never shorter.
func DayEnd(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour) }

// RetentionSort is the GSI2 sort key: the basis time, then the item's PK.
func RetentionSort(t time.Time, pk string) string { return TimeKey(t) + "#" + pk }

// MessageSK is the sort key of a message.
func MessageSK(createdAt time.Time, id string) string { return prefMsg + TimeKey(createdAt) + "#" + id }

// TenantOfKey returns the tenant id of a key, or "".
func TenantOfKey(key string) string {
	rest, ok := strings.CutPrefix(key, "T#")
	if !ok {
		return ""
	}
	t, _, _ := strings.Cut(rest, "#")
	return t
}
