package adminapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

func TestCreateTenant_WidgetKeyAndOwnerKeyShownOnce(t *testing.T) {
	e := newEnv(t)
	res := e.call(http.MethodPost, "/v1/tenants", platformToken, `{"name":"Shop","allowedOrigins":["https://Shop.example:443","http://localhost:8080"]}`)
	wantStatus(t, "create", res, http.StatusCreated)
	var out struct {
		Tenant adminapiTenant
		APIKey struct{ ID, Key, Role, Prefix string }
	}
	if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^wk_` + out.Tenant.ID + `_[0-9a-z]{20,}$`).MatchString(out.Tenant.WidgetKey) {
		t.Fatalf("widget key %q", out.Tenant.WidgetKey)
	}
	if !regexp.MustCompile(`^lsb_`+out.Tenant.ID+`_`+out.APIKey.ID+`_[0-9a-z]{40,}$`).MatchString(out.APIKey.Key) || out.APIKey.Role != "owner" {
		t.Fatalf("api key %+v", out.APIKey)
	}
	if got := out.Tenant.AllowedOrigins; len(got) != 2 || got[0] != "https://shop.example" || got[1] != "http://localhost:8080" {
		t.Fatalf("origins %v", got)
	}
	// The widget key resolves to the tenant through the store's widget path.
	if tn, err := e.store.TenantByWidgetKey(context.Background(), out.Tenant.WidgetKey); err != nil || tn.ID != out.Tenant.ID {
		t.Fatalf("widget key lookup: %v %v", tn, err)
	}
	// The key is stored only as its SHA-256 hash.
	dump := e.dumpItems()
	if strings.Contains(dump, out.APIKey.Key) || strings.Contains(dump, out.APIKey.Key[len(out.APIKey.Key)-20:]) {
		t.Fatal("the table holds the API key's secret")
	}
	// Listing shows the key without secret or hash.
	list := e.call(http.MethodGet, "/v1/api-keys", out.APIKey.Key, "")
	wantStatus(t, "list keys", list, http.StatusOK)
	if strings.Contains(list.Body, out.APIKey.Key) || strings.Contains(list.Body, "hash") || !strings.Contains(list.Body, out.APIKey.ID) {
		t.Fatalf("key list: %s", list.Body)
	}
}

type adminapiTenant struct {
	ID, Name, WidgetKey string
	AllowedOrigins      []string
	Retention           retention.Periods
	EffectiveRetention  retention.Periods
}

func TestTenantSettings_PatchAndRead(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("Before")
	res := e.call(http.MethodPatch, "/v1/tenant", a.OwnerKey, `{"name":"After","allowedOrigins":[],"retention":{"communicationDays":30,"usageDays":7}}`)
	wantStatus(t, "patch", res, http.StatusOK)
	var got adminapiTenant
	json.Unmarshal([]byte(e.call(http.MethodGet, "/v1/tenant", a.OwnerKey, "").Body), &got)
	if got.Name != "After" || len(got.AllowedOrigins) != 0 || got.Retention.CommunicationDays != 30 ||
		got.EffectiveRetention.CommunicationDays != 30 || got.EffectiveRetention.PersonalDays != retention.Defaults.PersonalDays {
		t.Fatalf("tenant after patch: %+v", got)
	}
	tn, err := e.store.Tenant(context.Background(), a.ID)
	if err != nil || tn.Periods().UsageDays != 7 || tn.WidgetKey != a.WidgetKey {
		t.Fatalf("stored tenant: %+v %v", tn, err)
	}
}

func TestAPIKeys_RevokeTakesEffectAtOnce(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Revoke")
	wantStatus(t, "agent works", e.call(http.MethodGet, "/v1/conversations", f.AgentKey, ""), http.StatusOK)
	wantStatus(t, "revoke", e.call(http.MethodDelete, "/v1/api-keys/"+f.AgentKeyID, f.OwnerKey, ""), http.StatusNoContent)
	wantProblem(t, "revoked agent", e.call(http.MethodGet, "/v1/conversations", f.AgentKey, ""), http.StatusUnauthorized)
	wantProblem(t, "second revoke", e.call(http.MethodDelete, "/v1/api-keys/"+f.AgentKeyID, f.OwnerKey, ""), http.StatusNotFound)
	wantProblem(t, "malformed id", e.call(http.MethodDelete, "/v1/api-keys/xyz", f.OwnerKey, ""), http.StatusNotFound)
	list := e.call(http.MethodGet, "/v1/api-keys", f.OwnerKey, "")
	if !strings.Contains(list.Body, `"revokedAt"`) {
		t.Fatalf("revoked key not marked in list: %s", list.Body)
	}
}

// seedConversations opens n conversations of distinct contacts with distinct
// activity times, oldest first, and returns their ids newest first.
func (e *env) seedConversations(tenantID string, n int) []string {
	e.t.Helper()
	ctx := context.Background()
	out := make([]string, n)
	base := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		at := base.Add(time.Duration(i) * time.Minute)
		st := e.store.WithClock(func() time.Time { return at })
		_, cvID, err := st.OpenConversation(ctx, tenantID, ids.New(ids.Contact), chat.ChannelWidget, retention.Defaults)
		if err != nil {
			e.t.Fatal(err)
		}
		out[n-1-i] = cvID
	}
	return out
}

// pageAll follows next cursors and returns every item id.
func (e *env) pageAll(path, key string) ([]string, int) {
	e.t.Helper()
	var got []string
	pages := 0
	cursor := ""
	for {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		res := e.call(http.MethodGet, p, key, "")
		wantStatus(e.t, "page", res, http.StatusOK)
		var l struct {
			Items []struct{ ID string }
			Next  *string
		}
		json.Unmarshal([]byte(res.Body), &l)
		pages++
		for _, it := range l.Items {
			got = append(got, it.ID)
		}
		if l.Next == nil {
			return got, pages
		}
		cursor = *l.Next
	}
}

func TestConversations_ListNewestFirstAcrossPages(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("Pages")
	want := e.seedConversations(a.ID, 7)
	got, pages := e.pageAll("/v1/conversations?status=open&limit=3", a.OwnerKey)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged ids\n got %v\nwant %v", got, want)
	}
	if pages < 3 {
		t.Fatalf("%d pages for 7 items at limit 3", pages)
	}
}

func TestCursor_BoundToTenantAndList(t *testing.T) {
	e := newEnv(t)
	a, b := e.newTenant("CurA"), e.newTenant("CurB")
	e.seedConversations(a.ID, 3)
	e.seedConversations(b.ID, 3)
	res := e.call(http.MethodGet, "/v1/conversations?limit=1", a.OwnerKey, "")
	next := res.json(t)["next"].(string)
	raw, _ := base64.RawURLEncoding.DecodeString(next)
	raw[len(raw)/2] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	if strings.Contains(string(raw), a.ID) {
		t.Fatal("the cursor is readable")
	}
	tests := []struct{ name, key, path string }{
		{"A's cursor replayed by B", b.OwnerKey, "/v1/conversations?limit=1&cursor=" + url.QueryEscape(next)},
		{"A's cursor on another list", a.OwnerKey, "/v1/conversations?status=closed&cursor=" + url.QueryEscape(next)},
		{"A's cursor on audit events", a.OwnerKey, "/v1/audit-events?cursor=" + url.QueryEscape(next)},
		{"tampered cursor", a.OwnerKey, "/v1/conversations?cursor=" + url.QueryEscape(tampered)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, tc.name, e.call(http.MethodGet, tc.path, tc.key, ""), http.StatusBadRequest)
			if fmt.Sprint(fields(t, p)) != "[cursor]" {
				t.Fatalf("fields %v", fields(t, p))
			}
		})
	}
	wantStatus(t, "A's cursor for A", e.call(http.MethodGet, "/v1/conversations?limit=1&cursor="+url.QueryEscape(next), a.OwnerKey, ""), http.StatusOK)
}

func TestConversations_CloseAndReopen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.newFixture("Close")
	res := e.call(http.MethodPatch, "/v1/conversations/"+f.ConvID, f.AgentKey, `{"status":"closed"}`)
	wantStatus(t, "close", res, http.StatusOK)
	if res.json(t)["status"] != "closed" {
		t.Fatalf("close answer %s", res.Body)
	}
	open, _ := e.pageAll("/v1/conversations?status=open", f.AgentKey)
	closed, _ := e.pageAll("/v1/conversations?status=closed", f.AgentKey)
	if len(open) != 0 || fmt.Sprint(closed) != "["+f.ConvID+"]" {
		t.Fatalf("after close: open %v closed %v", open, closed)
	}
	c, err := e.store.Contact(ctx, f.ID, f.ContactID)
	if err != nil || c.OpenConversationID != "" {
		t.Fatalf("contact still points at the closed conversation: %+v %v", c, err)
	}
	// The visitor's next message opens a new conversation.
	_, cv2, err := e.store.OpenConversation(ctx, f.ID, f.ContactID, chat.ChannelWidget, retention.Defaults)
	if err != nil || cv2 == f.ConvID {
		t.Fatalf("next message did not open a new conversation: %v %v", cv2, err)
	}
	wantProblem(t, "reply to closed", e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"late"}`), http.StatusConflict)
	// Reopening moves it back to the open list.
	wantStatus(t, "reopen", e.call(http.MethodPatch, "/v1/conversations/"+f.ConvID, f.AgentKey, `{"status":"open"}`), http.StatusOK)
	open, _ = e.pageAll("/v1/conversations?status=open", f.AgentKey)
	closed, _ = e.pageAll("/v1/conversations?status=closed", f.AgentKey)
	if len(open) != 2 || len(closed) != 0 {
		t.Fatalf("after reopen: open %v closed %v", open, closed)
	}
}

