package scale

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// Workload is what a tenant's visitors do: the three figures a design point
// gives. Everything else (conversations, agents, archive, erasures) follows
// from them through the behaviour constants below.
type Workload struct {
	Visitors  float64 // concurrent visitors
	PageViews float64 // page loads per second
	Messages  float64 // messages per second, visitors' and agents'
}

// Scale returns w times f.
func (w Workload) Scale(f float64) Workload {
	return Workload{Visitors: w.Visitors * f, PageViews: w.PageViews * f, Messages: w.Messages * f}
}

// Behaviour: how visitors, agents and channels turn a workload into calls.
// Each is a modelling choice, stated in docs/SCALE.md.
const (
	// ChattingShare of the concurrent visitors have an open conversation.
	ChattingShare = 0.2
	// ChatMinutes is how long a conversation stays open.
	ChatMinutes = 10
	// VisitorShare of the messages are the visitors' (the rest are agents').
	VisitorShare = 0.5
	// ChannelShare of the visitors' messages come through a channel webhook
	// (Messenger, WhatsApp, ...) rather than the widget.
	ChannelShare = 0.2
	// SlackShare of the agents' replies would come from Slack, up to what
	// Slack delivers (SlackEventsPerSecond); the rest from the console.
	SlackShare = 0.5
	// SlackEventsPerSecond is Slack's Events API limit, 30,000 deliveries per
	// workspace and app per hour: a tenant's Slack traffic cannot exceed it.
	SlackEventsPerSecond = 30000.0 / 3600
	// ChatsPerAgent is how many open conversations an agent handles.
	ChatsPerAgent = 5
	// AgentRefreshSeconds is how often an agent's console reads the inbox
	// and a conversation's messages. The console is live (inbox events over
	// its WebSocket, no polling): it reads the inbox when it connects and the
	// messages when the agent opens a conversation; once a minute is more
	// than either. (It polled every 10 s before.)
	AgentRefreshSeconds = 60
	// InboxPageSize and MessagePageSize are the console's page sizes.
	InboxPageSize   = 50
	MessagePageSize = 100
	// IdentifyShare of new conversations give a name and email.
	IdentifyShare = 0.3
	// ErasuresPerVisitorDay: erasure requests per concurrent visitor and day.
	ErasuresPerVisitorDay = 0.001
	// ErasedItems is what an erasure deletes per partition (contact,
	// conversation).
	ErasedItems = 20
	// VisitSeconds is how long a visit lasts: a device's first page of the
	// day comes once per visit at most.
	VisitSeconds = 300
	// SessionSeconds is how long widget-session takes per request: with the
	// page load rate, how many warm instances read the tenant per TTL.
	SessionSeconds = 0.02
	// AdminSeconds is how long admin-api takes per request.
	AdminSeconds = 0.03
	// DispatchSeconds is how long dispatch takes per message: with the
	// message rate, how many warm instances read a tenant's consoles per
	// TTL.
	DispatchSeconds = 0.02
	// ShardTarget is the share of a partition's limits a tenant's inbox shard
	// is sized for (InboxShardsFor), leaving room for bursts.
	ShardTarget = 0.25
)

// InboxShardsFor is the inbox shards a tenant with workload w needs (the
// operator's rule in docs/SCALE.md): the smallest power of two, at most
// store.MaxInboxShards, that keeps each shard within ShardTarget of a
// partition for the inbox's writes (each move is an index delete and put)
// and its agents' inbox pages.
func InboxShardsFor(w Workload) int {
	writes := 2*min(w.conversations()/60, w.Messages*VisitorShare) + 2*w.opens() + 2*w.opens()
	pages := w.agents() / AgentRefreshSeconds
	n := 1
	for n < store.MaxInboxShards {
		per := InboxPageSize
		if n > 1 {
			per = min(InboxPageSize, max(1, (2*InboxPageSize+n-1)/n))
		}
		if writes/float64(n) <= ShardTarget*PartitionWCU && pages*pageRead(per, conversationBytes) <= ShardTarget*PartitionRCU {
			break
		}
		n *= 2
	}
	return n
}

// Derived rates of a tenant.
func (w Workload) conversations() float64 { return w.Visitors * ChattingShare }
func (w Workload) opens() float64         { return w.conversations() / (ChatMinutes * 60) }
func (w Workload) agents() float64        { return w.conversations() / ChatsPerAgent }
func (w Workload) agentReplies() float64  { return w.Messages * (1 - VisitorShare) }
func (w Workload) slackReplies() float64 {
	return min(w.agentReplies()*SlackShare, SlackEventsPerSecond)
}

// Op is one kind of call the workload makes: its rate for a tenant, and the
// store calls one of them makes (with entities drawn at random).
type Op struct {
	Name  string
	Rate  func(t *Tenant) float64
	Calls func(t *Tenant, rng *rand.Rand) []Access
}

// entities of a tenant, drawn at random.
func visitor(t *Tenant, rng *rand.Rand) string {
	return id(ids.Contact, t.ID, pick(rng, t.Workload.Visitors))
}

