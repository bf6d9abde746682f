package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/coder/websocket"

	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/shared/pusher"
)

// recorder is an integration that records the events it gets.
type recorder struct {
	mu     sync.Mutex
	events []events.APIGatewayWebsocketProxyRequest
	raw    [][]byte
	answer func(ev events.APIGatewayWebsocketProxyRequest) ([]byte, error)
	got    chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 100)} }

func (r *recorder) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.raw = append(r.raw, payload)
	r.mu.Unlock()
	r.got <- struct{}{}
	if r.answer != nil {
		return r.answer(ev)
	}
	return []byte(`{"statusCode":200}`), nil
}

func (r *recorder) wait(t *testing.T, n int) []events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.events) >= n {
			out := append([]events.APIGatewayWebsocketProxyRequest(nil), r.events...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("waited for %d events, got %d", n, len(r.events))
		}
	}
}

// authorizer allows the token "good" and refuses others with Unauthorized,
// as the ws-connect function does.
func authorizer(calls *int) Invoker {
	return InvokerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
		*calls++
		var req struct {
			Type                  string            `json:"type"`
			MethodArn             string            `json:"methodArn"`
			QueryStringParameters map[string]string `json:"queryStringParameters"`
		}
		json.Unmarshal(payload, &req)
		if req.Type != "REQUEST" || !strings.HasSuffix(req.MethodArn, "/dev/$connect") {
			return nil, errors.New("not an authorizer request: " + string(payload))
		}
		switch req.QueryStringParameters["token"] {
		case "good":
			return []byte(`{"principalId":"V1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"tenantId":"T1","visitorId":"V1"}}`), nil
		case "deny":
			return []byte(`{"principalId":"V1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"*"}]}}`), nil
		}
		return nil, &lambdarunner.FunctionError{Type: "errorString", Message: "Unauthorized"}
	})
}

type wsFixture struct {
	srv                     *httptest.Server
	api                     *WebSocketAPI
	connect, msg, dflt, dis *recorder
	authCalls               int
}

func newWSFixture(t *testing.T) *wsFixture {
	t.Helper()
	f := &wsFixture{connect: newRecorder(), msg: newRecorder(), dflt: newRecorder(), dis: newRecorder()}
	api, err := NewWebSocketAPI(WSConfig{APIID: "local", Stage: "dev", RouteSelection: "$request.body.action",
		Routes: map[string]WSRoute{
			"$connect":    {Function: f.connect, Authorizer: authorizer(&f.authCalls), IdentitySource: []string{"route.request.querystring.token"}},
			"$disconnect": {Function: f.dis},
			"$default":    {Function: f.dflt},
			"sendMessage": {Function: f.msg},
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.api = api
	f.srv = httptest.NewServer(api)
	t.Cleanup(func() { api.Close(); f.srv.Close() })
	return f
}

func (f *wsFixture) url(token string) string {
	u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/dev"
	if token != "" {
		u += "?token=" + token
	}
	return u
}

func TestConnect_RefusalsFollowTheAuthorizer(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		want      int
		authCalls int
	}{
		{"no token is refused before the authorizer", "", http.StatusUnauthorized, 0},
		{"Unauthorized from the authorizer is 401", "bad", http.StatusUnauthorized, 1},
		{"a Deny policy is 403", "deny", http.StatusForbidden, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWSFixture(t)
			_, res, err := websocket.Dial(context.Background(), f.url(tt.token), nil)
			if err == nil || res == nil || res.StatusCode != tt.want {
				t.Fatalf("dial = %v, %v; want status %d", res, err, tt.want)
			}
			if f.authCalls != tt.authCalls {
				t.Errorf("authorizer calls = %d, want %d", f.authCalls, tt.authCalls)
			}
			if len(f.connect.events) != 0 {
				t.Errorf("$connect ran for a refused connection")
			}
		})
	}
}

func TestConnect_ConnectStatusRefuses(t *testing.T) {
	f := newWSFixture(t)
	f.connect.answer = func(events.APIGatewayWebsocketProxyRequest) ([]byte, error) {
		return []byte(`{"statusCode":403}`), nil
	}
	_, res, err := websocket.Dial(context.Background(), f.url("good"), nil)
	if err == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("dial = %v, %v; want 403", res, err)
	}
}

