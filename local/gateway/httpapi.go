package gateway

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPRoute is one route of the HTTP API: "POST /widget/v1/session",
// "GET /v1/conversations/{id}", "ANY /files/{proxy+}".
type HTTPRoute struct {
	Method   string
	Path     string
	Function Invoker
}

// Cors is an HTTP API's CORS configuration.
type Cors struct {
	AllowOrigins     []string
	AllowHeaders     []string
	AllowMethods     []string
	ExposeHeaders    []string
	AllowCredentials bool
	MaxAge           int
}

// HTTPConfig describes an HTTP API.
type HTTPConfig struct {
	APIID  string
	Stage  string
	Routes []HTTPRoute
	Cors   *Cors
	// MaxBodyBytes bounds a request body (API Gateway: 10 MB).
	MaxBodyBytes int64
	Log          *slog.Logger
}

// HTTPAPI serves the HTTP API under /{stage}/.
type HTTPAPI struct {
	cfg HTTPConfig
}

// NewHTTPAPI returns the API.
func NewHTTPAPI(cfg HTTPConfig) *HTTPAPI {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &HTTPAPI{cfg: cfg}
}

// Prefix returns the path the API is served under, "/{stage}".
func (a *HTTPAPI) Prefix() string { return "/" + a.cfg.Stage }

// match finds the route of a method and path (without the stage) and its
// path parameters. A literal route wins over a parameterised one.
func (a *HTTPAPI) match(method, path string) (*HTTPRoute, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *HTTPRoute
	var bestParams map[string]string
	bestScore := -1
	for i := range a.cfg.Routes {
		rt := &a.cfg.Routes[i]
		params, score, ok := matchPath(strings.Split(strings.Trim(rt.Path, "/"), "/"), segs)
		if !ok {
			continue
		}
		if !strings.EqualFold(rt.Method, method) && !strings.EqualFold(rt.Method, "ANY") && rt.Method != "*" {
			continue
		}
		if strings.EqualFold(rt.Method, method) {
			score++
		}
		if score > bestScore {
			best, bestParams, bestScore = rt, params, score
		}
	}
	return best, bestParams
}

func matchPath(pattern, segs []string) (map[string]string, int, bool) {
	params := map[string]string{}
	score := 0
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			params[p[1:len(p)-2]] = strings.Join(segs[i:], "/")
			return params, score, i < len(segs) && segs[i] != ""
		}
		if i >= len(segs) {
			return nil, 0, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, 0, false
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, 0, false
		}
		score += 2
	}
	if len(pattern) != len(segs) {
		return nil, 0, false
	}
	return params, score, true
}

// ServeHTTP answers one request of the API.
func (a *HTTPAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, a.Prefix())
	if !ok || (path != "" && path[0] != '/') {
		writeJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
		return
	}
	if path == "" {
		path = "/"
	}
	origin := r.Header.Get("Origin")
	if a.cfg.Cors != nil && r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		a.preflight(w, r, origin)
		return
	}
	if a.cfg.Cors != nil && origin != "" {
		a.corsHeaders(w.Header(), origin)
	}
	route, params := a.match(r.Method, path)
	if route == nil {
		writeJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, a.cfg.MaxBodyBytes+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, `{"message":"Bad Request"}`)
		return
	}
	if int64(len(body)) > a.cfg.MaxBodyBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, `{"message":"Request Entity Too Large"}`)
		return
	}
	ev := a.event(r, route, params, path, body)
	payload, _ := json.Marshal(ev)
	out, err := route.Function.Invoke(r.Context(), payload)
	if err != nil {
		a.cfg.Log.Error("integration failed", "route", ev.RouteKey, "requestId", ev.RequestContext.RequestID, "error", err)
		writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
		return
	}
	writeResponse(w, out)
}

func (a *HTTPAPI) event(r *http.Request, route *HTTPRoute, params map[string]string, path string, body []byte) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	headers, _ := headersOf(r.Header, true)
	headers["host"] = r.Host
	var cookies []string
	for _, c := range r.Header.Values("Cookie") {
		for _, part := range strings.Split(c, ";") {
			if p := strings.TrimSpace(part); p != "" {
				cookies = append(cookies, p)
			}
		}
	}
	delete(headers, "cookie")
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, v := range q {
			query[k] = strings.Join(v, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	routeKey := strings.ToUpper(route.Method) + " " + route.Path
	if route.Method == "*" {
		routeKey = "ANY " + route.Path
	}
	id := requestID()
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    accountID,
			Stage:        a.cfg.Stage,
			RequestID:    id,
			APIID:        a.cfg.APIID,
			DomainName:   r.Host,
			DomainPrefix: strings.Split(r.Host, ".")[0],
			Time:         requestTime(now),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto,
				SourceIP: sourceIP(r), UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) && isTextType(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func isTextType(ct string) bool {
	ct = strings.ToLower(ct)
	return ct == "" || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "xml") || strings.Contains(ct, "x-www-form-urlencoded") || strings.Contains(ct, "javascript")
}

// writeResponse maps a payload format 2.0 answer to HTTP: an object with
// statusCode is a full response; anything else is a 200 JSON body.
func writeResponse(w http.ResponseWriter, out []byte) {
	var res struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Cookies           []string            `json:"cookies"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if json.Unmarshal(out, &res) != nil || res.StatusCode == 0 {
		writeJSON(w, http.StatusOK, string(out))
		return
	}
	h := w.Header()
	for k, v := range res.Headers {
		h.Set(k, v)
	}
	for k, vs := range res.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range res.Cookies {
		h.Add("Set-Cookie", c)
	}
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(res.Body); err == nil {
			body = b
		}
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.StatusCode)
	w.Write(body)
}

func (a *HTTPAPI) originAllowed(origin string) (string, bool) {
	c := a.cfg.Cors
	if slices.Contains(c.AllowOrigins, "*") {
		if c.AllowCredentials {
			return origin, true
		}
		return "*", true
	}
	for _, o := range c.AllowOrigins {
		if strings.EqualFold(o, origin) {
			return origin, true
		}
	}
	return "", false
}

func (a *HTTPAPI) corsHeaders(h http.Header, origin string) bool {
	allow, ok := a.originAllowed(origin)
	if !ok {
		return false
	}
	c := a.cfg.Cors
	h.Set("Access-Control-Allow-Origin", allow)
	if allow != "*" {
		h.Add("Vary", "Origin")
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
	return true
}

// preflight answers a CORS preflight itself, as API Gateway does when the API
// has a CORS configuration.
func (a *HTTPAPI) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	c := a.cfg.Cors
	h := w.Header()
	method := r.Header.Get("Access-Control-Request-Method")
	methodOK := slices.Contains(c.AllowMethods, "*")
	for _, m := range c.AllowMethods {
		methodOK = methodOK || strings.EqualFold(m, method)
	}
	if !methodOK || !a.corsHeaders(h, origin) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
	if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
		if slices.Contains(c.AllowHeaders, "*") {
			h.Set("Access-Control-Allow-Headers", reqHeaders)
		} else {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
		}
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
	w.WriteHeader(http.StatusNoContent)
}
