package scale

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// footprintRig runs store calls against moto through a meter.
type footprintRig struct {
	tt    *testaws.Tables
	meter *testaws.Meter
	st    *store.Store
	now   time.Time
}

func newRig(t *testing.T) *footprintRig {
	t.Helper()
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	r := &footprintRig{tt: tt, meter: m, now: time.Now().UTC().Truncate(time.Millisecond)}
	r.st = store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithSubjectKey(SubjectKey).
		WithClock(func() time.Time { return r.now })
	return r
}

// spent is what the meter saw since its last reset, by partition, with the
// test's table names as the model names them.
func (r *footprintRig) spent() map[Part][2]float64 {
	out := map[Part][2]float64{}
	for p, u := range r.meter.ByPartition() {
		tbl := map[string]string{r.tt.Data: Data, r.tt.Archive: Archive}[p.Table]
		k := Part{tbl, p.Index, p.Key}
		out[k] = [2]float64{out[k][0] + u.Read, out[k][1] + u.Write}
	}
	return out
}

func summed(fp []Access) map[Part][2]float64 {
	out := map[Part][2]float64{}
	for _, a := range fp {
		out[a.Part] = [2]float64{out[a.Part][0] + a.R, out[a.Part][1] + a.W}
	}
	return out
}

// check runs call after resetting the meter and compares what it spent by
// partition with the footprint.
func (r *footprintRig) check(t *testing.T, name string, call func() []Access) {
	t.Helper()
	r.meter.Reset()
	want := summed(call())
	got := r.spent()
	all := maps.Clone(want)
	maps.Copy(all, got)
	keys := slices.SortedFunc(maps.Keys(all), func(a, b Part) int { return strings.Compare(a.String(), b.String()) })
	var diff []string
	for _, k := range keys {
		if math.Abs(got[k][0]-want[k][0]) > 1e-9 || math.Abs(got[k][1]-want[k][1]) > 1e-9 {
			diff = append(diff, fmt.Sprintf("  %s: spent R%.1f W%.1f, footprint R%.1f W%.1f", k, got[k][0], got[k][1], want[k][0], want[k][1]))
		}
	}
	if len(diff) > 0 {
		t.Errorf("%s: the store call and its footprint differ:\n%s", name, strings.Join(diff, "\n"))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFootprints_MatchTheStore runs each store call of the model against moto
// and checks that it spends its units on exactly the partitions, and in the
// amounts, its footprint names. A change to a key, an index or a call's
// requests that the model does not follow fails here.
func TestFootprints_MatchTheStore(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	p := retention.Defaults
	p.InboxShards = 4 // keys of a sharded inbox
	tenant := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Shop", WidgetKey: "wk_x_y", Status: "active"}
	tid := tenant.ID
	must(t, r.st.PutTenant(ctx, tenant))
	contact := ids.New(ids.Contact)

	r.check(t, "Tenant", func() []Access {
		_, err := r.st.Tenant(ctx, tid)
		must(t, err)
		return ReadTenant(tid)
	})
	r.check(t, "ratelimit Take", func() []Access {
		must(t, ratelimit.New(r.st).Take(ctx, tid, store.VisitorRateSubject(contact), ratelimit.SendMessage, ratelimit.Defaults[ratelimit.SendMessage]))
		return Take(tid, store.VisitorRateSubject(contact))
	})
	// Once the suppression entries are in their shards (the sweep's marker).
	if _, err := r.st.BeginSuppressMigration(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, r.st.FinishSuppressMigration(ctx))
	r.check(t, "IsSuppressed", func() []Access {
		_, err := r.st.IsSuppressed(ctx, tid, chat.SuppressContact, contact)
		must(t, err)
		return IsSuppressed(tid, chat.SuppressContact, contact)
	})
	conn := "conn-" + ids.New("")
	r.check(t, "PutConnection", func() []Access {
		must(t, r.st.PutConnection(ctx, &chat.Connection{ID: conn, TenantID: tid, ContactID: contact, ConnectedAt: r.now}))
		return PutConnection(tid, contact)
	})
	r.check(t, "Connections", func() []Access {
		_, err := r.st.Connections(ctx, tid, contact)
		must(t, err)
		return Connections(tid, contact)
	})
	r.check(t, "DeleteConnection", func() []Access {
		must(t, r.st.DeleteConnection(ctx, tid, contact, conn))
		return DeleteConnection(tid, contact)
	})
	r.check(t, "PutPageView", func() []Access {
		v := &chat.PageView{TenantID: tid, ContactID: contact, Path: "/shop/shoes/red-sneakers", Referrer: "https://www.example.com/",
			Browser: "Chrome 142", IPNetwork: "203.0.113.0/24", TimeOnPageMs: 12345}
		must(t, r.st.PutPageView(ctx, v, p))
		return PutPageView(tid, contact, v.ID, v.At)
	})
	dev := &chat.Device{TenantID: tid, ContactID: contact, Device: "desktop", OS: "Windows"}
	must(t, r.st.TouchDevice(ctx, dev, p))
	for _, step := range []time.Duration{time.Minute, 24 * time.Hour} { // the same day, the next
		before := r.now
		r.now = r.now.Add(step)
		r.check(t, "TouchDevice after "+step.String(), func() []Access {
			must(t, r.st.TouchDevice(ctx, dev, p))
			return TouchDevice(tid, contact, before, r.now)
		})
	}

	// The contact's first conversation (the contact is made), closed.
	_, first, err := r.st.OpenConversation(ctx, tid, contact, chat.ChannelWidget, p)
	must(t, err)
	r.check(t, "SetConversationStatus closed", func() []Access {
		_, err := r.st.SetConversationStatus(ctx, tid, first, chat.StatusClosed, p.InboxShards)
		must(t, err)
		return CloseConversation(tid, contact, first, p.InboxShards)
	})
	// An hour later it opens another.
	seen := r.now
	r.now = r.now.Add(time.Hour)
	var conv string
	r.check(t, "OpenConversation", func() []Access {
		_, conv, err = r.st.OpenConversation(ctx, tid, contact, chat.ChannelWidget, p)
		must(t, err)
		return OpenConversation(tid, contact, conv, p.InboxShards, seen, r.now)
	})
	seen = r.now
	r.now = r.now.Add(time.Minute)
	r.check(t, "Identify", func() []Access {
		_, err := r.st.Identify(ctx, tid, contact, "Ada Lovelace", "ada@example.com", p)
		must(t, err)
		return Identify(tid, contact, "ada@example.com", conv, p.InboxShards, seen, r.now)
	})
	r.check(t, "RecordLastMessage", func() []Access {
		_, err := r.st.RecordLastMessage(ctx, &chat.Message{ID: ids.New(ids.Message), TenantID: tid, ConversationID: conv,
			Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "hello", CreatedAt: r.now, KeepUntil: r.now.Add(time.Hour)})
		must(t, err)
		return RecordLastMessage(tid, conv)
	})
	r.check(t, "WithSummaries", func() []Access {
		must(t, r.st.WithSummaries(ctx, tid, []chat.Conversation{{ID: conv}, {ID: first}}))
		return WithSummaries(tid, conv, first)
	})
	must(t, r.st.PutAgentConnection(ctx, &chat.AgentConnection{ID: "console1", TenantID: tid, AgentID: "k1", ConnectedAt: r.now}))
	r.check(t, "AgentConnections", func() []Access {
		_, err := r.st.AgentConnections(ctx, tid)
		must(t, err)
		return AgentConnections(tid)
	})
	r.check(t, "Contact", func() []Access {
		_, err := r.st.Contact(ctx, tid, contact)
		must(t, err)
		return ReadContact(tid, contact)
	})
	r.check(t, "Conversation", func() []Access {
		_, err := r.st.Conversation(ctx, tid, conv)
		must(t, err)
		return ReadConversation(tid, conv)
	})
	text := strings.Repeat("Where is my order? ", 11)[:200]
	r.check(t, "PutMessage with sentAt", func() []Access {
		_, _, err := r.st.PutMessage(ctx, &chat.Message{TenantID: tid, ConversationID: conv, ContactID: contact,
			Author: chat.Author{Kind: chat.AuthorVisitor, Name: "Ada Lovelace"}, Text: text, Channel: chat.ChannelWidget,
			ClientMessageID: ids.New(""), SentAt: r.now, OriginConnectionID: conn}, p)
		must(t, err)
		return PutMessageSentAt(tid, conv)
	})
	r.check(t, "PutMessage with a marker", func() []Access {
		_, _, err := r.st.PutMessage(ctx, &chat.Message{TenantID: tid, ConversationID: conv, ContactID: contact,
			Author: chat.Author{Kind: chat.AuthorAgent, Name: "Grace"}, Text: text, Channel: chat.ChannelWidget,
			ClientMessageID: ids.New("")}, p)
		must(t, err)
		return PutMessageMarked(tid, conv)
	})
	seen = r.now
	r.now = r.now.Add(time.Minute)
	r.check(t, "TouchConversation", func() []Access {
		// As dispatch does: keep until the end of the message's retention.
		keep := time.Unix(retention.ExpiresAt(p, retention.Communication, r.now), 0)
		_, err := r.st.TouchConversation(ctx, tid, conv, r.now, keep, 0)
		must(t, err)
		return TouchConversation(tid, conv, p.InboxShards, seen, r.now)
	})
	for range MessagePageSize {
		_, _, err := r.st.PutMessage(ctx, &chat.Message{TenantID: tid, ConversationID: conv, ContactID: contact,
			Author: chat.Author{Kind: chat.AuthorVisitor, Name: "Ada Lovelace"}, Text: text, Channel: chat.ChannelWidget,
			ClientMessageID: ids.New("")}, p)
		must(t, err)
	}
	r.check(t, "History page", func() []Access {
		_, _, err := r.st.History(ctx, tid, conv, "", MessagePageSize)
		must(t, err)
		return MessagesPage(tid, conv, MessagePageSize)
	})
	for range InboxPageSize {
		_, _, err := r.st.OpenConversation(ctx, tid, ids.New(ids.Contact), chat.ChannelWidget, retention.Defaults)
		must(t, err)
	}
	// A one-shard inbox: the page is one Query of limit items. (A sharded
	// one reads each shard's share; store's inbox tests cover its order.)
	r.check(t, "ConversationsByStatus page", func() []Access {
		_, _, err := r.st.ConversationsByStatus(ctx, tid, chat.StatusOpen, 1, InboxPageSize, "")
		must(t, err)
		return InboxPage(tid, 1, InboxPageSize)
	})
	key := &chat.APIKey{ID: ids.New(ids.APIKey), TenantID: tid, Name: "agent", Role: "agent", Prefix: "lsb_abcd",
		Hash: strings.Repeat("ab", 32), CreatedBy: "owner", CreatedAt: r.now}
	must(t, r.st.PutAPIKey(ctx, key))
	r.check(t, "APIKey", func() []Access {
		_, err := r.st.APIKey(ctx, tid, key.ID)
		must(t, err)
		return ReadAPIKey(tid, key.ID)
	})
	r.check(t, "ParkDelivery", func() []Access {
		m := &chat.Message{ID: ids.New(ids.Message), TenantID: tid, ConversationID: conv, CreatedAt: r.now}
		must(t, r.st.ParkDelivery(ctx, "slack", m, p))
		return ParkDelivery(tid, "slack")
	})
	r.check(t, "PutAuditEvent", func() []Access {
		ev := &chat.AuditEvent{ID: ids.New(ids.Event), TenantID: tid, At: r.now, ActorKey: key.ID, ActorRole: "agent",
			Action: "message.create", Targets: map[string]string{"conversationId": conv, "messageId": ids.New(ids.Message)}}
		must(t, r.st.PutAuditEvent(ctx, ev, p))
		return PutAuditEvent(tid, ev.ID)
	})
}
