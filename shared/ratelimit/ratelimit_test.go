package ratelimit_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
)

// clock is a settable clock for stores.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestWindow_NeverAdmitsMoreThanBurstPlusRate(t *testing.T) {
	limits := []chat.RateLimit{{Burst: 2, PerMinute: 1}, {Burst: 20, PerMinute: 30}, {Burst: 7, PerMinute: 7},
		{Burst: 300, PerMinute: 1800}, {Burst: 10000, PerMinute: 60000}, {Burst: 3, PerMinute: 60000}}
	for _, l := range limits {
		w, n := ratelimit.Window(l)
		if 2*n > l.Burst || n < 1 {
			t.Errorf("%+v: %d a window, want 1..burst/2", l, n)
		}
		// n in every window of length w: the sustained rate.
		if perMinute := float64(n) / w.Minutes(); perMinute > float64(l.PerMinute)+1e-9 {
			t.Errorf("%+v: window %v admits %d, %.3f a minute", l, w, n, perMinute)
		}
	}
}

// TestTake_AcrossInstances: two limiters over two stores, each with its own
// DynamoDB client (two Lambda instances), share one budget; a new window
// admits again; a rejected request says when to retry and counts nothing.
func TestTake_AcrossInstances(t *testing.T) {
	tt := testaws.NewTables(t)
	clk := &clock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	one := ratelimit.New(tt.Store().WithClock(clk.now))
	two := ratelimit.New(store.New(dynamodb.NewFromConfig(testaws.Config(t)), tt.Data, tt.Archive).WithClock(clk.now))
	ctx := context.Background()
	tenant := ids.New(ids.Tenant)
	subject := store.VisitorRateSubject(ids.New(ids.Contact))
	lim := chat.RateLimit{Burst: 10, PerMinute: 30} // 5 per 10 s window
	admitted := 0
	for i := range 12 {
		l := one
		if i%2 == 1 {
			l = two
		}
		err := l.Take(ctx, tenant, subject, ratelimit.SendMessage, lim)
		switch {
		case err == nil:
			admitted++
		case chat.ErrorCode(err) == chat.ERateLimited:
			if s, ok := ratelimit.RetryAfterSeconds(err); !ok || s != 10 {
				t.Fatalf("retry after %d s, want 10 (the window's end)", s)
			}
		default:
			t.Fatal(err)
		}
	}
	if admitted != 5 {
		t.Fatalf("two instances admitted %d, want 5 (one window)", admitted)
	}
	// Another bucket and another subject have their own budgets.
	if err := one.Take(ctx, tenant, subject, ratelimit.Typing, lim); err != nil {
		t.Fatalf("typing after a message flood: %v", err)
	}
	if err := one.Take(ctx, tenant, store.VisitorRateSubject(ids.New(ids.Contact)), ratelimit.SendMessage, lim); err != nil {
		t.Fatalf("another visitor: %v", err)
	}
	clk.add(7 * time.Second)
	if err := two.Take(ctx, tenant, subject, ratelimit.SendMessage, lim); chat.ErrorCode(err) != chat.ERateLimited {
		t.Fatalf("same window: %v, want rate_limited", err)
	} else if s, _ := ratelimit.RetryAfterSeconds(err); s != 3 {
		t.Fatalf("retry after %d s, want 3", s)
	}
	clk.add(3 * time.Second)
	if err := two.Take(ctx, tenant, subject, ratelimit.SendMessage, lim); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

// TestTake_BoundOverAnySpan sends a steady stream far over the limit and
// checks every span of the admitted times: at most burst + rate x span.
func TestTake_BoundOverAnySpan(t *testing.T) {
	tt := testaws.NewTables(t)
	clk := &clock{t: time.Date(2026, 11, 28, 10, 0, 3, 700e6, time.UTC)}
	l := ratelimit.New(tt.Store().WithClock(clk.now))
	lim := chat.RateLimit{Burst: 6, PerMinute: 60} // 3 per 3 s window
	tenant, subject := ids.New(ids.Tenant), store.KeyRateSubject(ids.New(ids.APIKey))
	var at []time.Time
	for range 400 {
		if err := l.Take(context.Background(), tenant, subject, ratelimit.APIKey, lim); err == nil {
			at = append(at, clk.now())
		} else if chat.ErrorCode(err) != chat.ERateLimited {
			t.Fatal(err)
		}
		clk.add(50 * time.Millisecond)
	}
	// 20 s of a flood at 20 a second: about a sustained 20 admitted, and never
	// more than the bound in any span.
	if len(at) < 18 || len(at) > 26 {
		t.Fatalf("admitted %d in 20 s, want about 20 (+ burst)", len(at))
	}
	for i := range at {
		for j := i; j < len(at); j++ {
			span := at[j].Sub(at[i])
			if max := lim.Burst + int(span.Minutes()*float64(lim.PerMinute)); j-i+1 > max {
				t.Fatalf("%d admitted in %v, more than burst + rate x span = %d", j-i+1, span, max)
			}
		}
	}
}

// TestTake_CostsOneWriteUnitAndExpires measures takes with testaws.Meter:
// one UpdateItem, 1 WCU, for each admitted request and for the first refused
// one of a window; later refusals in that window cost nothing (the instance
// knows the window is full); nothing is read. The counter item is under the
// tenant's keys and expires just after its window.
func TestTake_CostsOneWriteUnitAndExpires(t *testing.T) {
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	clk := &clock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithClock(clk.now)
	l := ratelimit.New(st)
	tenant, visitor := ids.New(ids.Tenant), ids.New(ids.Contact)
	lim := ratelimit.Defaults[ratelimit.SendMessage]
	for range 20 { // 10 admitted, 10 refused
		l.Take(context.Background(), tenant, store.VisitorRateSubject(visitor), ratelimit.SendMessage, lim)
	}
	calls, read, write := m.Snapshot()
	if calls["UpdateItem"] != 11 || len(calls) != 1 || read != 0 || write != 11 {
		t.Fatalf("20 takes: calls %v, %.1f RCU, %.1f WCU; want 11 UpdateItem (10 admitted, 1 refused), 0 RCU, 11 WCU", calls, read, write)
	}
	if a := m.Actions(); len(a) != 1 || a["UpdateItem"] != 11 {
		t.Fatalf("IAM actions %v, want only UpdateItem", a)
	}
	out, err := dynamodb.NewFromConfig(testaws.Config(t)).Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(tt.Data), KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.RatePK(tenant, store.VisitorRateSubject(visitor))}},
	})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("counter items %v, %v; want one", out, err)
	}
	var it struct {
		PK, SK    string
		N         int    `dynamodbav:"n"`
		ExpiresAt int64  `dynamodbav:"expiresAt"`
		DataClass string `dynamodbav:"dataClass"`
	}
	attributevalue.UnmarshalMap(out.Items[0], &it)
	w, n := ratelimit.Window(lim)
	if !strings.HasPrefix(it.PK, "T#"+tenant+"#") || it.N != n || it.DataClass != "technical" {
		t.Fatalf("counter %+v, want n=%d under T#%s#", it, n, tenant)
	}
	if end := clk.now().Add(w); it.ExpiresAt < end.Unix() || it.ExpiresAt > end.Add(2*time.Minute).Unix() {
		t.Fatalf("expiresAt %d, want just after the window's end %d", it.ExpiresAt, end.Unix())
	}
	if sz := testaws.ItemSize(out.Items[0]); sz > 1024 {
		t.Fatalf("counter item is %d bytes, over the 1 KB of one write unit", sz)
	}
}

