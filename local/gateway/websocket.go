package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/livesupportbot/backend/shared/logging"
)

// WSRoute is one route of the WebSocket API.
type WSRoute struct {
	Function Invoker
	// Authorizer is the REQUEST authorizer of the route ($connect only), or nil.
	Authorizer Invoker
	// IdentitySource lists where the authorizer's identity comes from
	// ("route.request.querystring.token"); a request missing one is refused
	// with 401 without invoking the authorizer, as API Gateway does.
	IdentitySource []string
}

// WSConfig describes a WebSocket API.
type WSConfig struct {
	APIID string
	Stage string
	// RouteSelection is the route selection expression, "$request.body.action".
	RouteSelection string
	Routes         map[string]WSRoute
	// IdleTimeout closes a connection without frames (API Gateway: 10 minutes).
	IdleTimeout time.Duration
	// MaxDuration closes any connection this old (API Gateway: 2 hours).
	MaxDuration time.Duration
	// MaxFrameBytes bounds a frame (API Gateway: 128 KB messages).
	MaxFrameBytes int64
	Log           *slog.Logger
}

// WebSocketAPI serves the WebSocket API at /{stage} and its management API at
// /{stage}/@connections/{connectionId}.
type WebSocketAPI struct {
	cfg      WSConfig
	selector []string

	mu    sync.Mutex
	conns map[string]*wsConn
	wg    sync.WaitGroup
}

type wsConn struct {
	id          string
	c           *websocket.Conn
	authorizer  map[string]any
	sourceIP    string
	userAgent   string
	connectedAt time.Time
	domain      string

	mu           sync.Mutex
	lastActiveAt time.Time
	closeCode    int
	closeReason  string
	closed       chan struct{}
	closeOnce    sync.Once
	ready        chan struct{} // closed once c is set (or the handshake failed)
}

// NewWebSocketAPI returns the API; the route selection expression must have the
// form $request.body.<path>.
func NewWebSocketAPI(cfg WSConfig) (*WebSocketAPI, error) {
	path, ok := strings.CutPrefix(cfg.RouteSelection, "$request.body.")
	if !ok || path == "" {
		return nil, fmt.Errorf("unsupported route selection expression %q", cfg.RouteSelection)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.MaxDuration == 0 {
		cfg.MaxDuration = 2 * time.Hour
	}
	if cfg.MaxFrameBytes == 0 {
		cfg.MaxFrameBytes = 128 * 1024
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &WebSocketAPI{cfg: cfg, selector: strings.Split(path, "."), conns: map[string]*wsConn{}}, nil
}

// ServeHTTP routes a request to the upgrade or the management API.
func (a *WebSocketAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stage := "/" + a.cfg.Stage
	switch {
	case r.URL.Path == stage || r.URL.Path == stage+"/":
		a.serveConnect(w, r)
	case strings.HasPrefix(r.URL.Path, stage+"/@connections/"):
		a.serveManagement(w, r, strings.TrimPrefix(r.URL.Path, stage+"/@connections/"))
	default:
		writeJSON(w, http.StatusForbidden, `{"message":"Forbidden"}`)
	}
}

// ConnectionIDs returns the ids of the open connections.
func (a *WebSocketAPI) ConnectionIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.conns))
	for id := range a.conns {
		ids = append(ids, id)
	}
	return ids
}

// Close closes every connection (each gets its $disconnect) and waits for them.
func (a *WebSocketAPI) Close() {
	a.mu.Lock()
	conns := make([]*wsConn, 0, len(a.conns))
	for _, c := range a.conns {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.StatusGoingAway, "Going away")
	}
	a.wg.Wait()
}

func (a *WebSocketAPI) baseContext(c *wsConn, routeKey, eventType string, now time.Time) events.APIGatewayWebsocketProxyRequestContext {
	id := requestID()
	return events.APIGatewayWebsocketProxyRequestContext{
		AccountID:         accountID,
		Stage:             a.cfg.Stage,
		RequestID:         id,
		ExtendedRequestID: id,
		Identity:          events.APIGatewayRequestIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
		APIID:             a.cfg.APIID,
		ConnectedAt:       c.connectedAt.UnixMilli(),
		ConnectionID:      c.id,
		DomainName:        c.domain,
		EventType:         eventType,
		MessageDirection:  "IN",
		RequestTime:       requestTime(now),
		RequestTimeEpoch:  now.UnixMilli(),
		RouteKey:          routeKey,
	}
}

// authorizerRequest is what API Gateway sends a REQUEST authorizer of a
// WebSocket API: the $connect request plus type and methodArn.
type authorizerRequest struct {
	Type      string `json:"type"`
	MethodArn string `json:"methodArn"`
	events.APIGatewayWebsocketProxyRequest
}

type authorizerResponse struct {
	PrincipalID    string `json:"principalId"`
	PolicyDocument struct {
		Statement []struct {
			Effect string `json:"Effect"`
		} `json:"Statement"`
	} `json:"policyDocument"`
	Context map[string]any `json:"context"`
}

