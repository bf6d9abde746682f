package scale

import (
	"math"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// The footprints of the store calls the workload makes: the partitions each
// call spends units on, with the units, from the store's own key functions.
// footprints_test.go runs each call against moto through testaws.Meter and
// checks these against what it spent. Item sizes are the ones the test
// writes (a message of 200 characters, a conversation, a page view ...).

func data(key string, r, w float64) Access    { return Access{Part{Data, "", key}, r, w} }
func gsi1(key string, r, w float64) Access    { return Access{Part{Data, GSI1, key}, r, w} }
func gsi2(key string, r, w float64) Access    { return Access{Part{Data, GSI2, key}, r, w} }
func archive(key string, r, w float64) Access { return Access{Part{Archive, "", key}, r, w} }
func archiveGSI2(key string, r, w float64) Access {
	return Access{Part{Archive, GSI2, key}, r, w}
}

// Read units: a strongly consistent read of up to 4 KB is 1, eventually
// consistent 0.5; a Query page is billed on the sum of its items' sizes.
const (
	strong   = 1.0
	eventual = 0.5
)

// pageRead is what an eventually consistent Query page of n items of size
// bytes each costs.
func pageRead(n int, size int) float64 { return math.Max(1, math.Ceil(float64(n*size)/4096)) / 2 }

// Item sizes (bytes, as DynamoDB counts them) of the items the footprints
// read in pages, as footprints_test.go writes them.
const (
	conversationBytes = 600
	messageBytes      = 640
)

// Take counts a request against a rate-limit subject (ratelimit.Limiter.Take:
// one counter UpdateItem in the subject's partition).
func Take(tenant, subject string) []Access {
	return []Access{data(store.RatePK(tenant, subject), 0, 1)}
}

// ReadTenant is store.Tenant (an eventually consistent GetItem).
func ReadTenant(tenant string) []Access { return []Access{data(store.TenantPK(tenant), eventual, 0)} }

// SubjectKey salts the model's subject hashes (any key spreads them alike).
var SubjectKey = []byte("the scale model's subject hash key")

// hasher is a store that only hashes subjects.
var hasher = store.New(nil, "", "").WithSubjectKey(SubjectKey)

// suppressPK is the shard of the suppression entry of an identity.
func suppressPK(tenant, kind, value string) string {
	h, err := hasher.SubjectHash(tenant, kind, value)
	if err != nil {
		panic(err) // the key is set: hashing cannot fail
	}
	return store.SuppressPK(tenant, h)
}

// IsSuppressed is store.IsSuppressed once the suppression entries are in
// their shards (the marker is set: store/suppressmigrate.go): one strongly
// consistent GetItem of the identity's shard.
func IsSuppressed(tenant, kind, value string) []Access {
	return []Access{data(suppressPK(tenant, kind, value), strong, 0)}
}

// PutConnection is store.PutConnection.
func PutConnection(tenant, contact string) []Access {
	return []Access{data(store.ContactPK(tenant, contact), 0, 1)}
}

// DeleteConnection is store.DeleteConnection.
func DeleteConnection(tenant, contact string) []Access {
	return []Access{data(store.ContactPK(tenant, contact), 0, 1)}
}

// PutPageView is store.PutPageView of page view id at time at.
func PutPageView(tenant, contact, id string, at time.Time) []Access {
	return []Access{
		data(store.ContactPK(tenant, contact), 0, 1),
		gsi2(store.RetentionKey(tenant, string(retention.Usage), at, store.ContactPK(tenant, contact)), 0, 1),
	}
}

// TouchDevice is store.TouchDevice of a device last seen at time before, at
// time at: the item is rewritten, and its retention index entry (basis: the
// end of the day) moves only on its first use of a day.
func TouchDevice(tenant, contact string, before, at time.Time) []Access {
	pk := store.ContactPK(tenant, contact)
	a := []Access{data(pk, 0, 1)}
	if store.DayEnd(before) != store.DayEnd(at) {
		a = append(a, gsi2(store.RetentionKey(tenant, string(retention.Technical), store.DayEnd(before), pk), 0, 1),
			gsi2(store.RetentionKey(tenant, string(retention.Technical), store.DayEnd(at), pk), 0, 1))
	}
	return a
}

// ReadContact is store.Contact.
func ReadContact(tenant, contact string) []Access {
	return []Access{data(store.ContactPK(tenant, contact), eventual, 0)}
}

// Connections is store.Connections (a Query of the contact's CONN# items).
func Connections(tenant, contact string) []Access {
	return []Access{data(store.ContactPK(tenant, contact), eventual, 0)}
}

// PutMessageSentAt is store.PutMessage of a widget message with sentAt (one
// conditional PutItem).
func PutMessageSentAt(tenant, conv string) []Access {
	return []Access{data(store.ConversationPK(tenant, conv), 0, 1)}
}

// PutMessageMarked is store.PutMessage of a message deduplicated by a marker
// (agent replies, channel messages: the marker, then the message).
func PutMessageMarked(tenant, conv string) []Access {
	return []Access{data(store.ConversationPK(tenant, conv), 0, 2)}
}

// TouchConversation is store.TouchConversation moving the conversation's
// inbox position (status open, in its shard of the tenant's shards) from
// before to at, within one day.
func TouchConversation(tenant, conv string, shards int, before, at time.Time) []Access {
	return []Access{
		data(store.ConversationPK(tenant, conv), 0, 1),
		gsi1(store.InboxKey(tenant, chat.StatusOpen, conv, shards), 0, 2),
	}
}

// SkippedTouch is store.TouchConversation of a message less than
// store.InboxStep after the recorded activity: a failed conditional write.
func SkippedTouch(tenant, conv string) []Access {
	return []Access{data(store.ConversationPK(tenant, conv), 0, 1)}
}

// ReadConversation is store.Conversation.
func ReadConversation(tenant, conv string) []Access {
	return []Access{data(store.ConversationPK(tenant, conv), eventual, 0)}
}

// ReadAPIKey is store.APIKey (strongly consistent: a revoke works at once),
// in the key's own partition.
func ReadAPIKey(tenant, key string) []Access {
	return []Access{data(store.APIKeyPK(tenant, key), strong, 0)}
}

// PutAuditEvent is store.PutAuditEvent of event id.
func PutAuditEvent(tenant, id string) []Access {
	return []Access{data(store.AuditPK(tenant, id), 0, 1)}
}

// InboxPage is store.ConversationsByStatus: one page of limit open
// conversations of a tenant with at least that many in each of its shards.
// Each shard is read once for about twice its share of the page (the merge's
// refills of a shard that holds more than that are not counted).
func InboxPage(tenant string, shards, limit int) []Access {
	n := store.InboxShards(shards)
	per := limit
	if n > 1 {
		per = min(limit, max(1, (2*limit+n-1)/n))
	}
	var a []Access
	for i := range n {
		a = append(a, gsi1(store.ShardKey(store.StatusKey(tenant, chat.StatusOpen), i), pageRead(per, conversationBytes), 0))
	}
	return a
}

// MessagesPage is store.History's Query: a page of limit messages.
func MessagesPage(tenant, conv string, limit int) []Access {
	return []Access{data(store.ConversationPK(tenant, conv), pageRead(limit, messageBytes), 0)}
}

// OpenConversation is store.OpenConversation for a contact that exists and
// has no open conversation: a strongly consistent read of the contact, then
// one transaction (each item billed twice) that updates the contact (its
// visit moves in the retention index), puts the conversation (inbox and
// retention index) and its pointer.
func OpenConversation(tenant, contact, conv string, shards int, before, at time.Time) []Access {
	return []Access{
		data(store.ContactPK(tenant, contact), strong, 2*2),
		gsi2(store.RetentionKey(tenant, string(retention.Personal), before, store.ContactPK(tenant, contact)), 0, 2),
		gsi2(store.RetentionKey(tenant, string(retention.Personal), at, store.ContactPK(tenant, contact)), 0, 2),
		data(store.ConversationPK(tenant, conv), 0, 2),
		gsi1(store.InboxKey(tenant, chat.StatusOpen, conv, shards), 0, 2),
		gsi2(store.RetentionKey(tenant, string(retention.Communication), store.DayEnd(at), store.ConversationPK(tenant, conv)), 0, 2),
	}
}

// CloseConversation is store.SetConversationStatus to closed: the
// conversation moves from the open to the closed inbox, and its contact's
// open conversation is cleared.
func CloseConversation(tenant, contact, conv string, shards int) []Access {
	return []Access{
		data(store.ConversationPK(tenant, conv), 0, 1),
		gsi1(store.InboxKey(tenant, chat.StatusOpen, conv, shards), 0, 1),
		gsi1(store.InboxKey(tenant, chat.StatusClosed, conv, shards), 0, 1),
		data(store.ContactPK(tenant, contact), 0, 1),
	}
}

// Identify is store.Identify of a contact without an email before, with an
// open conversation: its profile gets name and email (the email index), its
// visit moves, and the conversation (in the inbox index) gets them too.
func Identify(tenant, contact, email, conv string, shards int, before, at time.Time) []Access {
	return []Access{
		data(store.ContactPK(tenant, contact), 0, 1),
		gsi1(store.EmailKey(tenant, email), 0, 1),
		gsi2(store.RetentionKey(tenant, string(retention.Personal), before, store.ContactPK(tenant, contact)), 0, 1),
		gsi2(store.RetentionKey(tenant, string(retention.Personal), at, store.ContactPK(tenant, contact)), 0, 1),
		data(store.ConversationPK(tenant, conv), 0, 1),
		gsi1(store.InboxKey(tenant, chat.StatusOpen, conv, shards), 0, 1),
	}
}

// RecordLastMessage is store.RecordLastMessage: the conversation's summary
// item, in no index.
func RecordLastMessage(tenant, conv string) []Access {
	return []Access{data(store.ConversationPK(tenant, conv), 0, 1)}
}

// AgentConnections is store.AgentConnections (a Query of the tenant's
// agents' partition, CONN# items: under 4 KB up to about 20 consoles).
func AgentConnections(tenant string) []Access {
	return []Access{data(store.AgentsPK(tenant), eventual, 0)}
}

// WithSummaries is store.WithSummaries of conversations (one BatchGetItem,
// each key billed as its own GetItem: ReadConversation).
func WithSummaries(tenant string, convs ...string) []Access {
	var a []Access
	for _, v := range convs {
		a = append(a, ReadConversation(tenant, v)...)
	}
	return a
}

// ArchiveMessage is the archive function's copy of a message TTL removed:
// one conditional PutItem into the Archive table (and its retention index by
// the month it left), after the erasure check of its contact.
func ArchiveMessage(tenant, contact, conv string, hotExpiresAt time.Time) []Access {
	return append(IsSuppressed(tenant, chat.SuppressContact, contact),
		archive(store.ConversationPK(tenant, conv), 0, 1),
		archiveGSI2(store.RetentionKey(tenant, store.ArchiveClass, hotExpiresAt, store.ConversationPK(tenant, conv)), 0, 1),
	)
}

// Slack event: the team's tenant, the integration, the thread and the
// member's name (SlackTenantOfTeam, SlackIntegration, SlackThreadByTS,
// SlackMember), then the message. An agent's first reply, a renamed one and
// one a day also write the agent's member item (PutSlackMember), left out
// here as rare.
func SlackEvent(tenant, team, channel, threadTS, user, conv string) []Access {
	return append([]Access{
		data(store.SlackRoutePK(team), eventual, 0),
		data(store.SlackPK(tenant), eventual, 0),
		data(store.SlackThreadRefPK(tenant, team, channel, threadTS), eventual, 0),
		data(store.SlackPK(tenant), eventual, 0),
	}, PutMessageMarked(tenant, conv)...)
}

// ParkDelivery is store.ParkDelivery: a delivery the destination did not take
// waits in the tenant's partition and in its shard of the index of every
// tenant's.
func ParkDelivery(tenant, destination string) []Access {
	return []Access{
		data(store.ParkedPK(tenant, destination), 0, 1),
		gsi1(store.ParkedIndexKey(destination, tenant), 0, 1),
	}
}

// SweepTenant is the retention sweep's daily visit of one tenant with
// nothing to do: its share of a tenants index page, its state item read and
// written, the tenant profile renewed.
func SweepTenant(tenant string) []Access {
	return []Access{
		gsi2(store.TenantPrefix(store.PlatformID)+"TENANTS", eventual/100, 0),
		data(store.TenantPK(tenant), strong, 2),
	}
}

// Erase is one erasure of a contact with one conversation: the request and
// its tombstone, the suppression entries (visitor id, email), three audit
// events, and the deletes of the contact's and the conversation's items.
func Erase(tenant, contact, conv string, items int, events ...string) []Access {
	a := []Access{
		data(store.PrivacyPK(tenant), 1, 4),
		data(suppressPK(tenant, chat.SuppressContact, contact), 0, 1),
		data(suppressPK(tenant, chat.SuppressEmail, contact+"@example.com"), 0, 1),
		data(store.ContactPK(tenant, contact), 1, float64(items)),
		data(store.ConversationPK(tenant, conv), 1, float64(items)),
	}
	for _, e := range events {
		a = append(a, PutAuditEvent(tenant, e)...)
	}
	return a
}
