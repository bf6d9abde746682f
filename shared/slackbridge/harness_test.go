package slackbridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
)

const (
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	// redirectURL is the callback on the API of the sample events' domain and
	// stage (events/webhook-slack-oauth.json): the bridge derives it from the
	// request, with no configured public URL.
	redirectURL = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev/webhooks/slack/oauth"
	consoleURL  = "https://console.example.test/"
)

// harness wires the bridge to moto (DynamoDB, Streams, KMS), the fake Slack and a
// fake management API, next to the real widget handlers and dispatch.
type harness struct {
	tt     *testaws.Tables
	st     *store.Store
	key    *testaws.KMSKey
	slack  *slackfake.Server
	bridge *slackbridge.Bridge
	logs   *wstest.Logs
	*wstest.Widget
}

func newHarness(tb testing.TB) *harness { return newMeteredHarness(tb, nil) }

// newMeteredHarness is newHarness with every DynamoDB call of the bridge and the
// handlers counted by m (when not nil).
func newMeteredHarness(tb testing.TB, m *testaws.Meter) *harness { return newHookedHarness(tb, m, nil) }

// newHookedHarness is newMeteredHarness with the store's calls going through
// hook (when not nil), so a test can fail or pause any of them.
func newHookedHarness(tb testing.TB, m *testaws.Meter, hook *testaws.HookDB) *harness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	var db store.Client = tt.DB
	if m != nil {
		db = m.Client(cfg)
	}
	if hook != nil {
		hook.Client, db = db, hook
	}
	st := store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	key := testaws.NewKMSKey(tb)
	fake := slackfake.New(tb)
	fake.RedirectURI = redirectURL
	for _, u := range workspace {
		fake.AddUser(u)
	}
	logs := &wstest.Logs{}
	log := logging.New(logs, "test")
	b := slackbridge.New(slackbridge.Deps{Config: slackbridge.Config{
		ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, SigningSecret: signingSecret,
		KMSKeyID: key.KeyID, ConsoleURL: consoleURL, APIURL: fake.APIURL(),
	}, Store: st, Cipher: slackkms.New(cfg, nil, key.KeyID), Log: log})

	return &harness{tt: tt, st: st, key: key, slack: fake, bridge: b, logs: logs,
		Widget: wstest.New(tb, cfg, st, tt.StreamArn, log, dispatch.Destination{Name: "slack", Deliverer: b})}
}

// workspace are the members of the fake Slack workspace: two agents who reply
// in the tests, a colleague who never does, and a deactivated member. Each has
// a profile with an email and most an image URL, none of which the bridge
// may keep.
var workspace = []slackfake.User{
	{ID: "UAGENT01", Name: "alice", RealName: "Alice Example", DisplayName: "Alice",
		Email: "alice@acme.test", Image192: "https://avatars.example.test/alice.png"},
	{ID: "UAGENT02", Name: "bob", RealName: "Bob Builder", Email: "bob@acme.test",
		Image192: "https://avatars.example.test/bob.png"},
	{ID: "UQUIET01", Name: "carol", RealName: "Carol Quiet", DisplayName: "Carol",
		Email: "carol@acme.test", Image192: "https://avatars.example.test/carol.png"},
	{ID: "UGONE001", Name: "gone", Email: "gone@acme.test", Deleted: true},
}

// workspaceUser is the member of the fake workspace with id, if any.
func workspaceUser(id string) (slackfake.User, bool) {
	for _, u := range workspace {
		if u.ID == id {
			return u, true
		}
	}
	return slackfake.User{}, false
}

func (h *harness) tenant(tb testing.TB) *chat.Tenant {
	tb.Helper()
	id := ids.New(ids.Tenant)
	t := &chat.Tenant{ID: id, Name: "Acme", WidgetKey: "wk_" + id + "_" + ids.Secret(16), Status: "active", CreatedAt: time.Now().UTC()}
	if err := h.st.PutTenant(context.Background(), t); err != nil {
		tb.Fatal(err)
	}
	return t
}

// oauthRequest is the callback request Slack's redirect makes.
func oauthRequest(tb testing.TB, q map[string]string) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	var req events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(tb, "webhook-slack-oauth.json", &req)
	req.QueryStringParameters = q
	return req
}

// apiCtx is the request context of the admin's install request: the API the
// sample events came through.
var apiCtx = events.APIGatewayV2HTTPRequestContext{DomainName: "abcdef1234.execute-api.us-east-1.amazonaws.com", Stage: "dev"}

// started is an install as the admin's browser started it: the authorize URL,
// its state, and the install cookie the browser keeps (name=value).
type started struct {
	URL    *url.URL
	State  string
	Cookie string
}

// start starts an install for a tenant through b, from the API of rc.
func start(tb testing.TB, b *slackbridge.Bridge, tenantID string, rc events.APIGatewayV2HTTPRequestContext) started {
	tb.Helper()
	raw, setCookie, err := b.InstallLink(tenantID, rc)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := http.ParseSetCookie(setCookie)
	if err != nil {
		tb.Fatalf("Set-Cookie %q: %v", setCookie, err)
	}
	return started{URL: u, State: u.Query().Get("state"), Cookie: c.Name + "=" + c.Value}
}