func TestValidateAndEffective(t *testing.T) {
	issues := ratelimit.Validate(chat.RateLimits{SendMessage: chat.RateLimit{Burst: 1}, Typing: chat.RateLimit{PerMinute: -1},
		APIKey: chat.RateLimit{Burst: ratelimit.MaxBurst + 1, PerMinute: ratelimit.MaxPerMinute}, History: chat.RateLimit{Burst: 40}})
	for _, f := range []string{"sendMessage.burst", "typing.perMinute", "apiKey.burst"} {
		if issues[f] == "" {
			t.Errorf("%s: no issue in %v", f, issues)
		}
	}
	if len(issues) != 3 {
		t.Errorf("issues %v, want 3", issues)
	}
	tn := &chat.Tenant{RateLimits: chat.RateLimits{SendMessage: chat.RateLimit{Burst: 100}}}
	if got := ratelimit.Effective(tn, ratelimit.SendMessage); got != (chat.RateLimit{Burst: 100, PerMinute: 30}) {
		t.Errorf("effective %+v, want the burst override and the default rate", got)
	}
	if got := ratelimit.Effective(nil, ratelimit.APIKey); got != ratelimit.Defaults[ratelimit.APIKey] {
		t.Errorf("operator: %+v", got)
	}
	for _, a := range []string{"ping", "dance", ""} {
		if _, counted := ratelimit.FrameBucket(a); counted {
			t.Errorf("%q is counted", a)
		}
	}
}

