package sweep_test

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/sweep"
)

// account seeds, at t0, everything an account can hold besides its visitors:
// an API key, a channel integration with its routes and token, a channel user
// (lookup and contact item), an agent and its console connection, a Slack installation with its route, a member,
// a used OAuth state, a thread and its ref, a parked delivery, a bot query and
// a handoff, and the compliance records: a privacy request, a tombstone, a
// suppression entry and audit events. It returns the contact and
// conversation it used.
func (w *world) account(t *testing.T, ten *chat.Tenant, team, pageID string) (string, string) {
	t.Helper()
	ctx := context.Background()
	p := ten.Periods()
	c := w.visitor(t, ten, t0.Add(-10*day))
	_, conv, err := w.st.OpenConversation(ctx, ten.ID, c, chat.ChannelWidget, p)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.st.PutAPIKey(ctx, &chat.APIKey{ID: ids.New(ids.APIKey), TenantID: ten.ID, Name: "owner", Role: "owner", Hash: "h", CreatedAt: t0}))
	must(w.st.PutChannelIntegration(ctx, &chat.ChannelIntegration{TenantID: ten.ID, Channel: "messenger", AccountID: pageID,
		TokenEncrypted: []byte("sealed"), InstalledAt: t0}, p))
	must(w.st.PutChannelIntegration(ctx, &chat.ChannelIntegration{TenantID: ten.ID, Channel: "telegram", AccountID: "bot" + pageID,
		WebhookID: "hook" + pageID, TokenEncrypted: []byte("sealed"), InstalledAt: t0}, p))
	if _, err := w.st.LeaseChannelToken(ctx, ten.ID, "messenger", "test", t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	must(w.st.PutChannelToken(ctx, ten.ID, "messenger", "test", store.ChannelToken{Integration: "hook" + pageID, Blob: []byte("sealed"), Expires: store.TimeKey(t0.Add(time.Hour))}, t0, p))
	if _, err := w.st.TouchChannelUser(ctx, ten.ID, &chat.ChannelUser{Channel: "messenger", Account: pageID, UserID: "psid" + pageID,
		ContactID: c, LastInboundAt: t0}, t0, p); err != nil {
		t.Fatal(err)
	}
	must(w.st.PutSlackIntegration(ctx, &chat.SlackIntegration{TenantID: ten.ID, TeamID: team, ChannelID: "C1", BotUserID: "B1",
		InstalledAt: t0, TokenEncrypted: []byte("sealed")}, p))
	must(w.st.PutSlackMember(ctx, ten.ID, &chat.SlackMember{TeamID: team, UserID: "U1", DisplayName: "agent"}, t0, p))
	if _, err := w.st.ClaimSlackState(ctx, ten.ID, "nonce"+team, t0.Add(time.Hour), p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.st.PutSlackThread(ctx, &chat.SlackThread{TenantID: ten.ID, ConversationID: conv, ContactID: c, Channel: chat.ChannelWidget,
		TeamID: team, ChannelID: "C1", ThreadTS: "1.2"}, t0, p); err != nil {
		t.Fatal(err)
	}
	m, _, err := w.st.PutMessage(ctx, &chat.Message{TenantID: ten.ID, ConversationID: conv, ContactID: c,
		Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "parked", Channel: chat.ChannelWidget}, p)
	must(err)
	_, err = w.st.RecordLastMessage(ctx, m)
	must(err)
	must(w.st.PutAgent(ctx, ten.ID, "key"+team, "Ana", p))
	must(w.st.PutAgentConnection(ctx, &chat.AgentConnection{ID: "console" + team, TenantID: ten.ID, AgentID: "key" + team, ConnectedAt: t0}))
	must(w.st.ParkDelivery(ctx, "slack", m, p))
	if _, _, _, err := w.st.ClaimBotQuery(ctx, ten.ID, conv, m.ID, t0, p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.st.PutHandoff(ctx, &chat.Handoff{TenantID: ten.ID, ConversationID: conv, To: "zendesk", TicketID: "1", At: t0}, p); err != nil {
		t.Fatal(err)
	}
	req := ids.New(ids.Request)
	must(w.st.PutPrivacyRequest(ctx, &chat.PrivacyRequest{ID: req, TenantID: ten.ID, Type: "erasure", Reason: "legal",
		Status: "completed", ReceivedAt: t0, DueAt: t0.Add(30 * day)}))
	must(w.put(store.PrivacyPK(ten.ID), "TOMB#"+req, map[string]any{"requestId": req, "expiresAt": t0.Add(3000 * day).Unix()}))
	must(w.st.Suppress(ctx, ten.ID, chat.SuppressEmail, "gone@example.com", req))
	for i := range 3 {
		must(w.st.PutAuditEvent(ctx, &chat.AuditEvent{ID: ids.New(ids.Event), TenantID: ten.ID, At: t0.Add(time.Duration(i) * time.Second),
			ActorKey: "k", ActorRole: "owner", Action: "tenant.read"}, p))
	}
	return c, conv
}

// put writes a raw item of the Data table.
func (w *world) put(pk, sk string, attrs map[string]any) error {
	item, err := attributevalue.MarshalMap(attrs)
	if err != nil {
		return err
	}
	item["PK"], item["SK"] = &types.AttributeValueMemberS{Value: pk}, &types.AttributeValueMemberS{Value: sk}
	_, err = w.tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &w.tt.Data, Item: item})
	return err
}

