package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/lambdarunner"
)

func httpFixture(t *testing.T, fn InvokerFunc) *httptest.Server {
	t.Helper()
	api := NewHTTPAPI(HTTPConfig{APIID: "local", Stage: "dev",
		Cors: &Cors{AllowOrigins: []string{"*"}, AllowHeaders: []string{"content-type", "authorization"},
			AllowMethods: []string{"GET", "POST", "PATCH", "OPTIONS"}, MaxAge: 600},
		Routes: []HTTPRoute{
			{Method: "POST", Path: "/widget/v1/session", Function: fn},
			{Method: "GET", Path: "/v1/conversations/{id}", Function: fn},
			{Method: "GET", Path: "/v1/conversations/open", Function: fn},
			{Method: "ANY", Path: "/files/{proxy+}", Function: fn},
		}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPAPI_EventsAreFormat2(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	srv := httpFixture(t, func(_ context.Context, p []byte) ([]byte, error) {
		got = events.APIGatewayV2HTTPRequest{}
		if err := json.Unmarshal(p, &got); err != nil {
			return nil, err
		}
		return []byte(`{"statusCode":201,"headers":{"content-type":"application/json","x-a":"b"},"body":"{\"ok\":true}"}`), nil
	})
	tests := []struct {
		name, method, path, body string
		routeKey                 string
		params                   map[string]string
	}{
		{"literal route", "POST", "/dev/widget/v1/session?x=1", `{"widgetKey":"wk"}`, "POST /widget/v1/session", nil},
		{"path parameter", "GET", "/dev/v1/conversations/C123", "", "GET /v1/conversations/{id}", map[string]string{"id": "C123"}},
		{"literal beats parameter", "GET", "/dev/v1/conversations/open", "", "GET /v1/conversations/open", nil},
		{"greedy parameter", "DELETE", "/dev/files/a/b/c", "", "ANY /files/{proxy+}", map[string]string{"proxy": "a/b/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", "http://example.test")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 201 || string(b) != `{"ok":true}` || res.Header.Get("X-A") != "b" {
				t.Errorf("response = %d %s %v", res.StatusCode, b, res.Header)
			}
			if res.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("no CORS header: %v", res.Header)
			}
			if got.Version != "2.0" || got.RouteKey != tt.routeKey || got.RequestContext.RouteKey != tt.routeKey ||
				got.RequestContext.HTTP.Method != tt.method || got.RequestContext.Stage != "dev" ||
				got.RequestContext.HTTP.SourceIP != "127.0.0.1" || got.Body != tt.body || got.Headers["origin"] != "http://example.test" {
				t.Errorf("event = %+v", got)
			}
			if len(got.PathParameters) != len(tt.params) {
				t.Errorf("path parameters = %v, want %v", got.PathParameters, tt.params)
			}
			for k, v := range tt.params {
				if got.PathParameters[k] != v {
					t.Errorf("path parameters = %v, want %v", got.PathParameters, tt.params)
				}
			}
		})
	}
}

func TestHTTPAPI_GatewayAnswers(t *testing.T) {
	srv := httpFixture(t, func(_ context.Context, p []byte) ([]byte, error) {
		var ev events.APIGatewayV2HTTPRequest
		json.Unmarshal(p, &ev)
		if ev.PathParameters["id"] == "fail" {
			return nil, &lambdarunner.FunctionError{Type: "errorString", Message: "secret detail"}
		}
		return []byte(`{"plain":"object"}`), nil
	})
	tests := []struct {
		name, method, path string
		headers            map[string]string
		status             int
		body               string
		header, value      string
	}{
		{"unknown route is 404", "GET", "/dev/nowhere", nil, 404, `{"message":"Not Found"}`, "", ""},
		{"wrong method is 404", "PUT", "/dev/widget/v1/session", nil, 404, `{"message":"Not Found"}`, "", ""},
		{"no stage is 404", "POST", "/widget/v1/session", nil, 404, `{"message":"Not Found"}`, "", ""},
		{"function error is a bare 500", "GET", "/dev/v1/conversations/fail", nil, 500, `{"message":"Internal Server Error"}`, "", ""},
		{"answer without statusCode is a 200 JSON body", "GET", "/dev/v1/conversations/x", nil, 200, `{"plain":"object"}`, "Content-Type", "application/json"},
		{"preflight answered by the gateway", "OPTIONS", "/dev/widget/v1/session",
			map[string]string{"Origin": "http://a.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
			204, "", "Access-Control-Max-Age", "600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || string(b) != tt.body {
				t.Errorf("got %d %s, want %d %s", res.StatusCode, b, tt.status, tt.body)
			}
			if tt.header != "" && res.Header.Get(tt.header) != tt.value {
				t.Errorf("%s = %q, want %q", tt.header, res.Header.Get(tt.header), tt.value)
			}
		})
	}
}