func TestReply_StoredAsAgentMessageOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.newFixture("Reply")
	send := func() response {
		ev := e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"  How can I help?  ","agentName":"Ana"}`)
		return ev
	}
	first := send()
	wantStatus(t, "reply", first, http.StatusCreated)
	m := first.json(t)
	if m["author"].(map[string]any)["kind"] != "agent" || m["author"].(map[string]any)["name"] != "Ana" || m["text"] != "How can I help?" || m["channel"] != "widget" {
		t.Fatalf("reply %s", first.Body)
	}
	msgs, _, err := e.store.History(ctx, f.ID, f.ConvID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	last := msgs[len(msgs)-1]
	if len(msgs) != 2 || last.ID != m["id"] || last.Author.Kind != chat.AuthorAgent || last.Text != "How can I help?" || last.ContactID != f.ContactID {
		t.Fatalf("history %+v", msgs)
	}
	// Through the API too, oldest first within the page.
	page := e.call(http.MethodGet, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, "")
	var l struct{ Items []chat.Message }
	json.Unmarshal([]byte(page.Body), &l)
	if len(l.Items) != 2 || l.Items[1].Author.Kind != "agent" || l.Items[0].Author.Kind != "visitor" {
		t.Fatalf("messages page %s", page.Body)
	}
}

func TestReply_IdempotencyKeyStoresOnce(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Idem")
	send := func() response {
		ev := e.request(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"once"}`, map[string]string{"idempotency-key": "retry-1"})
		return ev
	}
	a, b := send(), send()
	wantStatus(t, "first", a, http.StatusCreated)
	wantStatus(t, "retry", b, http.StatusOK)
	if a.json(t)["id"] != b.json(t)["id"] {
		t.Fatalf("retry stored a second message: %s vs %s", a.Body, b.Body)
	}
	msgs, _, _ := e.store.History(context.Background(), f.ID, f.ConvID, "", 10)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
}

