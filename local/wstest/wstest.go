// Package wstest drives a widget visitor and agents' consoles through the real
// handlers in tests: the authorizer and $connect (ws-connect), frames
// (ws-message), and dispatch fed from the Data table's real stream, with a
// fake API Gateway management API, wired as the deployed stack wires them.
package wstest

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/streamevent"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
	"github.com/livesupportbot/backend/shared/wsmessage"
)

// TokenSecret signs the visitor tokens of tests.
const TokenSecret = "0123456789abcdef0123456789abcdef-test"

// Widget is the visitor side of the stack.
type Widget struct {
	Tokens   *visitortoken.Signer
	Mgmt     *pushertest.Server
	Conn     *wsconn.Handler
	Msg      *wsmessage.Handler
	Dispatch *dispatch.Handler
	Stream   *streamevent.Reader
}

// New wires the handlers to st, whose Data stream is streamArn, logging to log.
// Dispatch delivers to the widget connections, then to each outbound destination.
func New(tb testing.TB, cfg aws.Config, st *store.Store, streamArn string, log *slog.Logger, outbound ...dispatch.Destination) *Widget {
	tb.Helper()
	tokens, err := visitortoken.New(TokenSecret)
	if err != nil {
		tb.Fatal(err)
	}
	mgmt := pushertest.New(tb)
	p := mgmt.Pusher()
	pusherOf := func(string, string) *pusher.Pusher { return p }
	return &Widget{
		Tokens: tokens, Mgmt: mgmt,
		Conn: wsconn.New(wsconn.Deps{Store: st, Tokens: tokens, Log: log, Pusher: pusherOf}),
		Msg: wsmessage.New(wsmessage.Deps{Store: st, Tenants: store.NewTenantCache(st, store.FrameTenantCacheTTL), Limiter: ratelimit.New(st), Log: log,
			Pusher: pusherOf}),
		Dispatch: dispatch.New(dispatch.Deps{Store: st, Tenants: store.NewTenantCache(st, store.TenantCacheTTL), Log: log,
			Deliverers: []dispatch.Deliverer{&dispatch.Widget{Store: st, Pusher: p, Log: log}}, Outbound: outbound,
			Agents: &dispatch.Agents{Store: st, Pusher: p},
			// Tests of the outbound timeout set their own; the default's 5 s can
			// pass on a loaded 2-core machine under -race, parking a delivery
			// that a test expects to go through.
			AttemptTimeout: 30 * time.Second}),
		Stream: &streamevent.Reader{Client: dynamodbstreams.NewFromConfig(cfg), StreamArn: streamArn},
	}
}

// Tenant creates an active tenant with the given allowed origins.
func Tenant(tb testing.TB, st *store.Store, name string, origins ...string) *chat.Tenant {
	tb.Helper()
	id := ids.New(ids.Tenant)
	t := &chat.Tenant{ID: id, Name: name, WidgetKey: "wk_" + id + "_" + ids.Secret(16), AllowedOrigins: origins,
		Status: "active", CreatedAt: time.Now().UTC()}
	if err := st.PutTenant(context.Background(), t); err != nil {
		tb.Fatal(err)
	}
	return t
}

// Connect runs the authorizer and $connect for a new connection of the visitor
// and returns the authorizer context API Gateway passes on to its frames.
func (w *Widget) Connect(tb testing.TB, tenantID, visitorID, connID string) map[string]any {
	tb.Helper()
	return w.connectWith(tb, w.Tokens.Issue(tenantID, visitorID, time.Hour), connID)
}

func (w *Widget) connectWith(tb testing.TB, token, connID string) map[string]any {
	tb.Helper()
	var areq events.APIGatewayCustomAuthorizerRequestTypeRequest
	testaws.LoadEvent(tb, "ws-authorize.json", &areq)
	areq.QueryStringParameters["token"] = token
	res, err := w.Conn.Authorize(context.Background(), areq)
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
	out, err := w.Conn.Route(context.Background(), creq)
	if err != nil || out.StatusCode != 200 {
		tb.Fatalf("$connect: %d %v", out.StatusCode, err)
	}
	return auth
}

// ConnectAgent runs the authorizer and $connect for a console connection of
// an agent with a fresh agent token, and returns the authorizer context.
func (w *Widget) ConnectAgent(tb testing.TB, tenantID, agentID, name, connID string) map[string]any {
	tb.Helper()
	token, _ := w.Tokens.IssueAgent(tenantID, agentID, name)
	return w.connectWith(tb, token, connID)
}

// Frame sends a frame on a connection as API Gateway invokes ws-message: the
// sample event of events/<event>, with body unless it is empty.
func (w *Widget) Frame(tb testing.TB, event string, auth map[string]any, connID, body string) {
	tb.Helper()
	var req events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(tb, event, &req)
	req.RequestContext.ConnectionID, req.RequestContext.Authorizer = connID, auth
	if body != "" {
		req.Body = body
	}
	out, err := w.Msg.Handle(context.Background(), req)
	if err != nil || out.StatusCode != 200 {
		tb.Fatalf("frame: %d %v", out.StatusCode, err)
	}
}

// Pump hands every new stream record to dispatch, as the event source mapping does.
func (w *Widget) Pump(tb testing.TB) events.DynamoDBEventResponse {
	tb.Helper()
	recs, err := w.Stream.Read(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	res, err := w.Dispatch.Batch(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// Frames decodes the frames a connection received.
func (w *Widget) Frames(tb testing.TB, connID string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, f := range w.Mgmt.Frames(connID) {
		var m map[string]any
		if err := json.Unmarshal([]byte(f), &m); err != nil {
			tb.Fatalf("frame %q: %v", f, err)
		}
		out = append(out, m)
	}
	return out
}

// Logs is testaws.Logs (a log sink that tests read back).
type Logs = testaws.Logs