func (a *WebSocketAPI) serveConnect(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeJSON(w, http.StatusBadRequest, `{"message":"Bad Request"}`)
		return
	}
	route, ok := a.cfg.Routes["$connect"]
	now := time.Now()
	c := &wsConn{id: newID(10), sourceIP: sourceIP(r), userAgent: r.UserAgent(), connectedAt: now,
		domain: r.Host, lastActiveAt: now, closed: make(chan struct{}), ready: make(chan struct{})}
	headers, multiHeaders := headersOf(r.Header, false)
	query, multiQuery := map[string]string{}, map[string][]string{}
	for k, v := range r.URL.Query() {
		query[k], multiQuery[k] = v[len(v)-1], v
	}
	req := events.APIGatewayWebsocketProxyRequest{
		Headers: headers, MultiValueHeaders: multiHeaders,
		RequestContext: a.baseContext(c, "$connect", "CONNECT", now),
	}
	if len(query) > 0 {
		req.QueryStringParameters, req.MultiValueQueryStringParameters = query, multiQuery
	}
	log := a.cfg.Log.With("connectionId", c.id)
	if ok && route.Authorizer != nil {
		for _, src := range route.IdentitySource {
			if !identityPresent(src, r) {
				log.Info("connect refused: identity source missing", "source", src)
				writeJSON(w, http.StatusUnauthorized, `{"message":"Unauthorized"}`)
				return
			}
		}
		ar := authorizerRequest{Type: "REQUEST",
			MethodArn:                       fmt.Sprintf("arn:aws:execute-api:us-east-1:%s:%s/%s/$connect", accountID, a.cfg.APIID, a.cfg.Stage),
			APIGatewayWebsocketProxyRequest: req}
		payload, _ := json.Marshal(ar)
		out, err := route.Authorizer.Invoke(r.Context(), payload)
		if err != nil {
			if msg, ok := functionError(err); ok && msg == "Unauthorized" {
				log.Info("connect refused by authorizer")
				writeJSON(w, http.StatusUnauthorized, `{"message":"Unauthorized"}`)
				return
			}
			log.Error("authorizer failed", "error", err)
			writeJSON(w, http.StatusInternalServerError, `{"message":"Internal server error"}`)
			return
		}
		var res authorizerResponse
		if err := json.Unmarshal(out, &res); err != nil || len(res.PolicyDocument.Statement) == 0 {
			log.Error("authorizer answered no policy", "error", err)
			writeJSON(w, http.StatusInternalServerError, `{"message":"Internal server error"}`)
			return
		}
		for _, st := range res.PolicyDocument.Statement {
			if !strings.EqualFold(st.Effect, "Allow") {
				log.Info("connect refused: policy denies")
				writeJSON(w, http.StatusForbidden, `{"message":"Forbidden"}`)
				return
			}
		}
		c.authorizer = map[string]any{}
		for k, v := range res.Context {
			c.authorizer[k] = v
		}
		c.authorizer["principalId"] = res.PrincipalID
		req.RequestContext.Authorizer = c.authorizer
	}
	if ok {
		payload, _ := json.Marshal(req)
		out, err := route.Function.Invoke(r.Context(), payload)
		if status := integrationStatus(out, err); status >= 300 {
			if err != nil {
				log.Error("$connect failed", "error", err)
			}
			log.Info("connect refused by $connect", "status", status)
			writeJSON(w, status, fmt.Sprintf(`{"message":%q}`, http.StatusText(status)))
			return
		}
	}
	// The connection is known to the management API from the handshake on:
	// a client may be pushed to as soon as its dial returns.
	a.mu.Lock()
	a.conns[c.id] = c
	a.mu.Unlock()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		log.Info("websocket accept failed", "error", err)
		a.mu.Lock()
		delete(a.conns, c.id)
		a.mu.Unlock()
		close(c.ready)
		a.disconnect(c, 1006, "Handshake failed")
		return
	}
	ws.SetReadLimit(a.cfg.MaxFrameBytes)
	c.c = ws
	close(c.ready)
	a.wg.Add(1)
	log.Info("connected", "sourceIp", logging.IP(c.sourceIP))
	a.readLoop(c)
}

// integrationStatus reads the status of a proxy integration's answer: the
// statusCode of the response, 200 without one, 500 for a failed invocation.
func integrationStatus(out []byte, err error) int {
	if err != nil {
		return http.StatusInternalServerError
	}
	var res struct {
		StatusCode int `json:"statusCode"`
	}
	if json.Unmarshal(out, &res) == nil && res.StatusCode != 0 {
		return res.StatusCode
	}
	return http.StatusOK
}

func identityPresent(src string, r *http.Request) bool {
	switch {
	case strings.HasPrefix(src, "route.request.querystring."):
		return r.URL.Query().Get(strings.TrimPrefix(src, "route.request.querystring.")) != ""
	case strings.HasPrefix(src, "route.request.header."):
		return r.Header.Get(strings.TrimPrefix(src, "route.request.header.")) != ""
	}
	return true
}

