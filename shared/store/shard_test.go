package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// readAll pages through a list to its end, checking each page's size.
func readAll(t *testing.T, limit int, page func(cursor string) ([]string, string, error)) []string {
	t.Helper()
	var all []string
	cursor := ""
	for range 1000 {
		got, next, err := page(cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > limit || (next != "" && len(got) < limit) {
			t.Fatalf("page of %d items with next %q (limit %d)", len(got), next, limit)
		}
		all = append(all, got...)
		if next == "" {
			return all
		}
		cursor = next
	}
	t.Fatal("the list does not end")
	return nil
}

// TestInbox_ShardsKeepOrderAndPages puts a tenant's open conversations in
// several inbox shards, some written before sharding (one partition, the
// layout of earlier builds), some moved by activity, and reads the inbox a
// page at a time: every conversation comes exactly once, newest activity
// first, across shards and layouts.
func TestInbox_ShardsKeepOrderAndPages(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	now := time.Now().UTC().Truncate(time.Second)
	clock := now
	st := tt.Store().WithClock(func() time.Time { return clock })
	tid := ids.New(ids.Tenant)
	const shards = 8
	p := retention.Defaults
	p.InboxShards = shards

	var convs []string
	var partitions = map[string]bool{}
	for i := range 40 {
		q := p
		if i < 10 {
			q.InboxShards = 0 // written before the tenant had shards: shard 0
		}
		clock = now.Add(time.Duration(i) * time.Second)
		_, cv, err := st.OpenConversation(ctx, tid, ids.New(ids.Contact), chat.ChannelWidget, q)
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, cv)
		partitions[store.InboxKey(tid, chat.StatusOpen, cv, q.InboxShards)] = true
	}
	if len(partitions) < shards/2 {
		t.Fatalf("40 conversations in %d inbox partitions: the shards do not spread", len(partitions))
	}
	// Activity reorders some: the oldest five become the newest.
	for i, cv := range convs[:5] {
		at := now.Add(time.Hour + time.Duration(i)*time.Second)
		if _, err := st.TouchConversation(ctx, tid, cv, at, at.Add(24*time.Hour), store.InboxStep); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Clone(convs[:5])
	slices.Reverse(want)
	rest := slices.Clone(convs[5:])
	slices.Reverse(rest)
	want = append(want, rest...)

	for _, limit := range []int{1, 7, 50} {
		got := readAll(t, limit, func(cursor string) ([]string, string, error) {
			cs, next, err := st.ConversationsByStatus(ctx, tid, chat.StatusOpen, shards, limit, cursor)
			var out []string
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out, next, err
		})
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: inbox\n%v\nwant newest activity first\n%v", limit, got, want)
		}
	}

	// Closing moves a conversation to the closed inbox's shards.
	if _, err := st.SetConversationStatus(ctx, tid, convs[7], chat.StatusClosed, shards); err != nil {
		t.Fatal(err)
	}
	closed, _, err := st.ConversationsByStatus(ctx, tid, chat.StatusClosed, shards, 10, "")
	if err != nil || len(closed) != 1 || closed[0].ID != convs[7] {
		t.Errorf("closed inbox %v, %v; want %s", closed, err, convs[7])
	}
	open := readAll(t, 50, func(cursor string) ([]string, string, error) {
		cs, next, err := st.ConversationsByStatus(ctx, tid, chat.StatusOpen, shards, 50, cursor)
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out, next, err
	})
	if slices.Contains(open, convs[7]) || len(open) != 39 {
		t.Errorf("open inbox has %d conversations (closed one in it: %v)", len(open), slices.Contains(open, convs[7]))
	}
}

// TestInbox_MergedPageReadsAboutTwiceTheLimit shows what a page of a sharded
// inbox reads: each shard is asked for twice its share, so a page of 20 over
// 8 shards reads about 40 index items, not 8 x 20.
func TestInbox_MergedPageReadsAboutTwiceTheLimit(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive)
	tid := ids.New(ids.Tenant)
	p := retention.Defaults
	p.InboxShards = 8
	for range 200 {
		if _, _, err := st.OpenConversation(ctx, tid, ids.New(ids.Contact), chat.ChannelWidget, p); err != nil {
			t.Fatal(err)
		}
	}
	m.Reset()
	cs, _, err := st.ConversationsByStatus(ctx, tid, chat.StatusOpen, 8, 20, "")
	if err != nil || len(cs) != 20 {
		t.Fatalf("page: %d conversations, %v", len(cs), err)
	}
	calls, read, _ := m.Snapshot()
	// 8 shards x 5 items (2 x 20 / 8) = 40 items of about 600 bytes: 6 read
	// units of 4 KB at most, one Query per shard and a few refills.
	t.Logf("a page of 20 over 8 shards: %d Queries, %.1f read units", calls["Query"], read)
	if calls["Query"] > 8+4 || read > 8 {
		t.Errorf("a page of 20 over 8 shards made %d Queries and read %.1f units; want about 8 Queries and under 8 units", calls["Query"], read)
	}
}