func TestMessages_PagedBackInTime(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Paged")
	for i := range 4 {
		wantStatus(t, "reply", e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, fmt.Sprintf(`{"text":"r%d"}`, i)), http.StatusCreated)
	}
	var texts []string
	cursor := ""
	for range 10 {
		p := "/v1/conversations/" + f.ConvID + "/messages?limit=2"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		res := e.call(http.MethodGet, p, f.AgentKey, "")
		wantStatus(t, "page", res, http.StatusOK)
		var l struct {
			Items []chat.Message
			Next  *string
		}
		json.Unmarshal([]byte(res.Body), &l)
		var page []string
		for _, m := range l.Items {
			page = append(page, m.Text)
		}
		texts = append(page, texts...)
		if l.Next == nil {
			break
		}
		cursor = *l.Next
	}
	if got := strings.Join(texts, ","); got != "hello from Paged,r0,r1,r2,r3" {
		t.Fatalf("messages %s", got)
	}
}

func TestContacts_FindPatchAndEmailIndex(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Contacts")
	found, _ := e.pageAll("/v1/contacts?email="+url.QueryEscape(strings.ToUpper(f.Email)), f.OwnerKey)
	if fmt.Sprint(found) != "["+f.ContactID+"]" {
		t.Fatalf("find by email: %v", found)
	}
	res := e.call(http.MethodPatch, "/v1/contacts/"+f.ContactID, f.OwnerKey, `{"email":"New@Example.com","phone":"+1 555 0100","marketingOptOut":true,"name":"Nina"}`)
	wantStatus(t, "patch", res, http.StatusOK)
	c, err := e.store.Contact(context.Background(), f.ID, f.ContactID)
	if err != nil || c.Email != "new@example.com" || c.Phone != "+1 555 0100" || !c.MarketingOptOut || c.Name != "Nina" || c.OpenConversationID != f.ConvID {
		t.Fatalf("stored contact %+v %v", c, err)
	}
	if old, _ := e.pageAll("/v1/contacts?email="+url.QueryEscape(f.Email), f.OwnerKey); len(old) != 0 {
		t.Fatalf("old email still finds the contact: %v", old)
	}
	if got, _ := e.pageAll("/v1/contacts?email=new%40example.com", f.OwnerKey); fmt.Sprint(got) != "["+f.ContactID+"]" {
		t.Fatalf("new email: %v", got)
	}
	wantStatus(t, "clear email", e.call(http.MethodPatch, "/v1/contacts/"+f.ContactID, f.OwnerKey, `{"email":""}`), http.StatusOK)
	if got, _ := e.pageAll("/v1/contacts?email=new%40example.com", f.OwnerKey); len(got) != 0 {
		t.Fatalf("cleared email still indexed: %v", got)
	}
	get := e.call(http.MethodGet, "/v1/contacts/"+f.ContactID, f.AgentKey, "")
	wantStatus(t, "agent reads contact", get, http.StatusOK)
	if get.json(t)["email"] != nil || get.json(t)["marketingOptOut"] != true {
		t.Fatalf("contact %s", get.Body)
	}
}