func (a *WebSocketAPI) readLoop(c *wsConn) {
	defer a.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Frames are handed to their integrations concurrently, as API Gateway
	// does; a bound keeps one client from flooding the functions.
	sem := make(chan struct{}, 8)
	var inflight sync.WaitGroup
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-c.closed:
				return
			case <-t.C:
				c.mu.Lock()
				idle := time.Since(c.lastActiveAt)
				c.mu.Unlock()
				if idle > a.cfg.IdleTimeout || time.Since(c.connectedAt) > a.cfg.MaxDuration {
					c.close(websocket.StatusGoingAway, "Going away")
					return
				}
			}
		}
	}()
	code, reason := 1005, "Client closed the connection"
	for {
		typ, data, err := c.c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			switch {
			case errors.As(err, &ce):
				code, reason = int(ce.Code), ce.Reason
			case errors.Is(err, websocket.ErrMessageTooBig):
				code, reason = int(websocket.StatusMessageTooBig), "Message too big"
			default:
				code, reason = 1006, "Connection closed abnormally"
			}
			break
		}
		c.mu.Lock()
		c.lastActiveAt = time.Now()
		c.mu.Unlock()
		body := string(data)
		isB64 := false
		if typ == websocket.MessageBinary {
			// API Gateway hands binary frames on as base64 text.
			body, isB64 = base64.StdEncoding.EncodeToString(data), true
		}
		sem <- struct{}{}
		inflight.Add(1)
		go func() {
			defer func() { <-sem; inflight.Done() }()
			a.message(c, body, isB64)
		}()
	}
	c.mu.Lock()
	if c.closeCode != 0 {
		code, reason = c.closeCode, c.closeReason
	}
	c.mu.Unlock()
	inflight.Wait()
	c.close(websocket.StatusNormalClosure, "")
	a.mu.Lock()
	delete(a.conns, c.id)
	a.mu.Unlock()
	a.disconnect(c, code, reason)
}

// selectRoute evaluates the route selection expression on a frame.
func (a *WebSocketAPI) selectRoute(body string) string {
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return "$default"
	}
	for _, k := range a.selector {
		m, ok := v.(map[string]any)
		if !ok {
			return "$default"
		}
		v = m[k]
	}
	s, ok := v.(string)
	if !ok {
		return "$default"
	}
	if _, ok := a.cfg.Routes[s]; !ok {
		return "$default"
	}
	return s
}

func (a *WebSocketAPI) message(c *wsConn, body string, isB64 bool) {
	key := a.selectRoute(body)
	route, ok := a.cfg.Routes[key]
	now := time.Now()
	rc := a.baseContext(c, key, "MESSAGE", now)
	rc.MessageID = newID(10)
	if !ok {
		c.send(fmt.Sprintf(`{"message": "Forbidden", "connectionId":%q, "requestId":%q}`, c.id, rc.RequestID))
		return
	}
	if c.authorizer != nil {
		rc.Authorizer = c.authorizer
	}
	payload, _ := json.Marshal(events.APIGatewayWebsocketProxyRequest{RequestContext: rc, Body: body, IsBase64Encoded: isB64})
	if _, err := route.Function.Invoke(context.Background(), payload); err != nil {
		a.cfg.Log.Error("route failed", "route", key, "connectionId", c.id, "error", err)
		c.send(fmt.Sprintf(`{"message": "Internal server error", "connectionId":%q, "requestId":%q}`, c.id, rc.RequestID))
	}
}

func (a *WebSocketAPI) disconnect(c *wsConn, code int, reason string) {
	a.cfg.Log.Info("disconnected", "connectionId", c.id, "code", code)
	route, ok := a.cfg.Routes["$disconnect"]
	if !ok {
		return
	}
	rc := a.baseContext(c, "$disconnect", "DISCONNECT", time.Now())
	rc.DisconnectStatusCode = int64(code)
	rc.DisconnectReason = &reason
	if c.authorizer != nil {
		rc.Authorizer = c.authorizer
	}
	headers := map[string]string{"Host": c.domain}
	payload, _ := json.Marshal(events.APIGatewayWebsocketProxyRequest{Headers: headers, RequestContext: rc})
	if _, err := route.Function.Invoke(context.Background(), payload); err != nil {
		a.cfg.Log.Error("$disconnect failed", "connectionId", c.id, "error", err)
	}
}

func (c *wsConn) send(frame string) error { return c.sendBytes([]byte(frame)) }

var errNotOpen = errors.New("connection not open")

func (c *wsConn) sendBytes(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case <-c.ready:
	case <-ctx.Done():
		return errNotOpen
	}
	if c.c == nil {
		return errNotOpen
	}
	return c.c.Write(ctx, websocket.MessageText, b)
}

// close closes the connection from the server side once, recording why.
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.closeCode == 0 && code != websocket.StatusNormalClosure {
			c.closeCode, c.closeReason = int(code), reason
		}
		c.mu.Unlock()
		close(c.closed)
		go func() {
			<-c.ready
			if c.c != nil {
				c.c.Close(code, reason)
			}
		}()
	})
}