// chat is an open conversation and its contact.
func chatOf(t *Tenant, rng *rand.Rand) (contact, conv string) {
	i := pick(rng, t.Workload.conversations())
	return id(ids.Contact, t.ID, i), id(ids.Conversation, t.ID, i)
}

func agentKey(t *Tenant, rng *rand.Rand) string {
	return id(ids.APIKey, t.ID, pick(rng, t.Workload.agents()))
}

// network is a client's /24: page loads come from about as many networks as
// there are visitors.
func network(t *Tenant, rng *rand.Rand) string {
	i := pick(rng, t.Workload.Visitors)
	return fmt.Sprintf("net%d.%d.%d.0/24", i>>16&255, i>>8&255, i&255)
}

// recent is a time in the last minute, for keys by time.
func recent(t *Tenant, rng *rand.Rand) time.Time {
	return t.Now.Add(-time.Duration(rng.Int64N(int64(time.Minute))))
}

func join(calls ...[]Access) []Access { return slices.Concat(calls...) }

// Ops are the calls of the product's workload, each rate per tenant.
var Ops = []Op{
	{"page load: widget-session", func(t *Tenant) float64 { return t.Workload.PageViews },
		func(t *Tenant, rng *rand.Rand) []Access {
			c := visitor(t, rng)
			return join(Take(t.ID, store.NetworkRateSubject(network(t, rng))), IsSuppressed(t.ID, chat.SuppressContact, c))
		}},
	{"widget-session: a warm instance reads its tenant (store.SessionStore)", func(t *Tenant) float64 {
		return t.Workload.PageViews * SessionSeconds / store.SessionTenantCacheTTL.Seconds()
	},
		func(t *Tenant, rng *rand.Rand) []Access { return ReadTenant(t.ID) }},
	{"admin-api: a warm instance reads its tenant (store.AdminTenantCacheTTL)", func(t *Tenant) float64 {
		w := t.Workload
		requests := w.agentReplies() - w.slackReplies() + 2*w.agents()/AgentRefreshSeconds + w.opens()
		return requests * AdminSeconds / store.AdminTenantCacheTTL.Seconds()
	},
		func(t *Tenant, rng *rand.Rand) []Access { return ReadTenant(t.ID) }},
	{"page load: $connect", func(t *Tenant) float64 { return t.Workload.PageViews },
		func(t *Tenant, rng *rand.Rand) []Access {
			c := visitor(t, rng)
			return join(IsSuppressed(t.ID, chat.SuppressContact, c), PutConnection(t.ID, c))
		}},
	{"page load: pageView frame", func(t *Tenant) float64 { return t.Workload.PageViews },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, at := visitor(t, rng), recent(t, rng)
			return join(Take(t.ID, store.VisitorRateSubject(c)),
				PutPageView(t.ID, c, id(ids.Event, t.ID, rng.Int()), at), TouchDevice(t.ID, c, at.Add(-time.Minute), at))
		}},
	{"visit starts: the device's first page of the day", func(t *Tenant) float64 { return t.Workload.Visitors / VisitSeconds },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, at := visitor(t, rng), recent(t, rng)
			return TouchDevice(t.ID, c, at.Add(-24*time.Hour), at)
		}},
	{"page load: $disconnect", func(t *Tenant) float64 { return t.Workload.PageViews },
		func(t *Tenant, rng *rand.Rand) []Access { return DeleteConnection(t.ID, visitor(t, rng)) }},
	{"visitor message: widget", func(t *Tenant) float64 { return t.Workload.Messages * VisitorShare * (1 - ChannelShare) },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			return join(Take(t.ID, store.VisitorRateSubject(c)), ReadContact(t.ID, c), PutMessageSentAt(t.ID, v))
		}},
	{"visitor message: channel webhook", func(t *Tenant) float64 { return t.Workload.Messages * VisitorShare * ChannelShare },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			return join(ReadContact(t.ID, c), PutMessageMarked(t.ID, v))
		}},
	{"dispatch: deliver to the visitor's connections and the agents' consoles", func(t *Tenant) float64 { return t.Workload.Messages },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			return join(Connections(t.ID, c), RecordLastMessage(t.ID, v))
		}},
	{"dispatch: a warm instance reads its tenant's consoles (dispatch.AgentsCacheTTL)", func(t *Tenant) float64 {
		return t.Workload.Messages * DispatchSeconds / dispatch.AgentsCacheTTL.Seconds()
	},
		func(t *Tenant, rng *rand.Rand) []Access { return AgentConnections(t.ID) }},
	{"dispatch: inbox position (once a minute per conversation)", func(t *Tenant) float64 {
		return min(t.Workload.conversations()/60, t.Workload.Messages*VisitorShare)
	},
		func(t *Tenant, rng *rand.Rand) []Access {
			_, v := chatOf(t, rng)
			at := recent(t, rng)
			return TouchConversation(t.ID, v, t.InboxShards, at.Add(-time.Minute), at)
		}},
	{"agent reply: console", func(t *Tenant) float64 { return t.Workload.agentReplies() - t.Workload.slackReplies() },
		func(t *Tenant, rng *rand.Rand) []Access {
			_, v := chatOf(t, rng)
			k := agentKey(t, rng)
			return join(ReadAPIKey(t.ID, k), Take(t.ID, store.KeyRateSubject(k)), ReadConversation(t.ID, v),
				PutMessageMarked(t.ID, v), SkippedTouch(t.ID, v), PutAuditEvent(t.ID, id(ids.Event, t.ID, rng.Int())))
		}},
	{"agent reply: Slack", func(t *Tenant) float64 { return t.Workload.slackReplies() },
		func(t *Tenant, rng *rand.Rand) []Access {
			_, v := chatOf(t, rng)
			return SlackEvent(t.ID, "T"+t.ID[1:10], "C0", fmt.Sprint(rng.Int()), "U0", v)
		}},
	{"agent: inbox page", func(t *Tenant) float64 { return t.Workload.agents() / AgentRefreshSeconds },
		func(t *Tenant, rng *rand.Rand) []Access {
			k := agentKey(t, rng)
			var convs []string
			for range InboxPageSize {
				_, v := chatOf(t, rng)
				convs = append(convs, v)
			}
			return join(ReadAPIKey(t.ID, k), Take(t.ID, store.KeyRateSubject(k)), InboxPage(t.ID, t.InboxShards, InboxPageSize),
				WithSummaries(t.ID, convs...))
		}},
	{"agent: conversation messages", func(t *Tenant) float64 { return t.Workload.agents() / AgentRefreshSeconds },
		func(t *Tenant, rng *rand.Rand) []Access {
			_, v := chatOf(t, rng)
			k := agentKey(t, rng)
			return join(ReadAPIKey(t.ID, k), Take(t.ID, store.KeyRateSubject(k)), ReadConversation(t.ID, v),
				MessagesPage(t.ID, v, MessagePageSize), PutAuditEvent(t.ID, id(ids.Event, t.ID, rng.Int())))
		}},
	{"conversation opens", func(t *Tenant) float64 { return t.Workload.opens() },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			at := recent(t, rng)
			return join(IsSuppressed(t.ID, chat.SuppressContact, c), OpenConversation(t.ID, c, v, t.InboxShards, at.Add(-time.Hour), at))
		}},
	{"conversation closes (console)", func(t *Tenant) float64 { return t.Workload.opens() },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			k := agentKey(t, rng)
			return join(ReadAPIKey(t.ID, k), Take(t.ID, store.KeyRateSubject(k)), CloseConversation(t.ID, c, v, t.InboxShards),
				PutAuditEvent(t.ID, id(ids.Event, t.ID, rng.Int())))
		}},
	{"visitor identifies", func(t *Tenant) float64 { return t.Workload.opens() * IdentifyShare },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			at := recent(t, rng)
			return join(Take(t.ID, store.VisitorRateSubject(c)), IsSuppressed(t.ID, chat.SuppressContact, c),
				IsSuppressed(t.ID, chat.SuppressEmail, c+"@example.com"), Identify(t.ID, c, c+"@example.com", v, t.InboxShards, at.Add(-time.Hour), at))
		}},
	{"archive: messages and conversations leaving the hot table", func(t *Tenant) float64 {
		return t.Workload.Messages + t.Workload.opens()
	},
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			return ArchiveMessage(t.ID, c, v, recent(t, rng))
		}},
	{"erasure", func(t *Tenant) float64 { return t.Workload.Visitors * ErasuresPerVisitorDay / 86400 },
		func(t *Tenant, rng *rand.Rand) []Access {
			c, v := chatOf(t, rng)
			return Erase(t.ID, c, v, ErasedItems, id(ids.Event, t.ID, rng.Int()), id(ids.Event, t.ID, rng.Int()), id(ids.Event, t.ID, rng.Int()))
		}},
	{"retention sweep (daily, per tenant)", func(t *Tenant) float64 { return 1.0 / 86400 },
		func(t *Tenant, rng *rand.Rand) []Access { return SweepTenant(t.ID) }},
}

// SlackOutage is what Slack being down for every tenant at once adds: each
// Slack tenant's visitor messages are parked (dispatch parks a tenant's new
// messages behind its parked ones without trying). A Slack tenant is one whose
// agents' replies fit Slack's Events API (SlackShare of them within
// SlackEventsPerSecond); bigger tenants answer from the console.
var SlackOutage = []Op{
	{"Slack outage: visitor messages parked", func(t *Tenant) float64 {
		w := t.Workload
		if w.agentReplies()*SlackShare > SlackEventsPerSecond {
			return 0
		}
		return w.Messages * VisitorShare
	},
		func(t *Tenant, rng *rand.Rand) []Access { return ParkDelivery(t.ID, "slack") }},
}
