package metabridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/metabridge"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/s3link"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
)

const (
	appSecret   = "metaTestAppSecret0001"
	verifyToken = "meta-verify-token"
)

type secrets map[string]string

func (s secrets) Get(name string) (string, error) { return s[name], nil }

// harness is the Meta bridge over moto (tables, KMS, the attachment bucket)
// and a fake Graph API, with dispatch reading the Data stream as production
// wires it (the bridge is its "meta" destination). Its clock can be moved.
type harness struct {
	tt     *testaws.Tables
	st     *store.Store
	graph  *metafake.Server
	bucket *testaws.Bucket
	files  *attachment.Store
	bridge *metabridge.Bridge
	logs   *wstest.Logs
	*wstest.Widget

	mu  sync.Mutex
	now time.Time
}

func newHarness(tb testing.TB) *harness { return newMeteredHarness(tb, nil) }

func newMeteredHarness(tb testing.TB, m *testaws.Meter) *harness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	var db store.Client = tt.DB
	if m != nil {
		db = m.Client(cfg)
	}
	h := &harness{tt: tt, graph: metafake.New(tb), bucket: testaws.NewBucket(tb), logs: &wstest.Logs{}, now: time.Now().UTC()}
	h.st = store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	key := testaws.NewKMSKey(tb)
	h.files = &attachment.Store{Bucket: h.bucket.Name,
		Objects: s3link.New(cfg, func(k string) string { return map[string]string{"S3_FORCE_PATH_STYLE": "true"}[k] })}
	log := logging.New(h.logs, "test")
	h.bridge = metabridge.New(metabridge.Deps{Store: h.st, Cipher: slackkms.New(cfg, nil, key.KeyID),
		Secrets: secrets{metabridge.AppSecretName: appSecret, metabridge.VerifyTokenName: verifyToken},
		Graph:   &meta.Graph{BaseURL: h.graph.URL()}, Files: h.files, Log: log}).WithClock(h.clock)
	h.Widget = wstest.New(tb, cfg, h.st, tt.StreamArn, log, dispatch.Destination{Name: h.bridge.Channel(), Deliverer: h.bridge})
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// advance moves the bridge's clock (the senders' reply windows) by d.
func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func (h *harness) tenant(tb testing.TB) *chat.Tenant {
	tb.Helper()
	return wstest.Tenant(tb, h.st, "Acme")
}

// connect connects a channel account of the tenant through the bridge (the
// token encrypted with KMS), and makes the fake Graph API take its token.
func (h *harness) connect(tb testing.TB, t *chat.Tenant, ch, account string, humanAgent bool) string {
	tb.Helper()
	token := "EAAG" + ids.Secret(24)
	if _, err := h.bridge.Connect(context.Background(), t, ch, chat.ChannelConnect{AccountID: account, AccessToken: token, HumanAgent: humanAgent}); err != nil {
		tb.Fatal(err)
	}
	h.graph.AddAccount(account, token)
	return token
}

// request is a webhook POST of body signed with secret, as API Gateway passes it.
func request(body []byte, secret string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/webhooks/meta", Body: string(body),
		Headers:        map[string]string{"content-type": "application/json", "x-hub-signature-256": metafake.Sign(body, secret)},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/webhooks/meta"}}}
}

func (h *harness) do(tb testing.TB, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	tb.Helper()
	res, err := h.bridge.Handle(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// post posts body signed with the app secret and wants 200.
func (h *harness) post(tb testing.TB, body []byte) {
	tb.Helper()
	if res := h.do(tb, request(body, appSecret)); res.StatusCode != http.StatusOK {
		tb.Fatalf("signed webhook: %d %s", res.StatusCode, res.Body)
	}
}

// items counts the Data table's items (nothing but rate counters is
// bookkeeping here).
func (h *harness) items(tb testing.TB) int32 {
	tb.Helper()
	res, err := h.tt.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &h.tt.Data, Select: types.SelectCount, ConsistentRead: new(true)})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Count
}

// conversations returns every conversation of the tenant, open and closed.
func (h *harness) conversations(tb testing.TB, tenantID string) []chat.Conversation {
	tb.Helper()
	var out []chat.Conversation
	for _, status := range []string{chat.StatusOpen, chat.StatusClosed} {
		cvs, _, err := h.st.ConversationsByStatus(context.Background(), tenantID, status, 1, 100, "")
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, cvs...)
	}
	return out
}

// messages returns every message of the tenant's conversations, oldest first.
func (h *harness) messages(tb testing.TB, tenantID string) []*chat.Message {
	tb.Helper()
	var out []*chat.Message
	for _, cv := range h.conversations(tb, tenantID) {
		msgs, _, err := h.st.History(context.Background(), tenantID, cv.ID, "", 100)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, msgs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// only returns the one message of the tenant.
func (h *harness) only(tb testing.TB, tenantID string) *chat.Message {
	tb.Helper()
	msgs := h.messages(tb, tenantID)
	if len(msgs) != 1 {
		tb.Fatalf("%d messages stored, want 1: %v", len(msgs), msgs)
	}
	return msgs[0]
}

// reply stores an agent's reply in the conversation, as the admin API does.
func (h *harness) reply(tb testing.TB, cv *chat.Message, text string) *chat.Message {
	tb.Helper()
	m, _, err := h.st.PutMessage(context.Background(), &chat.Message{TenantID: cv.TenantID, ConversationID: cv.ConversationID,
		ContactID: cv.ContactID, Author: chat.Author{Kind: chat.AuthorAgent, Name: "Eve"}, Text: text, Channel: cv.Channel}, retention.Defaults)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// message reads one message back (its delivery as stored).
func (h *harness) message(tb testing.TB, m *chat.Message) *chat.Message {
	tb.Helper()
	for _, got := range h.messages(tb, m.TenantID) {
		if got.ID == m.ID {
			return got
		}
	}
	tb.Fatalf("message %s is gone", m.ID)
	return nil
}

// batch is a Messenger body with one entry per page, each with its messaging
// items (mid, sender, text), as Meta batches them.
func batch(entries map[string][][3]string) []byte {
	var es []map[string]any
	pages := make([]string, 0, len(entries))
	for p := range entries {
		pages = append(pages, p)
	}
	sort.Strings(pages)
	for _, page := range pages {
		var items []map[string]any
		for _, it := range entries[page] {
			items = append(items, map[string]any{"sender": map[string]string{"id": it[1]}, "recipient": map[string]string{"id": page},
				"timestamp": time.Now().UnixMilli(), "message": map[string]any{"mid": it[0], "text": it[2]}})
		}
		es = append(es, map[string]any{"id": page, "time": time.Now().UnixMilli(), "messaging": items})
	}
	b, _ := json.Marshal(map[string]any{"object": "page", "entry": es})
	return b
}

func mid() string { return fmt.Sprintf("m_%s", ids.Secret(20)) }

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
