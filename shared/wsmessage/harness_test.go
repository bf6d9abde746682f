package wsmessage_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/pusher/pushertest"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/streamevent"
	"github.com/livesupportbot/backend/shared/testaws"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
	"github.com/livesupportbot/backend/shared/wsmessage"
)

const secret = "0123456789abcdef0123456789abcdef-test"

// harness wires the real handlers to moto and a fake management API, as the
// deployed stack wires them to DynamoDB and API Gateway.
type harness struct {
	logs     *syncBuffer
	st       *store.Store
	meter    *testaws.Meter
	mgmt     *pushertest.Server
	tokens   *visitortoken.Signer
	conn     *wsconn.Handler
	msg      *wsmessage.Handler
	dispatch *dispatch.Handler
	stream   *streamevent.Reader
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	meter := testaws.NewMeter()
	st := store.New(meter.Client(cfg), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	tokens, err := visitortoken.New(secret)
	if err != nil {
		tb.Fatal(err)
	}
	mgmt := pushertest.New(tb)
	p := mgmt.Pusher()
	return &harness{
		logs: logs, st: st, meter: meter, mgmt: mgmt, tokens: tokens,
		conn: &wsconn.Handler{Store: st, Tokens: tokens, Log: log},
		msg: &wsmessage.Handler{Store: st, Tenants: store.NewTenantCache(st, time.Minute), Log: log,
			Pusher: func(events.APIGatewayWebsocketProxyRequestContext) *pusher.Pusher { return p }},
		dispatch: &dispatch.Handler{Store: st, Tenants: store.NewTenantCache(st, time.Minute), Log: log,
			Deliverers: []dispatch.Deliverer{&dispatch.Widget{Store: st, Pusher: p, Log: log}}},
		stream: &streamevent.Reader{Client: dynamodbstreams.NewFromConfig(cfg), StreamArn: tt.StreamArn},
	}
}

func (h *harness) tenant(tb testing.TB, origins ...string) *chat.Tenant {
	tb.Helper()
	id := ids.New(ids.Tenant)
	t := &chat.Tenant{ID: id, Name: "Shop", WidgetKey: "wk_" + id + "_" + ids.Secret(16), AllowedOrigins: origins,
		Status: "active", CreatedAt: time.Now().UTC()}
	if err := h.st.PutTenant(context.Background(), t); err != nil {
		tb.Fatal(err)
	}
	return t
}

// connect runs the authorizer and $connect for a new connection of the visitor.
func (h *harness) connect(tb testing.TB, tenantID, visitorID, connID string) map[string]any {
	tb.Helper()
	var areq events.APIGatewayCustomAuthorizerRequestTypeRequest
	testaws.LoadEvent(tb, "ws-authorize.json", &areq)
	areq.QueryStringParameters["token"] = h.tokens.Issue(tenantID, visitorID, time.Hour)
	res, err := h.conn.Authorize(context.Background(), areq)
	if err != nil {
		tb.Fatalf("authorize: %v", err)
	}
	auth := map[string]any{"principalId": res.PrincipalID}
	for k, v := range res.Context {
		auth[k] = v
	}
	var creq events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(tb, "ws-connect.json", &creq)
	creq.RequestContext.ConnectionID, creq.RequestContext.Authorizer = connID, auth
	out, err := h.conn.Route(context.Background(), creq)
	if err != nil || out.StatusCode != 200 {
		tb.Fatalf("$connect: %d %v", out.StatusCode, err)
	}
	return auth
}

// frame sends a frame on a connection as API Gateway would invoke ws-message.
func (h *harness) frame(tb testing.TB, event string, auth map[string]any, connID, body string) {
	tb.Helper()
	var req events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(tb, event, &req)
	req.RequestContext.ConnectionID, req.RequestContext.Authorizer = connID, auth
	if body != "" {
		req.Body = body
	}
	out, err := h.msg.Handle(context.Background(), req)
	if err != nil || out.StatusCode != 200 {
		tb.Fatalf("frame: %d %v", out.StatusCode, err)
	}
}

// pump hands every new stream record to dispatch, as the event source mapping does.
func (h *harness) pump(tb testing.TB) events.DynamoDBEventResponse {
	tb.Helper()
	recs, err := h.stream.Read(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	res, err := h.dispatch.Handle(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// frames decodes the frames a connection received.
func (h *harness) frames(tb testing.TB, connID string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, f := range h.mgmt.Frames(connID) {
		var m map[string]any
		if err := json.Unmarshal([]byte(f), &m); err != nil {
			tb.Fatalf("frame %q: %v", f, err)
		}
		out = append(out, m)
	}
	return out
}

func (h *harness) history(tb testing.TB, tenantID, visitorID string) []*chat.Message {
	tb.Helper()
	c, err := h.st.Contact(context.Background(), tenantID, visitorID)
	if err == chat.ErrNotFound || (err == nil && c.OpenConversationID == "") {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	msgs, _, err := h.st.History(context.Background(), tenantID, c.OpenConversationID, "", 100)
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
