package botbridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/googlefake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dialogflow"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
)

const (
	publicURL    = "https://api.example.test/dev"
	clientID     = "client-1.apps.googleusercontent.com"
	clientSecret = "GOCSPX-test-client-secret"
)

// harness is the bot over moto (tables, KMS) and a fake Google, with
// dispatch reading the Data stream: the widget, and the bot as destination
// "bot".
type harness struct {
	tt     *testaws.Tables
	st     *store.Store
	gf     *googlefake.Server
	cipher slackkms.Cipher
	bridge *botbridge.Bridge
	logs   *wstest.Logs
	*wstest.Widget
}

func newHarness(tb testing.TB) *harness { return newMeteredHarness(tb, nil) }

func newMeteredHarness(tb testing.TB, m *testaws.Meter) *harness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	h := &harness{tt: tt, gf: googlefake.New(tb), logs: &wstest.Logs{}}
	h.gf.AddClient(clientID, clientSecret)
	var db store.Client = tt.DB
	if m != nil {
		db = m.Client(cfg)
	}
	// One request at a time, atomically as DynamoDB applies it (moto's
	// backends are not thread-safe): racing instances interleave between
	// their requests.
	db = &testaws.HookDB{Client: db, Serialize: true}
	h.st = store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	key := testaws.NewKMSKey(tb)
	h.cipher = slackkms.New(cfg, nil, key.KeyID)
	log := logging.New(h.logs, "test")
	h.bridge = botbridge.New(botbridge.Deps{Store: h.st, Cipher: h.cipher, Log: log,
		Config:     botbridge.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: h.gf.Endpoint(), PublicURL: publicURL},
		Dialogflow: &dialogflow.Client{BaseURL: h.gf.URL(), Timeout: botbridge.AskTimeout}})
	h.Widget = wstest.New(tb, cfg, h.st, tt.StreamArn, log, dispatch.Destination{Name: h.bridge.Channel(), Deliverer: h.bridge})
	return h
}

func (h *harness) tenant(tb testing.TB) *chat.Tenant {
	tb.Helper()
	return wstest.Tenant(tb, h.st, "Acme")
}

// settings are the query of an install link of an agent of edition.
func settings(edition string) url.Values {
	q := url.Values{"edition": {edition}, "project": {"acme-support-bot"}, "language": {"en"}, "channels": {"widget,telegram"}}
	if edition == "cx" {
		q.Set("location", "europe-west1")
		q.Set("agent", "0b3a6c57-6e4b-4a4f-9d55-3f1f0c1d2e3f")
	}
	return q
}

// consent follows an install link as the owner's browser would: Google's
// consent page (the fake) redirects to our callback with a code and the
// state; it returns the callback request, with the install cookie.
func (h *harness) consent(tb testing.TB, tenantID string, q url.Values) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	in, issues := botbridge.ParseInstall(q)
	if len(issues) > 0 {
		tb.Fatalf("settings: %v", issues)
	}
	u, setCookie, err := h.bridge.InstallLink(tenantID, in, events.APIGatewayV2HTTPRequestContext{})
	if err != nil {
		tb.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(back.String(), publicURL+botbridge.OAuthPath) {
		tb.Fatalf("consent answered %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	cookie, err := http.ParseSetCookie(setCookie)
	if err != nil {
		tb.Fatal(err)
	}
	query := map[string]string{}
	for k := range back.Query() {
		query[k] = back.Query().Get(k)
	}
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/dev" + botbridge.OAuthPath, QueryStringParameters: query,
		Cookies:        []string{cookie.Name + "=" + cookie.Value},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet}}}
}

// install connects an agent of edition for the tenant.
func (h *harness) install(tb testing.TB, t *chat.Tenant, edition string) *chat.ChannelIntegration {
	tb.Helper()
	q := settings(edition)
	q.Set("project", "bot-"+t.ID[len(t.ID)-20:]) // an agent is one tenant's
	res, err := h.bridge.HandleOAuth(context.Background(), h.consent(tb, t.ID, q))
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("callback: %d %s %v", res.StatusCode, res.Body, err)
	}
	in, err := h.st.ChannelIntegration(context.Background(), t.ID, botbridge.Channel)
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

// refreshToken is the integration's refresh token, decrypted.
func (h *harness) refreshToken(tb testing.TB, in *chat.ChannelIntegration) string {
	tb.Helper()
	rt, err := h.cipher.Decrypt(context.Background(), in.TenantID, in.TokenEncrypted)
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

// visitor opens the tenant's widget conversation; say sends its messages.
type visitor struct {
	h         *harness
	auth      map[string]any
	conn, tnt string
	n         int
}

func (h *harness) visitor(tb testing.TB, t *chat.Tenant) *visitor {
	tb.Helper()
	conn := "conn-" + ids.Secret(8)
	return &visitor{h: h, auth: h.Connect(tb, t.ID, "v"+ids.Secret(20), conn), conn: conn, tnt: t.ID}
}

// say sends text and runs dispatch over what it stored (the bot answers in
// dispatch); it returns the visitor's message.
func (v *visitor) say(tb testing.TB, text string) *chat.Message {
	tb.Helper()
	v.n++
	v.h.Frame(tb, "ws-send-message.json", v.auth, v.conn, fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"%s-%d","text":%q}`, v.conn, v.n, text))
	v.h.pump(tb)
	cvs, _, err := v.h.st.ConversationsByStatus(context.Background(), v.tnt, chat.StatusOpen, 1, 10, "")
	if err != nil {
		tb.Fatal(err)
	}
	for _, cv := range cvs {
		msgs, _, err := v.h.st.History(context.Background(), v.tnt, cv.ID, "", 100)
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range msgs {
			if m.Author.Kind == chat.AuthorVisitor && m.Text == text {
				return m
			}
		}
	}
	tb.Fatalf("the visitor's %q is not stored", text)
	return nil
}

// pump runs dispatch until the stream is drained (the bot's answers are
// new records).
func (h *harness) pump(tb testing.TB) {
	tb.Helper()
	for range 3 {
		if res := h.Pump(tb); len(res.BatchItemFailures) != 0 {
			tb.Fatalf("dispatch failed records: %+v", res.BatchItemFailures)
		}
	}
}

// conversationMessages is every message of the tenant's open conversation.
func (h *harness) conversationMessages(tb testing.TB, tenantID string) []*chat.Message {
	tb.Helper()
	cvs, _, err := h.st.ConversationsByStatus(context.Background(), tenantID, chat.StatusOpen, 1, 10, "")
	if err != nil || len(cvs) != 1 {
		tb.Fatalf("conversations %d %v", len(cvs), err)
	}
	msgs, _, err := h.st.History(context.Background(), tenantID, cvs[0].ID, "", 100)
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}

// texts of the frames pushed to the visitor, by author kind.
func (v *visitor) pushed(tb testing.TB, kind string) []string {
	tb.Helper()
	var out []string
	for _, f := range v.h.Frames(tb, v.conn) {
		if m, ok := f["message"].(map[string]any); ok && f["type"] == "message" {
			if a, _ := m["author"].(map[string]any); a["kind"] == kind {
				out = append(out, m["text"].(string))
			}
		}
	}
	return out
}

// items scans the Data table (every attribute of every item).
func (h *harness) items(tb testing.TB) []map[string]types.AttributeValue {
	tb.Helper()
	res, err := h.tt.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &h.tt.Data, ConsistentRead: new(true)})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Items
}