// archiveExpired lets TTL remove what expired at now, and the archive
// function archive the communication items among it.
func (w *world) archiveExpired(t *testing.T, now time.Time) {
	t.Helper()
	st := w.st.WithSubjectKey([]byte("subject-hash-key-for-tests-0123456789"))
	recs := w.tt.ExpireTTL(t, now)
	if res, err := archive.New(archive.Deps{Store: st, Suppressions: st, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Handle(context.Background(),
		events.DynamoDBEvent{Records: recs}); err != nil || len(res.BatchItemFailures) > 0 {
		t.Fatalf("archive: %v %+v", err, res)
	}
}

// holdings lists "table|PK|SK" of every item of both tables that belongs to
// tenantID: under its key prefix, or a route (under a pseudo-tenant) naming it.
func (w *world) holdings(t *testing.T, tenantID string) []string {
	t.Helper()
	var out []string
	for _, table := range []string{w.tt.Data, w.tt.Archive} {
		for _, it := range w.tt.ScanAll(t, table) { // a test's residue check: a Scan is fine here
			pk, sk := it["PK"].(*types.AttributeValueMemberS).Value, it["SK"].(*types.AttributeValueMemberS).Value
			owner, _ := it["tenantId"].(*types.AttributeValueMemberS)
			if store.TenantOfKey(pk) == tenantID || (strings.HasPrefix(store.TenantOfKey(pk), "_") && owner != nil && owner.Value == tenantID) {
				name := "data"
				if table == w.tt.Archive {
					name = "archive"
				}
				out = append(out, name+"|"+pk+"|"+sk)
			}
		}
	}
	sort.Strings(out)
	return out
}

// compliance reports whether an item is one of the records kept after an
// account's purge: privacy requests and tombstones, suppression entries,
// audit events.
func compliance(tenantID, key string) bool {
	_, pk, _ := strings.Cut(key, "|")
	pre := store.TenantPrefix(tenantID)
	return strings.HasPrefix(key, "data|") && (strings.HasPrefix(pk, pre+"PRIVACY|") ||
		strings.HasPrefix(pk, pre+"SUPPRESS") || strings.HasPrefix(pk, pre+"AUDIT"))
}

// withoutSweepState drops the sweep's own bookkeeping item from a holdings list.
func withoutSweepState(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !strings.HasSuffix(k, "#TENANT|"+store.SKSweep) {
			out = append(out, k)
		}
	}
	return out
}

func sameKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot  %d items\n%s\nwant %d items\n%s", what, len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

// TestSweep_PurgesEverythingOfAClosedAccountButItsComplianceRecords seeds a
// closed account with everything an account holds (visitors with contacts,
// conversations, messages, markers, page views and devices, an archived
// conversation, API keys, channel integrations with routes and a token, a
// channel user, a Slack installation with route, member, state, thread and
// ref, a parked delivery, bot and handoff items) and its compliance records,
// next to an open account and a held closed one. Within the grace period the
// sweep deletes nothing; at its end a residue scan of both tables finds
// nothing of the account but its privacy requests, tombstones, suppression
// entries and audit events; the other accounts are untouched, and a second
// run deletes nothing more.
func TestSweep_PurgesEverythingOfAClosedAccountButItsComplianceRecords(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	closing := w.tenant(t, retention.Periods{ClosedGraceDays: 30})
	other := w.tenant(t, retention.Periods{})
	held := w.tenant(t, retention.Periods{ClosedGraceDays: 30})
	// An old visitor whose conversation TTL moves to the archive.
	w.visitor(t, closing, t0.Add(-380*day))
	w.visitor(t, closing, t0.Add(-20*day))
	w.account(t, closing, "TCLOSING", "1001")
	w.account(t, other, "TOTHER", "2002")
	w.account(t, held, "THELD", "3003")
	w.archiveExpired(t, t0)
	before := w.holdings(t, closing.ID)
	var archived, data int
	for _, k := range before {
		if strings.HasPrefix(k, "archive|") {
			archived++
		} else if !compliance(closing.ID, k) {
			data++
		}
	}
	if archived == 0 || data < 30 {
		t.Fatalf("fixture: %d archived, %d other items of the account:\n%s", archived, data, strings.Join(before, "\n"))
	}
	otherBefore, heldBefore := w.holdings(t, other.ID), w.holdings(t, held.ID)

	for _, ten := range []*chat.Tenant{closing, held} {
		if err := w.st.CloseTenant(ctx, ten.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.st.SetTenantHold(ctx, held.ID, true); err != nil {
		t.Fatal(err)
	}
	before = w.holdings(t, closing.ID) // the close wrote nothing but the profile

	*w.now = t0.Add(29 * day)
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "within the grace period", withoutSweepState(w.holdings(t, closing.ID)), withoutSweepState(before))

	*w.now = t0.Add(31 * day)
	sum, err := w.sweeper(sweep.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range before {
		if compliance(closing.ID, k) {
			want = append(want, k)
		}
	}
	sameKeys(t, "after the grace period (only compliance records may stay)", w.holdings(t, closing.ID), want)
	sameKeys(t, "the open account", withoutSweepState(w.holdings(t, other.ID)), withoutSweepState(otherBefore))
	sameKeys(t, "the held account", withoutSweepState(w.holdings(t, held.ID)), withoutSweepState(heldBefore))
	deleted := 0
	for _, n := range sum.Counts[closing.ID] {
		deleted += n.Deleted
	}
	if deleted != len(before)-len(want) {
		t.Errorf("counted %d deleted, %d items went (%+v)", deleted, len(before)-len(want), sum.Counts[closing.ID])
	}

	// Again: nothing more goes, of any account.
	all := func() []string {
		var out []string
		for _, ten := range []*chat.Tenant{closing, other, held} {
			out = append(out, withoutSweepState(w.holdings(t, ten.ID))...)
		}
		return out
	}
	after := all()
	sum, err = w.sweeper(sweep.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "a second run", all(), after)
	if n := sum.Counts[closing.ID]; len(n) != 0 {
		t.Fatalf("a second run visited the purged account: %+v", n)
	}
}

// TestSweep_PurgeResumesFromItsCheckpoints runs the purge with a budget of a
// few writes per run: each run stops at a checkpoint and the next goes on,
// until nothing of the account is left but its compliance records.
func TestSweep_PurgeResumesFromItsCheckpoints(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ten := w.tenant(t, retention.Periods{ClosedGraceDays: 30})
	for i := range 6 {
		w.visitor(t, ten, t0.Add(-time.Duration(10+i)*day))
	}
	w.account(t, ten, "TRESUME", "4004")
	if err := w.st.CloseTenant(ctx, ten.ID); err != nil {
		t.Fatal(err)
	}
	*w.now = t0.Add(31 * day)
	runs := 0
	for ; runs < 100; runs++ {
		sum, err := w.sweeper(sweep.Options{MaxWrites: 3}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Stopped {
			break
		}
	}
	if runs < 3 {
		t.Fatalf("%d runs: the budget did not stop the purge", runs)
	}
	for _, k := range w.holdings(t, ten.ID) {
		if !compliance(ten.ID, k) {
			t.Errorf("left after %d runs: %s", runs, k)
		}
	}
}

// TestSweep_PurgeCost measures the DynamoDB requests and units of the purge
// of an account with n visitors (each: contact, conversation, message, marker,
// pointer, page view, device) and the account's other items: each further
// item costs a few requests (its delete, and a Query of its partition when it
// heads one), on top of a bounded fixed cost (the index partitions of the
// months an item can be in, whatever the account's age or the table's size).
func TestSweep_PurgeCost(t *testing.T) {
	type cost struct{ items, requests int }
	var got []cost
	for _, n := range []int{5, 25} {
		m := testaws.NewMeter()
		w := newWorld(t)
		w.st = store.New(m.Client(testaws.Config(t)), w.tt.Data, w.tt.Archive).WithSubjectKey(testaws.SubjectKey).
			WithClock(func() time.Time { return *w.now })
		ctx := context.Background()
		ten := w.tenant(t, retention.Periods{ClosedGraceDays: 30})
		for i := range n {
			w.visitor(t, ten, t0.Add(-time.Duration(10+i)*day))
		}
		w.account(t, ten, "TCOST", "5005")
		if err := w.st.CloseTenant(ctx, ten.ID); err != nil {
			t.Fatal(err)
		}
		items := len(w.holdings(t, ten.ID))
		*w.now = t0.Add(31 * day)
		m.Reset()
		if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
			t.Fatal(err)
		}
		calls, read, write := m.Snapshot()
		total := 0
		for _, c := range calls {
			total += c
		}
		gone := items - len(w.holdings(t, ten.ID))
		t.Logf("purge of %d visitors: %d items deleted (of %d): %d requests %v, %.1f RCU, %.1f WCU", n, gone, items, total, calls, read, write)
		got = append(got, cost{gone, total})
	}
	per := float64(got[1].requests-got[0].requests) / float64(got[1].items-got[0].items)
	fixed := float64(got[0].requests) - per*float64(got[0].items)
	t.Logf("%.2f requests per further item, %.0f fixed", per, fixed)
	if per > 3 || fixed > 6000 {
		t.Errorf("%.2f requests per item, %.0f fixed: the purge's cost does not follow the account's items", per, fixed)
	}
}
