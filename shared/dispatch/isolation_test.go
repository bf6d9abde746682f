package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/store"
)

const (
	tenantID  = "t0000000000000000000000000"
	contactID = "c0000000000000000000000000"
)

// records returns message records i = from..to of the sample event's
// conversation (of tenant), in stream order, with texts m<i> by the visitor.
func records(t *testing.T, tenant string, from, to int) []events.DynamoDBEventRecord {
	t.Helper()
	var ev events.DynamoDBEvent
	testaws.LoadEvent(t, "dispatch.json", &ev)
	base := ev.Records[0]
	pk := events.NewStringAttribute(store.ConversationPK(tenant, "cv00000000000000000000000000"))
	var out []events.DynamoDBEventRecord
	for i := from; i <= to; i++ {
		r := base
		id := fmt.Sprintf("m%026d", i)
		sk := fmt.Sprintf("MSG#2026-11-28T10:00:%02d.000000Z#%s", i, id)
		img := map[string]events.DynamoDBAttributeValue{}
		for k, v := range base.Change.NewImage {
			img[k] = v
		}
		img["PK"], img["tenantId"] = pk, events.NewStringAttribute(tenant)
		img["SK"], img["id"], img["text"] = events.NewStringAttribute(sk), events.NewStringAttribute(id), events.NewStringAttribute(fmt.Sprintf("m%d", i))
		img["authorKind"], img["createdAt"] = events.NewStringAttribute("visitor"), events.NewStringAttribute(fmt.Sprintf("2026-11-28T10:00:%02dZ", i))
		r.EventID = fmt.Sprint(i)
		r.Change.NewImage = img
		r.Change.Keys = map[string]events.DynamoDBAttributeValue{"PK": pk, "SK": events.NewStringAttribute(sk)}
		r.Change.SequenceNumber = fmt.Sprintf("1%020d", i)
		out = append(out, r)
	}
	return out
}