func TestWebSocket_RoutesCarryAuthorizerAndContext(t *testing.T) {
	f := newWSFixture(t)
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, f.url("good"), nil)
	if err != nil {
		t.Fatal(err)
	}
	con := f.connect.wait(t, 1)[0]
	rc := con.RequestContext
	if rc.RouteKey != "$connect" || rc.EventType != "CONNECT" || rc.Stage != "dev" || rc.ConnectionID == "" ||
		rc.Identity.SourceIP != "127.0.0.1" || rc.DomainName == "" || rc.RequestID == "" || con.QueryStringParameters["token"] != "good" {
		t.Errorf("$connect context = %+v", con)
	}
	wantAuth := map[string]any{"tenantId": "T1", "visitorId": "V1", "principalId": "V1"}
	if !sameAuth(rc.Authorizer, wantAuth) {
		t.Errorf("$connect authorizer = %v, want %v", rc.Authorizer, wantAuth)
	}
	for _, frame := range []string{`{"action":"sendMessage","text":"hi"}`, `{"action":"nope"}`, `not json`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	m := f.msg.wait(t, 1)[0]
	if m.RequestContext.RouteKey != "sendMessage" || m.RequestContext.EventType != "MESSAGE" ||
		m.Body != `{"action":"sendMessage","text":"hi"}` || m.RequestContext.ConnectionID != rc.ConnectionID ||
		!sameAuth(m.RequestContext.Authorizer, wantAuth) || m.RequestContext.MessageID == nil {
		t.Errorf("sendMessage event = %+v", m)
	}
	defaults := f.dflt.wait(t, 2)
	for _, d := range defaults {
		if d.RequestContext.RouteKey != "$default" || !sameAuth(d.RequestContext.Authorizer, wantAuth) {
			t.Errorf("$default event = %+v", d)
		}
	}
	c.Close(websocket.StatusNormalClosure, "bye")
	dis := f.dis.wait(t, 1)[0]
	if dis.RequestContext.EventType != "DISCONNECT" || dis.RequestContext.ConnectionID != rc.ConnectionID ||
		dis.RequestContext.DisconnectStatusCode != 1000 || !sameAuth(dis.RequestContext.Authorizer, wantAuth) {
		t.Errorf("$disconnect event = %+v", dis.RequestContext)
	}
}

func TestWebSocket_FunctionErrorSendsInternalServerError(t *testing.T) {
	f := newWSFixture(t)
	f.msg.answer = func(events.APIGatewayWebsocketProxyRequest) ([]byte, error) {
		return nil, &lambdarunner.FunctionError{Type: "errorString", Message: "boom"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, f.url("good"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, []byte(`{"action":"sendMessage"}`))
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"Internal server error"`) || strings.Contains(string(b), "boom") {
		t.Fatalf("frame = %s, %v", b, err)
	}
}

func TestManagementAPI_WithRealSDKClient(t *testing.T) {
	f := newWSFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, f.url("good"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	id := f.connect.wait(t, 1)[0].RequestContext.ConnectionID
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	client := pusher.NewClient(cfg, f.srv.URL+"/dev")
	p := pusher.New(client)
	if err := p.Send(ctx, id, map[string]string{"type": "pong"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	_, b, err := c.Read(ctx)
	if err != nil || string(b) != `{"type":"pong"}` {
		t.Fatalf("frame = %s, %v", b, err)
	}
	res, err := http.Get(f.srv.URL + "/dev/@connections/" + id)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("get connection = %v, %v", res, err)
	}
	var info struct {
		ConnectedAt string `json:"connectedAt"`
		Identity    struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
	}
	json.NewDecoder(res.Body).Decode(&info)
	res.Body.Close()
	if info.ConnectedAt == "" || info.Identity.SourceIP != "127.0.0.1" {
		t.Errorf("connection info = %+v", info)
	}
	if err := p.Close(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, _, err := c.Read(ctx); err == nil {
		t.Fatal("connection still open after DELETE")
	}
	dis := f.dis.wait(t, 1)[0]
	if dis.RequestContext.ConnectionID != id {
		t.Errorf("$disconnect of %s, want %s", dis.RequestContext.ConnectionID, id)
	}
	if err := p.Send(ctx, id, map[string]string{"type": "pong"}); !errors.Is(err, pusher.ErrGone) {
		t.Errorf("send to a closed connection = %v, want ErrGone", err)
	}
}

func sameAuth(got any, want map[string]any) bool {
	m, ok := got.(map[string]any)
	if !ok || len(m) != len(want) {
		return false
	}
	for k, v := range want {
		if m[k] != v {
			return false
		}
	}
	return true
}

func TestWebSocket_IdleAndMaxDurationClose(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*WSConfig)
	}{
		{"idle timeout", func(c *WSConfig) { c.IdleTimeout = 1500 * time.Millisecond }},
		{"maximum duration", func(c *WSConfig) { c.MaxDuration = 1500 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dis := newRecorder()
			cfg := WSConfig{APIID: "local", Stage: "dev", RouteSelection: "$request.body.action",
				Routes: map[string]WSRoute{"$disconnect": {Function: dis}, "$default": {Function: newRecorder()}}}
			tt.cfg(&cfg)
			api, err := NewWebSocketAPI(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(api)
			defer srv.Close()
			defer api.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/dev", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if len(api.ConnectionIDs()) != 1 {
				t.Fatalf("connections = %v", api.ConnectionIDs())
			}
			_, _, err = c.Read(ctx)
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway {
				t.Fatalf("read = %v, want a going-away close", err)
			}
			if d := dis.wait(t, 1)[0]; d.RequestContext.DisconnectStatusCode != 1001 {
				t.Errorf("$disconnect status = %d", d.RequestContext.DisconnectStatusCode)
			}
		})
	}
}