func TestAudit_ReadsAndChangesRecordedWithoutPersonalData(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Audit")
	e.call(http.MethodGet, "/v1/contacts/"+f.ContactID, f.AgentKey, "")
	e.call(http.MethodGet, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, "")
	e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"secret words"}`)
	e.call(http.MethodPatch, "/v1/contacts/"+f.ContactID, f.OwnerKey, `{"phone":"+44 20 7946 0000"}`)
	e.call(http.MethodGet, "/v1/contacts?email="+url.QueryEscape(f.Email), f.OwnerKey, "")

	res := e.call(http.MethodGet, "/v1/audit-events?limit=100", f.OwnerKey, "")
	wantStatus(t, "audit", res, http.StatusOK)
	var l struct {
		Items []chat.AuditEvent
	}
	json.Unmarshal([]byte(res.Body), &l)
	var actions []string
	for _, ev := range l.Items {
		actions = append(actions, ev.Action+"/"+ev.ActorRole)
		if ev.ActorKey == "" || ev.At.IsZero() || ev.ID == "" {
			t.Errorf("incomplete event %+v", ev)
		}
	}
	want := "contact.search/owner,contact.update/owner,message.create/agent,conversation.messages.read/agent,contact.read/agent,apiKey.create/owner,tenant.create/operator"
	if got := strings.Join(actions, ","); got != want {
		t.Fatalf("audit trail (newest first)\n got %s\nwant %s", got, want)
	}
	if l.Items[2].ActorKey != f.AgentKeyID || l.Items[2].Targets["conversationId"] != f.ConvID {
		t.Fatalf("reply event %+v", l.Items[2])
	}
	for _, leak := range []string{"secret words", "7946", f.Email, "Visitor of"} {
		if strings.Contains(e.auditItems(f.ID), leak) {
			t.Errorf("audit items hold %q", leak)
		}
	}
	// Pages of one.
	got, pages := e.pageAll("/v1/audit-events?limit=1", f.OwnerKey)
	if len(got) != len(l.Items) || pages < len(l.Items) {
		t.Fatalf("paged %d events in %d pages, want %d", len(got), pages, len(l.Items))
	}
}

// TestWrites_CarryClassExpiryAndTenantKeys drives every write route, then checks
// every item in the table: keys start with the tenant, and each item has a data
// class and an expiresAt in the future (the tenant profile, account data with
// no expiry while the account is open, is the one exception).
func TestWrites_CarryClassExpiryAndTenantKeys(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Writes")
	e.call(http.MethodPatch, "/v1/tenant", f.OwnerKey, `{"name":"W2"}`)
	e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"x"}`)
	e.call(http.MethodPatch, "/v1/conversations/"+f.ConvID, f.AgentKey, `{"status":"closed"}`)
	e.call(http.MethodPatch, "/v1/contacts/"+f.ContactID, f.OwnerKey, `{"name":"N"}`)
	e.call(http.MethodDelete, "/v1/api-keys/"+f.AgentKeyID, f.OwnerKey, "")
	res, err := e.tt.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &e.tt.Data})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for _, av := range res.Items {
		var it store.Base
		attributevalue.UnmarshalMap(av, &it)
		// The one documented exception: the Slack workspace route of this tenant,
		// under the reserved pseudo-tenant (see store/slack.go).
		if it.PK == store.SlackRoutePK(slackTeam(f)) && av["tenantId"].(*types.AttributeValueMemberS).Value == f.ID {
			it.PK = store.TenantPrefix(f.ID)
		}
		// And the operator token's rate-limit counter (shared/ratelimit).
		if it.PK == store.RatePK(store.PlatformID, store.KeyRateSubject("operator")) {
			it.PK = store.TenantPrefix(f.ID)
		}
		if !strings.HasPrefix(it.PK, store.TenantPrefix(f.ID)) || (it.GSI1PK != "" && !strings.HasPrefix(it.GSI1PK, store.TenantPrefix(f.ID))) {
			t.Errorf("item keys %s / %s", it.PK, it.GSI1PK)
		}
		if !it.DataClass.Valid() {
			t.Errorf("%s %s: no data class", it.PK, it.SK)
		}
		if it.Entity != "tenant" && it.ExpiresAt <= now {
			t.Errorf("%s %s: expiresAt %d", it.PK, it.SK, it.ExpiresAt)
		}
	}
}

