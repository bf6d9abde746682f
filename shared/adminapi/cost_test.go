package adminapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// seedBulk writes n open conversations of the tenant with BatchWriteItem (fast
// seeding, straight to the table), each with its own contact's name and email,
// and returns their ids.
func (e *env) seedBulk(tenantID string, n int, start time.Time) []string {
	e.t.Helper()
	type convItem struct {
		store.Base
		chat.Conversation
	}
	var reqs []types.WriteRequest
	var out []string
	for i := range n {
		at := start.Add(time.Duration(i) * time.Second)
		cv := chat.Conversation{ID: ids.New(ids.Conversation), ContactID: ids.New(ids.Contact), Channel: chat.ChannelWidget,
			Status: chat.StatusOpen, CreatedAt: at, LastActivityAt: at,
			ContactName: "Visitor " + strconv.Itoa(i), ContactEmail: "visitor-" + strconv.Itoa(i) + "@example.com"}
		out = append(out, cv.ID)
		pk := store.ConversationPK(tenantID, cv.ID)
		item, err := attributevalue.MarshalMap(convItem{Base: store.Base{PK: pk, SK: store.SKMeta,
			GSI1PK: store.StatusKey(tenantID, chat.StatusOpen), GSI1SK: store.TimeKey(at) + "#" + cv.ID,
			GSI2PK: store.RetentionKey(tenantID, string(retention.Communication), at, pk), GSI2SK: store.RetentionSort(at, pk),
			DataClass: retention.Communication, Entity: "conversation",
			ExpiresAt: retention.ExpiresAt(retention.Defaults, retention.Communication, at)}, Conversation: cv})
		if err != nil {
			e.t.Fatal(err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	batches := make(chan []types.WriteRequest)
	for range 4 {
		wg.Go(func() {
			for b := range batches {
				for len(b) > 0 {
					out, err := e.tt.DB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
						RequestItems: map[string][]types.WriteRequest{e.tt.Data: b}})
					if err != nil {
						errs <- err
						return
					}
					b = out.UnprocessedItems[e.tt.Data]
				}
			}
		})
	}
	for i := 0; i < len(reqs); i += 25 {
		batches <- reqs[i:min(i+25, len(reqs))]
	}
	close(batches)
	wg.Wait()
	select {
	case err := <-errs:
		e.t.Fatal(err)
	default:
	}
	return out
}

type cost struct {
	calls string
	read  float64
}

// queries is the number of Queries in the cost's calls.
func (c cost) queries() int {
	for _, f := range strings.Fields(c.calls) {
		if n, ok := strings.CutPrefix(f, "Query="); ok {
			q, _ := strconv.Atoi(n)
			return q
		}
	}
	return 0
}

// measure runs one request and returns the DynamoDB calls and read units it cost.
func (e *env) measure(m *testaws.Meter, path, key string) (cost, response) {
	e.t.Helper()
	m.Reset()
	res := e.call(http.MethodGet, path, key, "")
	wantStatus(e.t, path, res, http.StatusOK)
	calls, read, _ := m.Snapshot()
	var names []string
	for k, v := range calls {
		names = append(names, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(names)
	return cost{calls: strings.Join(names, " "), read: read}, res
}

// TestListCost_FlatAsTenantGrows shows that list calls read only the page asked
// for: the DynamoDB requests and read units of each list are the same with 100
// and with 10,000 conversations in the tenant.
//
// The audit trail is kept in store.AuditShards shards and a page merges them:
// it asks each shard for its share of the page and refills a shard that holds
// more of the page than that, so its requests vary with how the newest events
// fell into shards, never with the tenant's size: at most one Query per shard
// and one refill per event of the page.
func TestListCost_FlatAsTenantGrows(t *testing.T) {
	m := testaws.NewMeter()
	// Every request reads the tenant (no cache), so each call's cost is its own.
	e := newMeteredEnv(t, m, func(d *adminapi.Deps) { d.TenantTTL = 0 })
	f := e.newFixture("Cost")
	base := time.Now().UTC().Add(-24 * time.Hour)
	e.seedBulk(f.ID, 100-1, base) // with the fixture's own: 100
	lists := []string{
		"/v1/conversations?status=open&limit=25",
		"/v1/conversations?status=open&limit=25&cursor=", // second page, cursor added below
		"/v1/conversations/" + f.ConvID + "/messages?limit=25",
		"/v1/contacts?email=" + url.QueryEscape(f.Email),
		"/v1/api-keys",
		"/v1/audit-events?limit=25",
	}
	run := func(size int) []cost {
		var out []cost
		next := ""
		for _, p := range lists {
			if strings.HasSuffix(p, "cursor=") {
				p += url.QueryEscape(next)
			}
			c, res := e.measure(m, p, f.OwnerKey)
			if n, ok := res.json(t)["next"].(string); ok && next == "" {
				next = n
			}
			t.Logf("%6d conversations  %-60s %-40s read units %.1f", size, strings.SplitN(p, "&cursor=", 2)[0], c.calls, c.read)
			out = append(out, c)
		}
		return out
	}
	small := run(100)
	start := time.Now()
	e.seedBulk(f.ID, 10000-100, base.Add(-12*time.Hour))
	t.Logf("seeded 9,900 conversations in %v", time.Since(start).Round(time.Millisecond))
	large := run(10000)
	for i := range lists {
		if strings.HasPrefix(lists[i], "/v1/audit-events") {
			for _, c := range []cost{small[i], large[i]} {
				if q := c.queries(); q < store.AuditShards || q > store.AuditShards+25 || c.read > 0.5*float64(q)+2 { // + the key and tenant reads
					t.Errorf("%s: %+v, want one Query per shard and at most one refill per event of the page", lists[i], c)
				}
			}
			continue
		}
		if small[i] != large[i] {
			t.Errorf("%s: cost grew with the tenant: %+v at 100, %+v at 10,000", lists[i], small[i], large[i])
		}
	}
	if calls, _, _ := m.Snapshot(); calls["Scan"] != 0 {
		t.Fatal("a list scanned")
	}
}

// TestListCost_Summaries measures a page of 50 conversations of the inbox with
// and without their summaries (last message, unread count). The summaries are
// one BatchGetItem of the page's 50 keys, each billed as its own eventually
// consistent read of an item under 4 KB: 0.5 RCU each, 25 a page, found or
// not. Without them the page costs what it did before summaries: the rest of
// the calls are the same.
func TestListCost_Summaries(t *testing.T) {
	m := testaws.NewMeter()
	// Every request reads the tenant (no cache), as a cold instance does.
	e := newMeteredEnv(t, m, func(d *adminapi.Deps) { d.TenantTTL = 0 })
	a := e.newTenant("Summaries")
	now := time.Now().UTC()
	for i, id := range e.seedBulk(a.ID, 50, now.Add(-time.Hour)) {
		// A visitor's message of 200 characters: the summary keeps 140.
		m := &chat.Message{TenantID: a.ID, ConversationID: id, ID: ids.New(ids.Message), CreatedAt: now,
			Author: chat.Author{Kind: chat.AuthorVisitor, Name: "Visitor " + strconv.Itoa(i)}, Text: strings.Repeat("x", 200),
			KeepUntil: now.Add(365 * 24 * time.Hour)}
		if _, err := e.store.RecordLastMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	after, res := e.measure(m, "/v1/conversations?status=open&limit=50", a.OwnerKey)
	items := res.json(t)["items"].([]any)
	if len(items) != 50 || items[0].(map[string]any)["lastMessage"] == nil || items[49].(map[string]any)["unread"] != float64(1) {
		t.Fatalf("the page lacks its summaries: %s", res.Body)
	}
	summaries := m.ByOperation()["BatchGetItem"]
	var calls []string
	for _, c := range strings.Fields(after.calls) {
		if !strings.HasPrefix(c, "BatchGetItem=") {
			calls = append(calls, c)
		}
	}
	before := cost{calls: strings.Join(calls, " "), read: after.read - summaries.Read}
	t.Logf("a page of 50 without summaries: %-50s read units %.1f", before.calls, before.read)
	t.Logf("a page of 50 with summaries:    %-50s read units %.1f", after.calls, after.read)
	if !strings.Contains(after.calls, "BatchGetItem=1") || summaries.Read != 25 {
		t.Errorf("summaries cost %s and %.1f RCU, want one BatchGetItem of 25 RCU", after.calls, summaries.Read)
	}
}