// callback is Slack's redirect back to the browser that started s, with q.
func (s started) callback(tb testing.TB, q map[string]string) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	req := oauthRequest(tb, q)
	req.Cookies = append(req.Cookies, s.Cookie)
	return req
}

// install runs the whole OAuth install of the fake workspace for a tenant.
func (h *harness) install(tb testing.TB, tenantID string) {
	tb.Helper()
	h.slack.ResetCode("code-" + tenantID)
	s := start(tb, h.bridge, tenantID, apiCtx)
	res, err := h.bridge.Handle(context.Background(), s.callback(tb, map[string]string{"code": "code-" + tenantID, "state": s.State}))
	if err != nil || res.StatusCode != 302 {
		tb.Fatalf("oauth callback: %d %s %v", res.StatusCode, res.Body, err)
	}
}

// frame sends a widget frame, body encoded as JSON, as API Gateway invokes ws-message.
func (h *harness) frame(tb testing.TB, event string, auth map[string]any, connID string, body any) {
	tb.Helper()
	b, _ := json.Marshal(body)
	h.Frame(tb, event, auth, connID, string(b))
}

// storeVisitorMessage stores a visitor message as ws-message does and returns it.
func (h *harness) storeVisitorMessage(tb testing.TB, tenantID, visitorID, text string) *chat.Message {
	tb.Helper()
	ctx := context.Background()
	_, convID, err := h.st.OpenConversation(ctx, tenantID, visitorID, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		tb.Fatal(err)
	}
	m, _, err := h.st.PutMessage(ctx, &chat.Message{TenantID: tenantID, ConversationID: convID, ContactID: visitorID,
		Author: chat.Author{Kind: chat.AuthorVisitor}, Text: text, Channel: chat.ChannelWidget,
		ClientMessageID: ids.New("cm")}, retention.Defaults)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// signedEvent is an Events API request signed with Slack's v0 scheme at time at,
// with lowercase header names as API Gateway passes them.
func signedEvent(tb testing.TB, body []byte, at time.Time, extra map[string]string) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	var req events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(tb, "webhook-slack-events.json", &req)
	req.Body = string(body)
	req.Headers["x-slack-request-timestamp"] = strconv.FormatInt(at.Unix(), 10)
	req.Headers["x-slack-signature"] = slackfake.Sign(signingSecret, at.Unix(), body)
	for k, v := range extra {
		req.Headers[strings.ToLower(k)] = v
	}
	return req
}

// replyEvent is the event_callback of a message posted in a thread. A member
// of the fake workspace's message carries the user_profile Slack attaches
// (names and avatar); extra {"user_profile": nil} removes it.
func replyEvent(eventID, teamID, channel, threadTS, ts, user, text string, extra map[string]any) []byte {
	ev := map[string]any{"type": "message", "user": user, "text": text, "ts": ts, "thread_ts": threadTS,
		"channel": channel, "channel_type": "channel", "event_ts": ts}
	if u, ok := workspaceUser(user); ok {
		ev["user_profile"] = u.MessageProfile()
	}
	for k, v := range extra {
		if v == nil {
			delete(ev, k)
		} else {
			ev[k] = v
		}
	}
	b, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": teamID, "api_app_id": "AAPP0001", "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(), "event": ev,
		"authorizations": []map[string]any{{"team_id": teamID, "user_id": "UBOT0001", "is_bot": true}},
	})
	return b
}

// post sends a signed event to the endpoint and returns the response.
func (h *harness) post(tb testing.TB, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	tb.Helper()
	res, err := h.bridge.Handle(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func (h *harness) history(tb testing.TB, tenantID, convID string) []*chat.Message {
	tb.Helper()
	msgs, _, err := h.st.History(context.Background(), tenantID, convID, "", 100)
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}

// agentMessages returns the agent messages of a conversation.
func (h *harness) agentMessages(tb testing.TB, tenantID, convID string) []*chat.Message {
	tb.Helper()
	var out []*chat.Message
	for _, m := range h.history(tb, tenantID, convID) {
		if m.Author.Kind == chat.AuthorAgent {
			out = append(out, m)
		}
	}
	return out
}

// pageView writes a page view the way the widget's usage recording stores it
// (store.PutPageView: contact partition, SK "PV#<time>#<id>", path).
func (h *harness) pageView(tb testing.TB, tenantID, contactID, path string, at time.Time) {
	tb.Helper()
	item := map[string]types.AttributeValue{
		"PK":        &types.AttributeValueMemberS{Value: store.ContactPK(tenantID, contactID)},
		"SK":        &types.AttributeValueMemberS{Value: "PV#" + store.TimeKey(at) + "#" + ids.New(ids.Event)},
		"path":      &types.AttributeValueMemberS{Value: path},
		"dataClass": &types.AttributeValueMemberS{Value: string(retention.Usage)},
		"entity":    &types.AttributeValueMemberS{Value: "pageView"},
		"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(retention.ExpiresAt(retention.Defaults, retention.Usage, at), 10)},
	}
	if _, err := h.tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(h.tt.Data), Item: item}); err != nil {
		tb.Fatal(err)
	}
}
