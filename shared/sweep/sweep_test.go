package sweep_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/sweep"
)

var t0 = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// tracked is an item the fixture wrote, with its class and retention basis.
type tracked struct {
	class retention.Class
	basis time.Time
}

type world struct {
	tt    *testaws.Tables
	st    *store.Store
	now   *time.Time
	items map[string]tracked // "PK|SK" -> class and basis
	log   *bytes.Buffer
}

func newWorld(t *testing.T) *world {
	tt := testaws.NewTables(t)
	now := t0
	w := &world{tt: tt, now: &now, items: map[string]tracked{}, log: &bytes.Buffer{}}
	w.st = tt.Store().WithClock(func() time.Time { return *w.now })
	return w
}

func (w *world) track(pk, sk string, c retention.Class, basis time.Time) {
	w.items[pk+"|"+sk] = tracked{c, basis}
}

func (w *world) tenant(t *testing.T, p retention.Periods) *chat.Tenant {
	t.Helper()
	*w.now = t0.Add(-400 * day)
	ten := &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active", Retention: p, CreatedAt: *w.now}
	if err := w.st.PutTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	*w.now = t0
	return ten
}

// visitor writes, at time at, everything one widget visitor leaves: contact,
// conversation, pointer, message, dedupe marker, page view and device.
func (w *world) visitor(t *testing.T, ten *chat.Tenant, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	saved := *w.now
	defer func() { *w.now = saved }()
	*w.now = at
	p := ten.Periods()
	c := ids.New(ids.Contact)
	_, conv, err := w.st.OpenConversation(ctx, ten.ID, c, chat.ChannelWidget, p)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := w.st.PutMessage(ctx, &chat.Message{TenantID: ten.ID, ConversationID: conv, ContactID: c,
		Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "hi", Channel: chat.ChannelWidget, ClientMessageID: "x" + c}, p)
	if err != nil {
		t.Fatal(err)
	}
	pv := &chat.PageView{TenantID: ten.ID, ContactID: c, Path: "/"}
	if err := w.st.PutPageView(ctx, pv, p); err != nil {
		t.Fatal(err)
	}
	if err := w.st.TouchDevice(ctx, &chat.Device{TenantID: ten.ID, ContactID: c, Device: "desktop", OS: "Linux"}, p); err != nil {
		t.Fatal(err)
	}
	cpk, vpk := store.ContactPK(ten.ID, c), store.ConversationPK(ten.ID, conv)
	w.track(cpk, store.SKProfile, retention.Personal, at)
	w.track(vpk, store.SKMeta, retention.Communication, store.DayEnd(at)) // a conversation counts from the end of its day
	w.track(cpk, "CONV#"+conv, retention.Communication, at)
	w.track(vpk, store.MessageSK(m.CreatedAt, m.ID), retention.Communication, at)
	w.track(vpk, "CMID#x"+c, retention.Technical, at)
	w.track(cpk, store.PageViewSK(pv.At, pv.ID), retention.Usage, at)
	w.track(cpk, store.DeviceSK("desktop", "Linux"), retention.Technical, store.DayEnd(at)) // a device's basis is the end of its day
	return c
}

// snapshot maps "PK|SK" to expiresAt (0 when none) for every Data item.
func (w *world) snapshot(t *testing.T) map[string]int64 {
	out := map[string]int64{}
	for _, it := range w.tt.ScanAll(t, w.tt.Data) {
		k := it["PK"].(*types.AttributeValueMemberS).Value + "|" + it["SK"].(*types.AttributeValueMemberS).Value
		var exp int64
		if n, ok := it["expiresAt"].(*types.AttributeValueMemberN); ok {
			exp, _ = strconv.ParseInt(n.Value, 10, 64)
		}
		out[k] = exp
	}
	return out
}

// expect computes what the sweep must leave of each tracked item of the
// affected tenant under the new periods: a live item whose basis plus the new
// period is earlier than its expiresAt is re-stamped, or deleted once past
// (except communication, which is re-stamped so TTL archives it). Everything
// else stays as it was.
func (w *world) expect(before map[string]int64, tenantID string, p retention.Periods) map[string]int64 {
	want := map[string]int64{}
	prefix := store.TenantPrefix(tenantID)
	for k, exp := range before {
		want[k] = exp
		tr, ok := w.items[k]
		if !ok || len(k) < len(prefix) || k[:len(prefix)] != prefix || exp == 0 || exp <= t0.Unix() {
			continue
		}
		n := retention.ExpiresAt(p, tr.class, tr.basis)
		switch {
		case n >= exp:
		case retention.Archived(tr.class) || n > t0.Unix():
			want[k] = n
		default:
			delete(want, k)
		}
	}
	return want
}