// stream plays the event source mapping: it hands the batch to h and, while
// records fail, hands it again from the first failed record on (Lambda's
// checkpoint with ReportBatchItemFailures), at most tries times. It returns the
// failures of the first attempt.
func stream(t *testing.T, h *dispatch.Handler, recs []events.DynamoDBEventRecord, tries int) (first []events.DynamoDBBatchItemFailure) {
	t.Helper()
	for try := range tries {
		res, err := h.Batch(context.Background(), events.DynamoDBEvent{Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if try == 0 {
			first = res.BatchItemFailures
		}
		if len(res.BatchItemFailures) == 0 {
			return first
		}
		from := len(recs)
		for _, f := range res.BatchItemFailures {
			if i := slices.IndexFunc(recs, func(r events.DynamoDBEventRecord) bool { return r.Change.SequenceNumber == f.ItemIdentifier }); i >= 0 && i < from {
				from = i
			}
		}
		recs = recs[from:]
	}
	return first
}

// calls records the deliveries the deliverers were asked for, in order.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(s string) { c.mu.Lock(); c.log = append(c.log, s); c.mu.Unlock() }
func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

type fixture struct {
	tt    *testaws.Tables
	st    *store.Store
	mgmt  *pushertest.Server
	log   *slog.Logger
	order *calls // every delivery: "widget:m1", "slack:m1", ...
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tt := testaws.NewTables(t)
	st := tt.Store()
	f := &fixture{tt: tt, st: st, mgmt: pushertest.New(t), log: slog.New(slog.NewTextHandler(io.Discard, nil)), order: &calls{}}
	if err := st.PutConnection(context.Background(), &chat.Connection{ID: "tab", TenantID: tenantID, ContactID: contactID, ConnectedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return f
}

// put stores the messages of records, as the stream saw them written.
func (f *fixture) put(t *testing.T, recs []events.DynamoDBEventRecord) []events.DynamoDBEventRecord {
	t.Helper()
	for _, r := range recs {
		item, err := store.FromStreamImage(r.Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &f.tt.Data, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

func (f *fixture) handler(widget dispatch.Deliverer, sl *slack) *dispatch.Handler {
	return dispatch.New(dispatch.Deps{Store: f.st, Tenants: store.NewTenantCache(f.st, time.Minute), Log: f.log,
		Deliverers: []dispatch.Deliverer{widget}, Outbound: []dispatch.Destination{{Name: "slack", Deliverer: sl}}})
}

// widget is the real widget deliverer, its calls recorded; fail makes it fail
// for a message text (each call returns the next error; nil when none are left).
func (f *fixture) widget(fail map[string][]error) dispatch.Deliverer {
	w := &dispatch.Widget{Store: f.st, Pusher: f.mgmt.Pusher(), Log: f.log}
	var mu sync.Mutex
	return dispatch.DelivererFunc(func(ctx context.Context, m *chat.Message) error {
		f.order.add("widget:" + m.Text)
		mu.Lock()
		var err error
		if errs := fail[m.Text]; len(errs) > 0 {
			err, fail[m.Text] = errs[0], errs[1:]
		}
		mu.Unlock()
		if err != nil {
			return err
		}
		return w.Deliver(ctx, m)
	})
}

// slack is a Slack-like destination that posts each message once (as the
// bridge's post records make it); while down every call fails, and with hang
// it blocks until its context ends.
type slack struct {
	f     *fixture
	mu    sync.Mutex
	down  map[string]bool // by tenant; "*" for all
	hang  bool
	posts []string // "<tenant>:<text>" ... in order
}

func (s *slack) Deliver(ctx context.Context, m *chat.Message) error {
	s.f.order.add("slack:" + m.Text)
	s.mu.Lock()
	hang, down := s.hang, s.down["*"] || s.down[m.TenantID]
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if down {
		return errors.New("slack: 503 service unavailable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := m.TenantID + ":" + m.Text; !slices.Contains(s.posts, p) {
		s.posts = append(s.posts, p)
	}
	return nil
}

func (s *slack) set(down map[string]bool, hang bool) {
	s.mu.Lock()
	s.down, s.hang = down, hang
	s.mu.Unlock()
}

func (s *slack) posted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.posts {
		out = append(out, strings.TrimPrefix(p, tenantID+":"))
	}
	return out
}

// widgetFrames is how many message frames the visitor's tab got per text.
func (f *fixture) widgetFrames() map[string]int {
	out := map[string]int{}
	for _, fr := range f.mgmt.Frames("tab") {
		for i := 1; i <= 9; i++ {
			if strings.Contains(fr, fmt.Sprintf(`"text":"m%d"`, i)) {
				out[fmt.Sprintf("m%d", i)]++
			}
		}
	}
	return out
}

func retry(t *testing.T, h *dispatch.Handler) dispatch.RetrySummary {
	t.Helper()
	sum, err := h.Retry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestDispatch_SlackDownDoesNotRedeliverOrHoldBackTheWidget: with Slack failing,
// every message reaches the widget once, and no stream record is reported failed
// because of Slack (a failed record is retried from there on, which re-ran every
// deliverer: the widget got the message again, and the shard waited). The Slack
// deliveries are parked and the retry run posts them once, in order, when Slack
// is back.
func TestDispatch_SlackDownDoesNotRedeliverOrHoldBackTheWidget(t *testing.T) {
	f := newFixture(t)
	sl := &slack{f: f, down: map[string]bool{"*": true}}
	h := f.handler(f.widget(nil), sl)
	if failed := stream(t, h, f.put(t, records(t, tenantID, 1, 3)), 6); len(failed) != 0 {
		t.Errorf("Slack being down failed the records %v: the stream would retry them", failed)
	}
	if got := f.widgetFrames(); fmt.Sprint(got) != "map[m1:1 m2:1 m3:1]" {
		t.Errorf("widget frames %v, want each message once", got)
	}
	// The widget is never held back behind Slack: every widget delivery of the
	// batch comes before the first Slack attempt.
	order := f.order.get()
	if i := slices.Index(order, "slack:m1"); i >= 0 && slices.Index(order, "widget:m3") > i {
		t.Errorf("delivery order %v: the widget waited for Slack", order)
	}
	// One failed attempt parks the tenant's deliveries: m2 and m3 are not tried.
	if n := count(order, "slack:m1") + count(order, "slack:m2") + count(order, "slack:m3"); n != 1 {
		t.Errorf("Slack was tried %d times from the stream (%v), want once", n, order)
	}
	if got := retry(t, h); got != (dispatch.RetrySummary{Failed: 1, Left: 2}) {
		t.Errorf("retry while Slack is down: %+v, want one failed attempt, two left behind it", got)
	}
	sl.set(nil, false)
	if got := retry(t, h); got != (dispatch.RetrySummary{Delivered: 3}) {
		t.Errorf("retry once Slack is back: %+v", got)
	}
	if got := retry(t, h); got != (dispatch.RetrySummary{}) {
		t.Errorf("a second retry run found %+v", got)
	}
	if fmt.Sprint(sl.posted()) != "[m1 m2 m3]" {
		t.Errorf("Slack posts %v, want m1 m2 m3 once, in order", sl.posted())
	}
	if got := f.widgetFrames(); fmt.Sprint(got) != "map[m1:1 m2:1 m3:1]" {
		t.Errorf("after the retry run, widget frames %v", got)
	}
}

// TestDispatch_RetryStartsAtTheFailedRecord: Lambda retries a batch from its
// first failed record, so records before it are not run again and records after
// it are not run before it: nothing reaches the widget or Slack twice.
func TestDispatch_RetryStartsAtTheFailedRecord(t *testing.T) {
	f := newFixture(t)
	sl := &slack{f: f}
	h := f.handler(f.widget(map[string][]error{"m2": {errors.New("execute-api: 500")}}), sl)
	stream(t, h, f.put(t, records(t, tenantID, 1, 3)), 3)
	if got := f.widgetFrames(); fmt.Sprint(got) != "map[m1:1 m2:1 m3:1]" {
		t.Errorf("widget frames %v, want each message once", got)
	}
	order := f.order.get()
	for _, m := range []string{"m1", "m3"} {
		if n := count(order, "widget:"+m) + count(order, "slack:"+m); n != 2 {
			t.Errorf("%s was delivered %d times (%v), want once to each destination", m, n, order)
		}
	}
	if fmt.Sprint(sl.posted()) != "[m1 m2 m3]" {
		t.Errorf("Slack posts %v, want m1 m2 m3 in order", sl.posted())
	}
}

// TestDispatch_ParkedTenantKeepsOrderAcrossBatches: once a message is parked,
// the tenant's later messages are parked behind it even when Slack is back, so
// the retry run posts them in order; another tenant is not held.
func TestDispatch_ParkedTenantKeepsOrderAcrossBatches(t *testing.T) {
	f := newFixture(t)
	other := "t1111111111111111111111111"
	sl := &slack{f: f, down: map[string]bool{tenantID: true}}
	h := f.handler(f.widget(nil), sl)
	stream(t, h, f.put(t, append(records(t, tenantID, 1, 1), records(t, other, 1, 1)...)), 1)
	sl.set(nil, false)
	stream(t, h, f.put(t, records(t, tenantID, 2, 2)), 1)
	if fmt.Sprint(sl.posted()) != "["+other+":m1]" {
		t.Fatalf("Slack posts %v before the retry run, want only the other tenant's", sl.posted())
	}
	if got := retry(t, h); got != (dispatch.RetrySummary{Delivered: 2}) {
		t.Errorf("retry: %+v", got)
	}
	if fmt.Sprint(sl.posted()) != "["+other+":m1 m1 m2]" {
		t.Errorf("Slack posts %v, want m1 then m2", sl.posted())
	}
	if has, err := f.st.HasParkedDeliveries(context.Background(), tenantID, "slack"); has || err != nil {
		t.Errorf("deliveries still parked: %v %v", has, err)
	}
}

// TestDispatch_HangingSlackIsBounded: a Slack that does not answer costs one
// bounded attempt per tenant and batch; the rest is parked untried.
func TestDispatch_HangingSlackIsBounded(t *testing.T) {
	f := newFixture(t)
	sl := &slack{f: f, hang: true}
	h := f.handler(f.widget(nil), sl)
	h.AttemptTimeout = 20 * time.Millisecond
	stream(t, h, f.put(t, records(t, tenantID, 1, 3)), 1)
	order := f.order.get()
	if fmt.Sprint(order) != "[widget:m1 widget:m2 widget:m3 slack:m1]" {
		t.Errorf("deliveries %v, want the widget's, then one Slack attempt", order)
	}
	sl.set(nil, false)
	if got := retry(t, h); got != (dispatch.RetrySummary{Delivered: 3}) {
		t.Errorf("retry: %+v", got)
	}
}

// TestRetry_DropsWhatIsGoneAndGivesUpAfterADay: a parked delivery whose message
// was erased is dropped without an attempt; one parked for over GiveUpAfter is
// dropped, untried, and logged as an error (without the text).
func TestRetry_DropsWhatIsGoneAndGivesUpAfterADay(t *testing.T) {
	f := newFixture(t)
	sl := &slack{f: f, down: map[string]bool{"*": true}}
	h := f.handler(f.widget(nil), sl)
	recs := f.put(t, records(t, tenantID, 1, 2))
	stream(t, h, recs, 1)
	ctx := context.Background()
	if _, err := f.tt.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &f.tt.Data,
		Key: testaws.Key(recs[0].Change.Keys["PK"].String(), recs[0].Change.Keys["SK"].String())}); err != nil {
		t.Fatal(err)
	}
	if got := retry(t, h); got != (dispatch.RetrySummary{Dropped: 1, Failed: 1}) {
		t.Errorf("retry: %+v, want the erased message's delivery dropped and m2 failed", got)
	}
	tries := count(f.order.get(), "slack:m2")
	logs := &strings.Builder{}
	h.Log = slog.New(slog.NewJSONHandler(logs, nil))
	h.Store = f.st.WithClock(func() time.Time { return time.Now().Add(dispatch.GiveUpAfter + time.Minute) })
	if got := retry(t, h); got != (dispatch.RetrySummary{Dropped: 1}) {
		t.Errorf("retry a day later: %+v, want m2 given up", got)
	}
	if count(f.order.get(), "slack:m2") != tries || count(f.order.get(), "slack:m1") != 1 {
		t.Errorf("deliveries %v: a dropped delivery was tried", f.order.get())
	}
	if !strings.Contains(logs.String(), `"msg":"delivery given up"`) || strings.Contains(logs.String(), `"m2"`) {
		t.Errorf("logs %s: want the give-up logged, without the text", logs.String())
	}
	if has, _ := f.st.HasParkedDeliveries(ctx, tenantID, "slack"); has {
		t.Error("deliveries still parked")
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// TestInvoke_RoutesStreamBatchesAndTheSchedule: the function's one entry point
// takes the stream's batches and the retry schedule's EventBridge event.
func TestInvoke_RoutesStreamBatchesAndTheSchedule(t *testing.T) {
	f := newFixture(t)
	sl := &slack{f: f, down: map[string]bool{"*": true}}
	h := f.handler(f.widget(nil), sl)
	raw, err := json.Marshal(events.DynamoDBEvent{Records: f.put(t, records(t, tenantID, 1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(context.Background(), raw)
	if res, ok := out.(events.DynamoDBEventResponse); err != nil || !ok || len(res.BatchItemFailures) != 0 {
		t.Fatalf("stream batch: %#v %v", out, err)
	}
	sl.set(nil, false)
	scheduled := `{"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
		"time":"2026-11-28T10:01:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/x"],"detail":{}}`
	out, err = h.Handle(context.Background(), json.RawMessage(scheduled))
	if sum, ok := out.(dispatch.RetrySummary); err != nil || !ok || sum.Delivered != 1 {
		t.Fatalf("scheduled event: %#v %v", out, err)
	}
	if _, err := h.Handle(context.Background(), json.RawMessage(`{"hello":"world"}`)); err == nil {
		t.Error("an unknown event was accepted")
	}
}

// TestDispatch_NoAttemptPastTheDeadline: close to the invocation's deadline the
// stream side parks instead of trying (a timed-out invocation would make Lambda
// hand over the whole batch again), and the retry run stops and leaves the rest
// to the next run.
func TestDispatch_NoAttemptPastTheDeadline(t *testing.T) {
	f := newFixture(t)
	sl := &slack{f: f}
	h := f.handler(f.widget(nil), sl)
	ctx, cancel := context.WithTimeout(context.Background(), dispatch.DefaultAttemptTimeout)
	defer cancel()
	raw := f.put(t, records(t, tenantID, 1, 2))
	if res, err := h.Batch(ctx, events.DynamoDBEvent{Records: raw}); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("handle: %+v %v", res.BatchItemFailures, err)
	}
	if got := f.order.get(); fmt.Sprint(got) != "[widget:m1 widget:m2]" {
		t.Errorf("deliveries %v, want the widget's only", got)
	}
	short, cancel2 := context.WithTimeout(context.Background(), dispatch.RetryTimeout)
	defer cancel2()
	if sum, err := h.Retry(short); err != nil || sum != (dispatch.RetrySummary{OutOfTime: true}) {
		t.Errorf("retry near the deadline: %+v %v", sum, err)
	}
	if got := retry(t, h); got != (dispatch.RetrySummary{Delivered: 2}) {
		t.Errorf("retry: %+v", got)
	}
}