// TestAudit_ShardsMergeNewestFirst writes audit events into their shards and
// lists them a page at a time, newest first, exactly once each, events
// written before sharding (the old single partition) included.
func TestAudit_ShardsMergeNewestFirst(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	st := tt.Store()
	tid := ids.New(ids.Tenant)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	var want []string
	parts := map[string]bool{}
	for i := range 30 {
		e := &chat.AuditEvent{ID: ids.New(ids.Event), TenantID: tid, At: t0.Add(time.Duration(i) * time.Millisecond),
			ActorKey: "k", ActorRole: "owner", Action: "tenant.read"}
		if i%6 == 0 {
			// As the build before sharding wrote it: the tenant's one partition.
			item, err := attributevalue.MarshalMap(map[string]any{"PK": store.TenantPrefix(tid) + "AUDIT",
				"SK": "EVT#" + store.TimeKey(e.At) + "#" + e.ID, "id": e.ID, "tenantId": tid, "at": e.At,
				"actorKeyId": "k", "actorRole": "owner", "action": "tenant.read", "dataClass": "technical", "entity": "auditEvent"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Data), Item: item}); err != nil {
				t.Fatal(err)
			}
		} else if err := st.PutAuditEvent(ctx, e, retention.Defaults); err != nil {
			t.Fatal(err)
		}
		parts[store.AuditPK(tid, e.ID)] = true
		want = append([]string{e.ID}, want...)
	}
	if len(parts) < 10 {
		t.Fatalf("30 events in %d partitions: the shards do not spread", len(parts))
	}
	got := readAll(t, 4, func(cursor string) ([]string, string, error) {
		evs, next, err := st.AuditEvents(ctx, tid, 4, cursor)
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out, next, err
	})
	if !slices.Equal(got, want) {
		t.Errorf("audit events\n%v\nwant newest first\n%v", got, want)
	}
	if _, _, err := st.AuditEvents(ctx, tid, 4, strings.Repeat("A", 20)); err == nil {
		t.Error("a forged cursor was taken")
	}
}

// TestRetentionIndex_ReadsEntriesOfBothLayouts: page views indexed before the
// retention index was sharded (the month's one partition) and after (their
// contact's shard) are all walked, each once.
func TestRetentionIndex_ReadsEntriesOfBothLayouts(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	now := at
	st := tt.Store().WithClock(func() time.Time { return now })
	tid := ids.New(ids.Tenant)
	want := map[string]bool{}
	for i := range 12 {
		now = at.Add(time.Duration(i) * time.Minute)
		c := ids.New(ids.Contact)
		pk := store.ContactPK(tid, c)
		if i%3 == 0 {
			// As the build before sharding indexed it.
			id := ids.New(ids.Event)
			item, err := attributevalue.MarshalMap(map[string]any{"PK": pk, "SK": store.PageViewSK(now, id),
				"GSI2PK": store.TenantPrefix(tid) + "RET#usage#2026-03", "GSI2SK": store.RetentionSort(now, pk),
				"dataClass": "usage", "entity": "pageView", "expiresAt": now.Add(90 * 24 * time.Hour).Unix(), "id": id})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Data), Item: item}); err != nil {
				t.Fatal(err)
			}
			want[pk] = true
			continue
		}
		if err := st.PutPageView(ctx, &chat.PageView{TenantID: tid, ContactID: c, Path: "/"}, retention.Defaults); err != nil {
			t.Fatal(err)
		}
		want[pk] = true
	}
	got := map[string]int{}
	after := ""
	for range 1000 {
		page, next, err := st.RetentionPage(ctx, tid, retention.Usage, at.AddDate(0, -1, 0), at.AddDate(0, 1, 0), after, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got[e.Cursor()]++
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(got) != len(want) {
		t.Errorf("walked %d entries, want %d (4 of the old layout, 8 sharded)", len(got), len(want))
	}
	for c, n := range got {
		if n != 1 {
			t.Errorf("entry %s walked %d times", c, n)
		}
	}
}