func diff(t *testing.T, got, want map[string]int64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s deleted, want expiresAt %s", k, time.Unix(v, 0).UTC())
		case g != v && !isSweepState(k):
			t.Errorf("%s expiresAt %s, want %s", k, time.Unix(g, 0).UTC(), time.Unix(v, 0).UTC())
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !isSweepState(k) {
			t.Errorf("%s still there, want deleted", k)
		}
	}
}

// isSweepState says k is the sweep's own bookkeeping: a tenant's sweep state or
// the suppression migration's marker, which each run renews.
func isSweepState(k string) bool {
	return len(k) > 6 && k[len(k)-6:] == "|SWEEP" || k == store.MigrationsPK+"|"+store.SKSuppressSharded
}

func (w *world) sweeper(opt sweep.Options) *sweep.Sweeper {
	return sweep.New(sweep.Deps{Store: w.st, Log: slog.New(slog.NewJSONHandler(w.log, nil)), Options: opt})
}

var shorter = retention.Periods{PersonalDays: 100, CommunicationDays: 30, UsageDays: 10, TechnicalDays: 7}

// fixture: one tenant that will shorten its periods and one that will not, each
// with visitors spread over the last 200 days.
func fixture(t *testing.T) (*world, *chat.Tenant, *chat.Tenant) {
	w := newWorld(t)
	a, b := w.tenant(t, retention.Periods{}), w.tenant(t, retention.Periods{})
	for _, ago := range []int{200, 95, 50, 20, 8, 5, 1} {
		w.visitor(t, a, t0.Add(-time.Duration(ago)*day))
		w.visitor(t, b, t0.Add(-time.Duration(ago)*day))
	}
	// A first sweep records the periods the items are in line with; nothing changes.
	before := w.snapshot(t)
	if _, err := w.sweeper(sweep.Options{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	diff(t, w.snapshot(t), before)
	return w, a, b
}

func shorten(t *testing.T, w *world, ten *chat.Tenant) {
	t.Helper()
	p := shorter
	if _, err := w.st.UpdateTenantSettings(context.Background(), ten.ID, chat.TenantSettings{Retention: &p}); err != nil {
		t.Fatal(err)
	}
}

func TestSweep_ShorteningRestampsOrDeletesExactlyTheAffectedItems(t *testing.T) {
	w, a, _ := fixture(t)
	shorten(t, w, a)
	before := w.snapshot(t)
	want := w.expect(before, a.ID, retention.Merge(shorter))
	sum, err := w.sweeper(sweep.Options{}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	diff(t, w.snapshot(t), want)
	restamped, deleted := changeCount(before, want)
	if restamped == 0 || deleted == 0 {
		t.Fatalf("fixture too weak: %d re-stamps, %d deletes expected", restamped, deleted)
	}
	var gotR, gotD int
	for _, c := range sum.Counts[a.ID] {
		gotR, gotD = gotR+c.Restamped, gotD+c.Deleted
	}
	if gotR != restamped || gotD != deleted {
		t.Fatalf("summary counts %d re-stamped, %d deleted; the table shows %d and %d", gotR, gotD, restamped, deleted)
	}
	t.Logf("%d items re-stamped, %d deleted", restamped, deleted)
	if _, other := sum.Counts[""]; other {
		t.Fatal("counts for an empty tenant id")
	}
	if !bytes.Contains(w.log.Bytes(), []byte(`"msg":"retention sweep"`)) || !bytes.Contains(w.log.Bytes(), []byte(a.ID)) {
		t.Fatalf("no summary line with the tenant's counts: %s", w.log)
	}
	// A second run finds nothing left to do.
	again, err := w.sweeper(sweep.Options{}).Run(context.Background())
	if err != nil || again.Writes != 0 {
		t.Fatalf("second run wrote %d items (%v)", again.Writes, err)
	}
}

func TestSweep_StopsAtItsBudgetAndContinuesFromTheCheckpoint(t *testing.T) {
	w, a, _ := fixture(t)
	shorten(t, w, a)
	want := w.expect(w.snapshot(t), a.ID, retention.Merge(shorter))
	runs := 0
	for ; runs < 50; runs++ {
		sum, err := w.sweeper(sweep.Options{MaxWrites: 4, PageSize: 2}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Stopped {
			break
		}
	}
	if runs < 3 {
		t.Fatalf("finished in %d runs; the budget did not bound the work", runs+1)
	}
	diff(t, w.snapshot(t), want)
}

func TestSweep_StopsBeforeTheLambdaDeadline(t *testing.T) {
	w, a, _ := fixture(t)
	shorten(t, w, a)
	before := w.snapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := w.sweeper(sweep.Options{StopBefore: time.Minute}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Stopped || sum.Writes != 0 {
		t.Fatalf("with less time left than StopBefore: stopped=%v writes=%d", sum.Stopped, sum.Writes)
	}
	diff(t, w.snapshot(t), before)
}

// TestSweep_ARunWhileAnotherHoldsTheLeaseLeavesTheTenant plays two runs at once
// deterministically (moto's backends are not thread-safe, so the test does not
// race real goroutines against it): while one run holds a tenant's lease, a
// second run skips that tenant and writes nothing; once the lease has lapsed
// (the first run died), the next run does the work, once.
func TestSweep_ARunWhileAnotherHoldsTheLeaseLeavesTheTenant(t *testing.T) {
	w, a, _ := fixture(t)
	shorten(t, w, a)
	before := w.snapshot(t)
	want := w.expect(before, a.ID, retention.Merge(shorter))
	if st, err := w.st.AcquireSweep(context.Background(), a.ID, "first-run", t0.Add(10*time.Minute)); err != nil || st == nil {
		t.Fatalf("first run's lease: %v %v", st, err)
	}
	sum, err := w.sweeper(sweep.Options{Owner: "second-run"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 1 || len(sum.Counts[a.ID]) != 0 {
		t.Fatalf("second run: skipped %d, counts %v; want the leased tenant left alone", sum.Skipped, sum.Counts[a.ID])
	}
	diff(t, w.snapshot(t), before)
	*w.now = t0.Add(11 * time.Minute)
	sum, err = w.sweeper(sweep.Options{Owner: "third-run"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	*w.now = t0
	diff(t, w.snapshot(t), want)
	changes := 0
	for _, c := range sum.Counts[a.ID] {
		changes += c.Restamped + c.Deleted
	}
	if r, d := changeCount(before, want); changes != r+d {
		t.Fatalf("the run after the lapsed lease made %d changes, want %d", changes, r+d)
	}
}

// changeCount counts the items want changes or deletes relative to before.
func changeCount(before, want map[string]int64) (restamped, deleted int) {
	for k, v := range before {
		w, ok := want[k]
		switch {
		case !ok:
			deleted++
		case w != v:
			restamped++
		}
	}
	return restamped, deleted
}

func TestSweep_DeletesPersonalDataOfAClosedAccountWhenGraceEnds(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ten := w.tenant(t, retention.Periods{ClosedGraceDays: 30})
	c1 := w.visitor(t, ten, t0.Add(-10*day))
	c2 := w.visitor(t, ten, t0.Add(-3*day))
	if _, err := w.st.SetContactHold(ctx, ten.ID, c2, true); err != nil {
		t.Fatal(err)
	}
	if err := w.st.CloseTenant(ctx, ten.ID); err != nil {
		t.Fatal(err)
	}
	// Within the grace period nothing personal goes.
	*w.now = t0.Add(29 * day)
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Contact(ctx, ten.ID, c1); err != nil {
		t.Fatalf("contact gone within the grace period: %v", err)
	}
	*w.now = t0.Add(31 * day)
	sum, err := w.sweeper(sweep.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := w.snapshot(t)
	if _, ok := snap[store.ContactPK(ten.ID, c1)+"|"+store.SKProfile]; ok {
		t.Fatal("contact of the closed account not deleted after the grace period")
	}
	if _, ok := snap[store.ContactPK(ten.ID, c2)+"|"+store.SKProfile]; !ok {
		t.Fatal("contact on legal hold deleted")
	}
	// The contact takes its whole partition (profile, conversation pointer,
	// page view, device), then the account's profile goes.
	if n := sum.Counts[ten.ID][retention.Personal]; n == nil || n.Deleted != 5 {
		t.Fatalf("personal counts %+v, want 5 deleted (the contact's partition of 4, then the account's profile)", n)
	}
	if _, ok := snap[store.TenantPK(ten.ID)+"|"+store.SKProfile]; ok {
		t.Fatal("closed account's profile not deleted after its personal data")
	}
}

func TestSweep_RenewsAnActiveAccountAndNotAClosedOne(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	*w.now = t0.Add(-600 * day)
	active := &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active", CreatedAt: *w.now}
	closed := &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active", CreatedAt: *w.now}
	for _, ten := range []*chat.Tenant{active, closed} {
		if err := w.st.PutTenant(ctx, ten); err != nil {
			t.Fatal(err)
		}
	}
	*w.now = t0.Add(-30 * day)
	if err := w.st.CloseTenant(ctx, closed.ID); err != nil {
		t.Fatal(err)
	}
	*w.now = t0
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	snap := w.snapshot(t)
	if got, want := snap[store.TenantPK(active.ID)+"|"+store.SKProfile], t0.Add(retention.TenantRenewal).Unix(); got != want {
		t.Fatalf("active tenant expiresAt %s, want renewed to %s", time.Unix(got, 0).UTC(), time.Unix(want, 0).UTC())
	}
	if got, want := snap[store.TenantPK(closed.ID)+"|"+store.SKProfile], t0.Add(60*day+retention.PurgeWindow).Unix(); got != want {
		t.Fatalf("closed tenant expiresAt %s, want closedAt + grace %s", time.Unix(got, 0).UTC(), time.Unix(want, 0).UTC())
	}
}

func TestSweep_ShorterArchivePeriodRestampsOrDeletesArchivedItems(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ten := w.tenant(t, retention.Periods{})
	for _, ago := range []int{700, 500, 400, 380} {
		w.visitor(t, ten, t0.Add(-time.Duration(ago)*day))
	}
	// TTL removes the expired items; the archive function archives communication.
	st := w.st.WithSubjectKey([]byte("subject-hash-key-for-tests-0123456789"))
	recs := w.tt.ExpireTTL(t, t0)
	if res, err := archive.New(archive.Deps{Store: st, Suppressions: st, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Handle(ctx,
		events.DynamoDBEvent{Records: recs}); err != nil || len(res.BatchItemFailures) > 0 {
		t.Fatalf("archive: %v %+v", err, res)
	}
	archived := func() map[string][2]int64 { // key -> expiresAt, hotExpiresAt
		out := map[string][2]int64{}
		for _, it := range w.tt.ScanAll(t, w.tt.Archive) {
			k := it["PK"].(*types.AttributeValueMemberS).Value + "|" + it["SK"].(*types.AttributeValueMemberS).Value
			exp, _ := strconv.ParseInt(it["expiresAt"].(*types.AttributeValueMemberN).Value, 10, 64)
			hot, _ := strconv.ParseInt(it["hotExpiresAt"].(*types.AttributeValueMemberN).Value, 10, 64)
			out[k] = [2]int64{exp, hot}
		}
		return out
	}
	before := archived()
	if len(before) != 12 {
		t.Fatalf("%d archived items, want 12 (meta, message, pointer of 4 conversations)", len(before))
	}
	// The first sweep records the applied periods; then the archive period shrinks.
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	p := retention.Periods{ArchiveDays: 100}
	if _, err := w.st.UpdateTenantSettings(ctx, ten.ID, chat.TenantSettings{Retention: &p}); err != nil {
		t.Fatal(err)
	}
	sum, err := w.sweeper(sweep.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := archived()
	var restamped, deleted int
	for k, v := range before {
		want := retention.ArchiveExpiresAt(retention.Merge(p), time.Unix(v[1], 0))
		got, ok := after[k]
		switch {
		case want <= t0.Unix():
			if ok {
				t.Errorf("%s: still archived, want deleted (new expiry %s)", k, time.Unix(want, 0).UTC())
			}
			deleted++
		case !ok:
			t.Errorf("%s: deleted, want re-stamped", k)
		case got[0] != want:
			t.Errorf("%s: expiresAt %s, want %s", k, time.Unix(got[0], 0).UTC(), time.Unix(want, 0).UTC())
		default:
			restamped++
		}
	}
	if restamped == 0 || deleted == 0 {
		t.Fatalf("fixture too weak: %d re-stamped, %d deleted", restamped, deleted)
	}
	if c := sum.Counts[ten.ID]["archive"]; c == nil || c.Restamped != restamped || c.Deleted != deleted {
		t.Fatalf("archive counts %+v, want %d re-stamped and %d deleted", c, restamped, deleted)
	}
}

func TestSweep_AConversationPastItsNewTimeIsNoLongerOpen(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ten := w.tenant(t, retention.Periods{})
	c := w.visitor(t, ten, t0.Add(-50*day))
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, before, err := w.st.OpenConversation(ctx, ten.ID, c, chat.ChannelWidget, ten.Periods())
	if err != nil {
		t.Fatal(err)
	}
	p := retention.Periods{CommunicationDays: 30}
	if _, err := w.st.UpdateTenantSettings(ctx, ten.ID, chat.TenantSettings{Retention: &p}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Conversation(ctx, ten.ID, before); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("conversation past its new time: %v, want hidden", err)
	}
	_, after, err := w.st.OpenConversation(ctx, ten.ID, c, chat.ChannelWidget, retention.Merge(p))
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatal("the visitor's next message would go to the expired conversation")
	}
}
