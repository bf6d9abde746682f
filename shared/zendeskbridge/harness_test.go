package zendeskbridge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/local/zendeskfake"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/zendeskbridge"
)

const webhookBase = "https://api.example.test/dev"

// harness is the bridge over moto and a fake Zendesk, with dispatch reading
// the Data stream (the widget, and the bridge as destination "zendesk").
type harness struct {
	tt     *testaws.Tables
	st     *store.Store
	zd     *zendeskfake.Server
	bridge *zendeskbridge.Bridge
	logs   *wstest.Logs
	auth   map[string]map[string]any // by connection
	*wstest.Widget
}

func newHarness(tb testing.TB) *harness { return newMeteredHarness(tb, nil) }

// newMeteredHarness is a harness whose store counts its DynamoDB use in m
// (nil: none).
func newMeteredHarness(tb testing.TB, m *testaws.Meter) *harness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	h := &harness{tt: tt, zd: zendeskfake.New(tb), logs: &wstest.Logs{}, auth: map[string]map[string]any{}}
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
	log := logging.New(h.logs, "test")
	h.bridge = zendeskbridge.New(zendeskbridge.Deps{Store: h.st, Cipher: slackkms.New(cfg, nil, key.KeyID), BaseURL: h.zd.URL(), Log: log})
	h.Widget = wstest.New(tb, cfg, h.st, tt.StreamArn, log, dispatch.Destination{Name: h.bridge.Channel(), Deliverer: h.bridge})
	return h
}

// account is a tenant's Zendesk: the agent whose token connects it and the
// webhook's signing secret.
type account struct {
	email, token, secret, agentID string
	in                            *chat.ChannelIntegration
}

// connect connects a new Zendesk agent's account for the tenant.
func (h *harness) connect(tb testing.TB, t *chat.Tenant) account {
	tb.Helper()
	a := account{email: "agent-" + ids.Secret(6) + "@acme.example", token: ids.Secret(40), secret: ids.Secret(32)}
	a.agentID = h.zd.AddAgent(a.email, a.token, "API Agent")
	in, err := h.bridge.Connect(context.Background(), t, "zendesk", chat.ChannelConnect{Subdomain: "acme" + strings.ToLower(ids.Secret(6)),
		Email: a.email, APIToken: a.token, WebhookSecret: a.secret, WebhookBase: webhookBase})
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	a.in = in
	return a
}

// visitor opens the tenant's widget conversation of a visitor who gave
// name and email (ws-identify.json) and wrote texts; it returns the
// conversation and the visitor's connection.
func (h *harness) visitor(tb testing.TB, t *chat.Tenant, texts ...string) (*chat.Conversation, string) {
	tb.Helper()
	conn := "conn-" + ids.Secret(8)
	auth := h.Connect(tb, t.ID, "v"+ids.Secret(20), conn)
	h.Frame(tb, "ws-identify.json", auth, conn, "")
	for i, text := range texts {
		h.say(tb, auth, conn, i, text)
	}
	h.pump(tb)
	cvs, _, err := h.st.ConversationsByStatus(context.Background(), t.ID, chat.StatusOpen, 1, 100, "")
	if err != nil || len(cvs) != 1 {
		tb.Fatalf("conversations %d %v", len(cvs), err)
	}
	cv := cvs[0]
	cv.TenantID = t.ID
	h.auth[conn] = auth
	return &cv, conn
}

// say sends the visitor's message number n on conn.
func (h *harness) say(tb testing.TB, auth map[string]any, conn string, n int, text string) {
	tb.Helper()
	h.Frame(tb, "ws-send-message.json", auth, conn, fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"%s-%d","text":%q}`, conn, n, text))
}

func (h *harness) pump(tb testing.TB) {
	tb.Helper()
	if res := h.Pump(tb); len(res.BatchItemFailures) != 0 {
		tb.Fatalf("dispatch failed records: %+v", res.BatchItemFailures)
	}
}

// request is Zendesk's POST of body to the webhook id with headers.
func request(webhookID string, body []byte, headers map[string]string) events.APIGatewayV2HTTPRequest {
	path := "/dev/webhooks/zendesk/" + webhookID
	hs := map[string]string{"content-type": "application/json"}
	for k, v := range headers {
		hs[k] = v
	}
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, Body: string(body), Headers: hs,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: path}}}
}

func (h *harness) do(tb testing.TB, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	tb.Helper()
	res, err := h.bridge.Handle(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// serve is the bridge's webhook as an HTTP server (the fake posts to it).
func (h *harness) serve(tb testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hs := map[string]string{}
		for k := range r.Header {
			hs[strings.ToLower(k)] = r.Header.Get(k)
		}
		req := request(strings.TrimPrefix(r.URL.Path, "/dev/webhooks/zendesk/"), body, hs)
		res, err := h.bridge.Handle(r.Context(), req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(res.StatusCode)
		io.WriteString(w, res.Body)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

func (h *harness) items(tb testing.TB) int32 {
	tb.Helper()
	res, err := h.tt.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &h.tt.Data, Select: types.SelectCount, ConsistentRead: new(true)})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Count
}

// messages is the conversation's messages, oldest first.
func (h *harness) messages(tb testing.TB, cv *chat.Conversation) []*chat.Message {
	tb.Helper()
	msgs, _, err := h.st.History(context.Background(), cv.TenantID, cv.ID, "", 100)
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}

// agentTexts is the texts of the agent messages pushed to the visitor's connections.
func agentTexts(frames []map[string]any) []string {
	var out []string
	for _, f := range frames {
		if m, ok := f["message"].(map[string]any); ok {
			if a, _ := m["author"].(map[string]any); a["kind"] == chat.AuthorAgent {
				out = append(out, m["text"].(string))
			}
		}
	}
	return out
}

func (h *harness) tenant(tb testing.TB) *chat.Tenant {
	tb.Helper()
	return wstest.Tenant(tb, h.st, "Acme")
}