// TestCounter_ExpiresEvenUnderALegalHold: TTL removes a counter of a held
// tenant, and the archive function does not put it back (a held tenant's
// items are restored, but a count is nobody's record; restored, counters
// would pile up without an expiry).
func TestCounter_ExpiresEvenUnderALegalHold(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store().WithSubjectKey(testaws.SubjectKey)
	ctx := context.Background()
	tn := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Held", Status: "active", CreatedAt: time.Now().UTC()}
	tn.WidgetKey = "wk_" + tn.ID + "_" + ids.Secret(16)
	if err := st.PutTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTenantHold(ctx, tn.ID, true); err != nil {
		t.Fatal(err)
	}
	visitor := store.VisitorRateSubject(ids.New(ids.Contact))
	if err := ratelimit.New(st).Take(ctx, tn.ID, visitor, ratelimit.SendMessage, ratelimit.Defaults[ratelimit.SendMessage]); err != nil {
		t.Fatal(err)
	}
	recs := tt.ExpireTTL(t, time.Now().Add(time.Hour))
	if len(recs) == 0 {
		t.Fatal("TTL removed nothing")
	}
	res, err := archive.New(archive.Deps{Store: st, Suppressions: st, Log: slog.New(slog.DiscardHandler)}).Handle(ctx, events.DynamoDBEvent{Records: recs})
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("archive: %v %+v", err, res)
	}
	for _, it := range tt.ScanAll(t, tt.Data) {
		if pk := it["PK"].(*types.AttributeValueMemberS).Value; strings.HasPrefix(pk, store.RatePK(tn.ID, "")) {
			t.Fatalf("the counter was put back: %v", it)
		}
	}
}

// TestTake_AFullWindowInMemoryDoesNotOutliveItsLimit: the instance's memory of
// a full window is of that limit; a raised limit asks DynamoDB again, and the
// memory ends with the window.
func TestTake_AFullWindowInMemoryDoesNotOutliveItsLimit(t *testing.T) {
	tt := testaws.NewTables(t)
	clk := &clock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	l := ratelimit.New(tt.Store().WithClock(clk.now))
	ctx := context.Background()
	tenant, subject := ids.New(ids.Tenant), store.VisitorRateSubject(ids.New(ids.Contact))
	low, raised := chat.RateLimit{Burst: 4, PerMinute: 12}, chat.RateLimit{Burst: 8, PerMinute: 24} // 2 and 4 per 10 s
	take := func(lim chat.RateLimit) bool {
		err := l.Take(ctx, tenant, subject, ratelimit.SendMessage, lim)
		if err != nil && chat.ErrorCode(err) != chat.ERateLimited {
			t.Fatal(err)
		}
		return err == nil
	}
	if got := []bool{take(low), take(low), take(low), take(low)}; !slices.Equal(got, []bool{true, true, false, false}) {
		t.Fatalf("the low limit admits %v, want exactly 2", got)
	}
	if got := []bool{take(raised), take(raised), take(raised)}; !slices.Equal(got, []bool{true, true, false}) {
		t.Fatal("the raised limit, same window and counter, does not admit 2 more")
	}
	clk.add(10 * time.Second)
	if !take(low) {
		t.Fatal("the next window refused from memory")
	}
}
