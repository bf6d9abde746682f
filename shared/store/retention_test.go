package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/legalhold"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func clock(t *time.Time) func() time.Time { return func() time.Time { return *t } }

// fixture writes one item of every entity the store writes for one visitor.
type fixture struct {
	tenant         *chat.Tenant
	contact, conv  string
	msg            *chat.Message
	connID         string
	pageView       *chat.PageView
	device         *chat.Device
	deviceSK       string
	tenantID       string
	convPK, contPK string
}

func writeAll(t *testing.T, st *store.Store, p retention.Periods) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{tenantID: ids.New(ids.Tenant), contact: ids.New(ids.Contact)}
	f.tenant = &chat.Tenant{ID: f.tenantID, Name: "Acme", WidgetKey: "wk_" + f.tenantID + "_s3cret", Status: "active",
		Retention: p, CreatedAt: st.Now()}
	if err := st.PutTenant(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	eff := f.tenant.Periods()
	_, cvID, err := st.OpenConversation(ctx, f.tenantID, f.contact, chat.ChannelWidget, eff)
	if err != nil {
		t.Fatal(err)
	}
	f.conv = cvID
	if _, err := st.Identify(ctx, f.tenantID, f.contact, "Ann", "ann@example.com", eff); err != nil {
		t.Fatal(err)
	}
	f.msg, _, err = st.PutMessage(ctx, &chat.Message{TenantID: f.tenantID, ConversationID: cvID, ContactID: f.contact,
		Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "hi", Channel: chat.ChannelWidget, ClientMessageID: "c1"}, eff)
	if err != nil {
		t.Fatal(err)
	}
	f.connID = "conn1"
	if err := st.PutConnection(ctx, &chat.Connection{ID: f.connID, TenantID: f.tenantID, ContactID: f.contact, ConnectedAt: st.Now()}); err != nil {
		t.Fatal(err)
	}
	f.pageView = &chat.PageView{TenantID: f.tenantID, ContactID: f.contact, Path: "/pricing", TimeOnPageMs: 1200}
	if err := st.PutPageView(ctx, f.pageView, eff); err != nil {
		t.Fatal(err)
	}
	f.device = &chat.Device{TenantID: f.tenantID, ContactID: f.contact, Device: "mobile", OS: "iOS"}
	if err := st.TouchDevice(ctx, f.device, eff); err != nil {
		t.Fatal(err)
	}
	f.deviceSK = store.DeviceSK("mobile", "iOS")
	f.convPK, f.contPK = store.ConversationPK(f.tenantID, f.conv), store.ContactPK(f.tenantID, f.contact)
	return f
}

func rawItem(t *testing.T, tt *testaws.Tables, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	res, err := tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: testaws.Key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Item
}

// removed is a stored item as the stream shows it when TTL removes it.
func removed(t *testing.T, item map[string]types.AttributeValue) *store.RemovedItem {
	t.Helper()
	r, err := store.RemovedFromStream(testaws.StreamImage(item))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func expiresAt(item map[string]types.AttributeValue) int64 {
	n, ok := item["expiresAt"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}

func TestExpiresAt_EachClassUnderDefaultsAndTenantOverride(t *testing.T) {
	override := retention.Periods{PersonalDays: 60, CommunicationDays: 20, ArchiveDays: 40, UsageDays: 7, TechnicalDays: 3, ClosedGraceDays: 10}
	for _, tc := range []struct {
		name      string
		overrides retention.Periods
		want      retention.Periods
	}{
		{"defaults", retention.Periods{}, retention.Defaults},
		{"tenant override", override, override},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := testaws.NewTables(t)
			now := t0
			st := tt.Store().WithClock(clock(&now))
			f := writeAll(t, st, tc.overrides)
			d := func(n int) int64 { return t0.Add(time.Duration(n) * day).Unix() }
			for _, c := range []struct {
				item, pk, sk, class string
				want                int64
			}{
				{"tenant (active: account lifetime)", store.TenantPK(f.tenantID), store.SKProfile, "personal", t0.Add(retention.TenantRenewal).Unix()},
				{"contact", f.contPK, store.SKProfile, "personal", d(tc.want.PersonalDays)},
				// Kept from the end of its activity's day (its basis moves once a day).
				{"conversation", f.convPK, store.SKMeta, "communication", store.DayEnd(t0).Add(time.Duration(tc.want.CommunicationDays) * day).Unix()},
				{"conversation pointer", f.contPK, "CONV#" + f.conv, "communication", d(tc.want.CommunicationDays)},
				{"message", f.convPK, store.MessageSK(f.msg.CreatedAt, f.msg.ID), "communication", d(tc.want.CommunicationDays)},
				{"dedupe marker", f.convPK, "CMID#c1", "technical", d(tc.want.TechnicalDays)},
				{"connection", f.contPK, "CONN#" + f.connID, "technical", t0.Add(retention.ConnectionTTL).Unix()},
				{"page view", f.contPK, store.PageViewSK(f.pageView.At, f.pageView.ID), "usage", d(tc.want.UsageDays)},
				// A device's basis is the end of its day of use (it moves once a day).
				{"device", f.contPK, f.deviceSK, "technical", store.DayEnd(t0).Add(time.Duration(tc.want.TechnicalDays) * day).Unix()},
			} {
				it := rawItem(t, tt, tt.Data, c.pk, c.sk)
				if it == nil {
					t.Fatalf("%s: not stored", c.item)
				}
				if got := it["dataClass"].(*types.AttributeValueMemberS).Value; got != c.class {
					t.Errorf("%s: dataClass %s, want %s", c.item, got, c.class)
				}
				if got := expiresAt(it); got != c.want {
					t.Errorf("%s: expiresAt %s, want %s", c.item, time.Unix(got, 0).UTC(), time.Unix(c.want, 0).UTC())
				}
			}
			// A closed tenant's profile lives for the grace period after closing.
			now = t0.Add(5 * day)
			if err := st.CloseTenant(context.Background(), f.tenantID); err != nil {
				t.Fatal(err)
			}
			if got, want := expiresAt(rawItem(t, tt, tt.Data, store.TenantPK(f.tenantID), store.SKProfile)), now.Add(time.Duration(tc.want.ClosedGraceDays)*day+retention.PurgeWindow).Unix(); got != want {
				t.Errorf("closed tenant expiresAt %d, want %d", got, want)
			}
			if _, err := st.TenantByWidgetKey(context.Background(), f.tenant.WidgetKey); !errors.Is(err, chat.ErrNotFound) {
				t.Errorf("closed tenant's widget key: %v, want not found", err)
			}
		})
	}
}