func TestReply_MovesConversationToTopOfInbox(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("Top")
	convs := e.seedConversations(a.ID, 3) // newest first
	oldest := convs[2]
	wantStatus(t, "reply", e.call(http.MethodPost, "/v1/conversations/"+oldest+"/messages", a.OwnerKey, `{"text":"bump"}`), http.StatusCreated)
	got, _ := e.pageAll("/v1/conversations?status=open", a.OwnerKey)
	if want := []string{oldest, convs[0], convs[1]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("inbox after reply %v, want %v", got, want)
	}
}

// TestLogs_HoldNoSecretsTextOrEmails drives keys, replies and contact changes and
// checks the log: request lines are there, with ids, but no key, token, message
// text, email or phone.
func TestLogs_HoldNoSecretsTextOrEmails(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Logs")
	e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"the parcel code is Zebra-Quartz"}`)
	e.call(http.MethodPatch, "/v1/contacts/"+f.ContactID, f.OwnerKey, `{"email":"private@example.org","phone":"+49 30 1234567"}`)
	e.call(http.MethodGet, "/v1/contacts?email=private%40example.org", f.OwnerKey, "")
	e.call(http.MethodGet, "/v1/tenant", "lsb_"+f.ID+"_"+f.AgentKeyID+"_wrongsecret", "")
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"/v1/conversations/{id}/messages"`) || !strings.Contains(logs, f.AgentKeyID) {
		t.Fatalf("request lines missing: %s", logs)
	}
	for _, leak := range []string{f.OwnerKey, f.AgentKey, platformToken, "wrongsecret", "Zebra-Quartz", "private@", "1234567", f.Email} {
		if strings.Contains(logs, leak) {
			t.Errorf("log holds %q", leak)
		}
	}
}
