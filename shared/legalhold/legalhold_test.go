package legalhold_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/legalhold"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/sweep"
)

var t0 = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

type world struct {
	tt  *testaws.Tables
	st  *store.Store
	now time.Time
	ten *chat.Tenant
}

func newWorld(t *testing.T) *world {
	w := &world{tt: testaws.NewTables(t), now: t0.Add(-500 * day)}
	w.st = w.tt.Store().WithClock(func() time.Time { return w.now }).WithSubjectKey([]byte("subject-hash-key-for-tests-0123456789"))
	w.ten = &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active", CreatedAt: w.now}
	if err := w.st.PutTenant(context.Background(), w.ten); err != nil {
		t.Fatal(err)
	}
	return w
}

// visit is a visitor's session at the world's time: a message in its open
// conversation, a page view, a device, a connection.
func (w *world) visit(t *testing.T, contact string) string {
	t.Helper()
	ctx := context.Background()
	p := w.ten.Periods()
	_, conv, err := w.st.OpenConversation(ctx, w.ten.ID, contact, chat.ChannelWidget, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.st.PutMessage(ctx, &chat.Message{TenantID: w.ten.ID, ConversationID: conv, ContactID: contact,
		Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "hello", Channel: chat.ChannelWidget, ClientMessageID: ids.New("x")}, p); err != nil {
		t.Fatal(err)
	}
	if err := w.st.PutPageView(ctx, &chat.PageView{TenantID: w.ten.ID, ContactID: contact, Path: "/"}, p); err != nil {
		t.Fatal(err)
	}
	if err := w.st.TouchDevice(ctx, &chat.Device{TenantID: w.ten.ID, ContactID: contact, Device: "mobile", OS: "iOS"}, p); err != nil {
		t.Fatal(err)
	}
	if err := w.st.PutConnection(ctx, &chat.Connection{ID: ids.New("n"), TenantID: w.ten.ID, ContactID: contact, ConnectedAt: w.now}); err != nil {
		t.Fatal(err)
	}
	return conv
}

// expire plays DynamoDB's TTL on both tables, feeding the Data table's removals
// to the archive function as its stream would.
func (w *world) expire(t *testing.T) {
	t.Helper()
	recs := w.tt.ExpireTTL(t, w.now)
	h := archive.New(archive.Deps{Store: w.st, Suppressions: w.st, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	res, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil || len(res.BatchItemFailures) > 0 {
		t.Fatalf("archive: %v %+v", err, res)
	}
	w.tt.ExpireArchiveTTL(t, w.now)
}

// subject lists "table|PK|SK" of every item about the contact that a legal hold
// keeps, and how many carry an expiresAt.
func (w *world) subject(t *testing.T, contact string) ([]string, int) {
	t.Helper()
	items, err := w.st.SubjectItems(context.Background(), w.ten.ID, contact)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	withExp := 0
	for _, it := range items {
		if !it.Holdable {
			continue // connection records: deleted at $disconnect, never held
		}
		keys = append(keys, it.Ref.String())
		if !it.Held() {
			withExp++
		}
	}
	sort.Strings(keys)
	return keys, withExp
}

func (w *world) sweep(t *testing.T) {
	t.Helper()
	if _, err := sweep.New(sweep.Deps{Store: w.st, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLegalHold_RoundTrip(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	held, other := ids.New(ids.Contact), ids.New(ids.Contact)
	// An old conversation that expired and was archived, then a recent one.
	w.now = t0.Add(-400 * day)
	w.visit(t, held)
	w.visit(t, other)
	w.now = t0
	w.expire(t)
	conv := w.visit(t, held)
	w.visit(t, other)
	if _, err := w.st.ArchivedConversation(ctx, w.ten.ID, mustConvOf(t, w, held, conv)); err != nil {
		t.Fatalf("the old conversation is not archived: %v", err)
	}

	res, err := legalhold.HoldContact(ctx, w.st, w.ten.ID, held)
	if err != nil {
		t.Fatal(err)
	}
	keys, withExp := w.subject(t, held)
	if withExp != 0 || res.Changed == 0 || len(keys) < 10 {
		t.Fatalf("after hold: %d items, %d still with expiresAt (%+v): %v", len(keys), withExp, res, keys)
	}
	hasArchive := false
	for _, k := range keys {
		hasArchive = hasArchive || k[:len(w.tt.Archive)] == w.tt.Archive
	}
	if !hasArchive {
		t.Fatal("no archived item of the held subject in the fixture")
	}

	// Five years on, with shorter periods: sweep, then TTL on both tables.
	w.now = t0.Add(5 * 365 * day)
	p := retention.Periods{PersonalDays: 30, CommunicationDays: 10, ArchiveDays: 10, UsageDays: 5, TechnicalDays: 2}
	if _, err := w.st.UpdateTenantSettings(ctx, w.ten.ID, chat.TenantSettings{Retention: &p}); err != nil {
		t.Fatal(err)
	}
	w.sweep(t)
	w.expire(t)
	after, _ := w.subject(t, held)
	if !equal(after, keys) {
		t.Fatalf("held subject's items changed:\nbefore %v\nafter  %v", keys, after)
	}
	if _, err := w.st.Contact(ctx, w.ten.ID, held); err != nil {
		t.Fatalf("held contact unreadable: %v", err)
	}
	if msgs, _, err := w.st.History(ctx, w.ten.ID, conv, "", 10); err != nil || len(msgs) != 1 {
		t.Fatalf("held conversation's history: %v %v", msgs, err)
	}
	if gone, _ := w.subject(t, other); len(gone) != 0 {
		t.Fatalf("the other contact was not expired as normal: %v", gone)
	}

	// Lift: every item gets its expiresAt back, all long past, so each read hides
	// them at once and TTL removes them (communication through the archive,
	// whose own period has passed too).
	if _, err := legalhold.LiftContact(ctx, w.st, w.ten.ID, held); err != nil {
		t.Fatal(err)
	}
	keys, withExp = w.subject(t, held)
	if withExp != len(keys) {
		t.Fatalf("after lift %d of %d items have expiresAt", withExp, len(keys))
	}
	if _, err := w.st.Contact(ctx, w.ten.ID, held); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("contact after lift: %v, want hidden as expired", err)
	}
	w.expire(t)
	if left, _ := w.subject(t, held); len(left) != 0 {
		t.Fatalf("after lift and TTL, items remain: %v", left)
	}
}

func TestLegalHold_LiftRestoresTheNormalExpiry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := ids.New(ids.Contact)
	w.now = t0
	w.visit(t, c)
	snap := func() map[string]int64 {
		out := map[string]int64{}
		for _, it := range w.tt.ScanAll(t, w.tt.Data) {
			if n, ok := it["expiresAt"].(*types.AttributeValueMemberN); ok {
				out[it["PK"].(*types.AttributeValueMemberS).Value+"|"+it["SK"].(*types.AttributeValueMemberS).Value] = atoi(n.Value)
			}
		}
		return out
	}
	before := snap()
	if _, err := legalhold.HoldContact(ctx, w.st, w.ten.ID, c); err != nil {
		t.Fatal(err)
	}
	w.now = t0.Add(day)
	if _, err := legalhold.LiftContact(ctx, w.st, w.ten.ID, c); err != nil {
		t.Fatal(err)
	}
	after := snap()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: expiresAt %d after lift, %d before hold", k, after[k], v)
		}
	}
}

func TestLegalHold_UnknownContactIsNotFound(t *testing.T) {
	w := newWorld(t)
	if _, err := legalhold.HoldContact(context.Background(), w.st, w.ten.ID, ids.New(ids.Contact)); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("hold of a missing contact: %v, want not found", err)
	}
	if n := len(w.tt.ScanAll(t, w.tt.Data)); n != 1 {
		t.Fatalf("%d items after a refused hold, want only the tenant", n)
	}
}

func mustConvOf(t *testing.T, w *world, contact, current string) string {
	t.Helper()
	items, err := w.st.SubjectItems(context.Background(), w.ten.ID, contact)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Archived && it.Entity == "conversationPointer" {
			return it.ConversationID
		}
	}
	t.Fatal("no archived conversation pointer")
	return ""
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func TestLegalHold_TenantWideHoldAndLift(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.now = t0
	a, b := ids.New(ids.Contact), ids.New(ids.Contact)
	w.visit(t, a)
	w.visit(t, b)
	if _, err := legalhold.HoldContact(ctx, w.st, w.ten.ID, b); err != nil {
		t.Fatal(err)
	}
	if _, err := legalhold.HoldTenant(ctx, w.st, w.ten.ID); err != nil {
		t.Fatal(err)
	}
	for _, it := range w.tt.ScanAll(t, w.tt.Data) {
		sk := it["SK"].(*types.AttributeValueMemberS).Value
		if _, ok := it["expiresAt"]; ok && sk != store.SKSweep && !strings.HasPrefix(sk, "CONN#") { // connections are never held
			t.Errorf("%v keeps expiresAt under a tenant-wide hold", it["PK"])
		}
	}
	// Writes under the held tenant stamp no expiresAt.
	rec, err := w.st.TenantRecord(ctx, w.ten.ID)
	if err != nil || !rec.Tenant.LegalHold {
		t.Fatalf("tenant record %+v %v", rec, err)
	}
	w.ten = &rec.Tenant
	c := ids.New(ids.Contact)
	w.visit(t, c)
	items, err := w.st.SubjectItems(ctx, w.ten.ID, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if !it.Held() && it.Holdable {
			t.Errorf("%s written under a tenant-wide hold carries expiresAt", it.Ref)
		}
	}
	// Years later nothing is gone.
	w.now = t0.Add(5 * 365 * day)
	w.sweep(t)
	w.expire(t)
	for _, id := range []string{a, b, c} {
		if _, err := w.st.Contact(ctx, w.ten.ID, id); err != nil {
			t.Fatalf("contact %s under tenant hold: %v", id, err)
		}
	}
	// Lifting the tenant's hold releases everyone but the contact on its own hold.
	if _, err := legalhold.LiftTenant(ctx, w.st, w.ten.ID); err != nil {
		t.Fatal(err)
	}
	if _, n := w.subject(t, b); n != 0 {
		t.Fatal("the contact on its own hold was released with the tenant")
	}
	keys, n := w.subject(t, a)
	if n != len(keys) || n == 0 {
		t.Fatalf("after the tenant's lift %d of %d items of a have expiresAt", n, len(keys))
	}
	w.expire(t)
	if left, _ := w.subject(t, a); len(left) != 0 {
		t.Fatalf("released items did not expire: %v", left)
	}
}