func TestEveryEntity_CarriesDataClassAndExpiresAtOrLegalHold(t *testing.T) {
	tt := testaws.NewTables(t)
	now := t0
	st := tt.Store().WithClock(clock(&now))
	ctx := context.Background()
	f := writeAll(t, st, retention.Periods{})
	held := writeAll(t, st, retention.Periods{})
	// The inbox's summaries, one of them then held with its conversation.
	for _, w := range []*fixture{f, held} {
		if _, err := st.RecordLastMessage(ctx, w.msg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := legalhold.HoldContact(ctx, st, held.tenantID, held.contact); err != nil {
		t.Fatal(err)
	}
	// Sweep state and an archived message.
	if s, err := st.AcquireSweep(ctx, f.tenantID, "test", now.Add(time.Minute)); err != nil || s == nil {
		t.Fatalf("acquire sweep: %v %v", s, err)
	}
	msg := rawItem(t, tt, tt.Data, f.convPK, store.MessageSK(f.msg.CreatedAt, f.msg.ID))
	if _, err := st.ArchiveItem(ctx, removed(t, msg), store.ArchiveExpiry(retention.Defaults, expiresAt(msg))); err != nil {
		t.Fatal(err)
	}
	// The admin API's entities.
	if err := st.PutAPIKey(ctx, &chat.APIKey{ID: ids.New(ids.APIKey), TenantID: f.tenantID, Name: "k", Role: "owner", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAuditEvent(ctx, &chat.AuditEvent{ID: ids.New(ids.Event), TenantID: f.tenantID, At: now, Action: "x"}, f.tenant.Periods()); err != nil {
		t.Fatal(err)
	}
	// The privacy and Slack engineers' entities.
	keyed := st.WithSubjectKey([]byte("subject-hash-key-for-tests-0123456789"))
	if err := keyed.Suppress(ctx, f.tenantID, chat.SuppressContact, ids.New(ids.Contact), "r1"); err != nil {
		t.Fatal(err)
	}
	// The sweep's marker of the suppression sharding.
	if _, err := st.BeginSuppressMigration(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishSuppressMigration(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPrivacyRequest(ctx, &chat.PrivacyRequest{ID: ids.New(ids.Request), TenantID: f.tenantID, Type: "export",
		Reason: "test", Status: "received", ReceivedAt: now, DueAt: now.Add(30 * day)}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSlackMember(ctx, f.tenantID, &chat.SlackMember{TeamID: "T1", UserID: "U1", DisplayName: "grace"}, now, f.tenant.Periods()); err != nil {
		t.Fatal(err)
	}
	// The agents' console.
	if err := st.PutAgent(ctx, f.tenantID, "key1", "Ana", f.tenant.Periods()); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAgentConnection(ctx, &chat.AgentConnection{ID: "console1", TenantID: f.tenantID, AgentID: "key1", ConnectedAt: now}); err != nil {
		t.Fatal(err)
	}
	entities := map[string]bool{}
	for _, table := range []string{tt.Data, tt.Archive} {
		for _, it := range tt.ScanAll(t, table) {
			pk := it["PK"].(*types.AttributeValueMemberS).Value
			sk := it["SK"].(*types.AttributeValueMemberS).Value
			en, _ := it["entity"].(*types.AttributeValueMemberS)
			if en == nil {
				t.Errorf("%s %s: no entity", pk, sk)
				continue
			}
			entities[en.Value] = true
			dc, _ := it["dataClass"].(*types.AttributeValueMemberS)
			if dc == nil || !retention.Class(dc.Value).Valid() {
				t.Errorf("%s %s (%s): no valid dataClass", pk, sk, en.Value)
			}
			for _, k := range []string{"PK", "GSI1PK", "GSI2PK"} {
				if v, ok := it[k].(*types.AttributeValueMemberS); ok && !strings.HasPrefix(v.Value, "T#") {
					t.Errorf("%s %s: %s %q does not start with a tenant", pk, sk, k, v.Value)
				}
			}
			// A hold keeps everything of the subject except its connection
			// records (store.Holdable), which keep their 3-hour expiry.
			onHold := (strings.HasPrefix(pk, held.contPK) || strings.HasPrefix(pk, held.convPK)) && store.Holdable(pk, sk)
			switch {
			case onHold && expiresAt(it) != 0:
				t.Errorf("%s %s (%s): held subject's item has expiresAt", pk, sk, en.Value)
			case !onHold && expiresAt(it) == 0:
				t.Errorf("%s %s (%s): no expiresAt and not on legal hold", pk, sk, en.Value)
			}
		}
	}
	for _, want := range []string{"tenant", "contact", "conversation", "conversationPointer", "message", "dedupe",
		"connection", "pageView", "device", "sweepState", "apiKey", "auditEvent", "suppression", "migration", "privacyRequest", "slackMember",
		"conversationSummary", "agent", "agentConnection"} {
		if !entities[want] {
			t.Errorf("entity %s was not written by the fixture", want)
		}
	}
}

func TestReads_HideExpiredItemsBeforeTTLDeletesThem(t *testing.T) {
	tt := testaws.NewTables(t)
	now := t0
	st := tt.Store().WithClock(clock(&now))
	ctx := context.Background()
	p := retention.Periods{PersonalDays: 40, CommunicationDays: 10, ArchiveDays: 20, UsageDays: 5, TechnicalDays: 2, ClosedGraceDays: 3}
	f := writeAll(t, st, p)
	msg := rawItem(t, tt, tt.Data, f.convPK, store.MessageSK(f.msg.CreatedAt, f.msg.ID))
	meta := rawItem(t, tt, tt.Data, f.convPK, store.SKMeta)
	for _, it := range []map[string]types.AttributeValue{msg, meta} {
		if _, err := st.ArchiveItem(ctx, removed(t, it), store.ArchiveExpiry(f.tenant.Periods(), expiresAt(it))); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CloseTenant(ctx, f.tenantID); err != nil {
		t.Fatal(err)
	}
	type read struct {
		name string
		live func() (bool, error) // reports whether the read sees the item
	}
	found := func(err error) (bool, error) {
		if errors.Is(err, chat.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	reads := []read{
		{"Tenant", func() (bool, error) { _, err := st.Tenant(ctx, f.tenantID); return found(err) }},
		{"Contact", func() (bool, error) { _, err := st.Contact(ctx, f.tenantID, f.contact); return found(err) }},
		{"Conversation", func() (bool, error) { _, err := st.Conversation(ctx, f.tenantID, f.conv); return found(err) }},
		{"History", func() (bool, error) {
			m, _, err := st.History(ctx, f.tenantID, f.conv, "", 10)
			return len(m) > 0, err
		}},
		{"Connections", func() (bool, error) { c, err := st.Connections(ctx, f.tenantID, f.contact); return len(c) > 0, err }},
		{"PageViews", func() (bool, error) { v, err := st.PageViews(ctx, f.tenantID, f.contact); return len(v) > 0, err }},
		{"Devices", func() (bool, error) { v, err := st.Devices(ctx, f.tenantID, f.contact); return len(v) > 0, err }},
		{"ConversationsByStatus", func() (bool, error) {
			cs, _, err := st.ConversationsByStatus(ctx, f.tenantID, chat.StatusOpen, 1, 10, "")
			return len(cs) > 0, err
		}},
		{"ContactsByEmail", func() (bool, error) {
			cs, _, err := st.ContactsByEmail(ctx, f.tenantID, "ann@example.com", 10, "")
			return len(cs) > 0, err
		}},
		{"ArchivedConversation", func() (bool, error) {
			_, err := st.ArchivedConversation(ctx, f.tenantID, f.conv)
			return found(err)
		}},
		{"ArchivedHistory", func() (bool, error) {
			m, _, err := st.ArchivedHistory(ctx, f.tenantID, f.conv, "", 10)
			return len(m) > 0, err
		}},
	}
	for _, r := range reads {
		if ok, err := r.live(); err != nil || !ok {
			t.Fatalf("%s before expiry: live=%v err=%v", r.name, ok, err)
		}
	}
	// Far past every period (and the archive's), nothing deleted yet: every read
	// path hides everything.
	now = t0.Add(400 * day)
	for _, r := range reads {
		if ok, err := r.live(); err != nil || ok {
			t.Errorf("%s after expiry: live=%v err=%v, want hidden", r.name, ok, err)
		}
	}
	if n := len(tt.ScanAll(t, tt.Data)); n == 0 {
		t.Fatal("items were deleted; the test must show reads hide them before TTL")
	}
}
