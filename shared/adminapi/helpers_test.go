package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/testaws"
)

const platformToken = "platform-token-for-tests-0123456789abcdef"

// env is one test's API over its own tables.
type env struct {
	t     *testing.T
	api   *adminapi.API
	tt    *testaws.Tables
	store *store.Store
	logs  *bytes.Buffer
	now   time.Time
}

func newEnv(t *testing.T, opts ...func(*adminapi.Deps)) *env {
	t.Helper()
	tt := testaws.NewTables(t)
	e := &env{t: t, tt: tt, logs: &bytes.Buffer{}, now: time.Now().UTC()}
	e.store = tt.Store()
	d := adminapi.Deps{Store: e.store, PlatformToken: platformToken,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil))}
	for _, o := range opts {
		o(&d)
	}
	e.api = adminapi.New(d)
	return e
}

// response is a decoded answer.
type response struct {
	Status  int
	Headers map[string]string
	Body    string
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// call sends one request through the Lambda handler as API Gateway would.
func (e *env) call(method, path, key, body string) response {
	e.t.Helper()
	p, q, _ := strings.Cut(path, "?")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: p, RawQueryString: q,
		Headers: map[string]string{"content-type": "application/json"}, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-" + method + p, Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: p}},
	}
	if key != "" {
		ev.Headers["authorization"] = "Bearer " + key
	}
	res, err := e.api.Handler(context.Background(), ev)
	if err != nil {
		e.t.Fatalf("%s %s: handler error %v", method, path, err)
	}
	return response{Status: res.StatusCode, Headers: res.Headers, Body: res.Body}
}

// tenant is a tenant created through the API, with its owner key.
type tenant struct {
	ID, OwnerKey, OwnerKeyID, WidgetKey string
}

func (e *env) newTenant(name string) tenant {
	e.t.Helper()
	res := e.call(http.MethodPost, "/v1/tenants", platformToken, `{"name":"`+name+`"}`)
	if res.Status != http.StatusCreated {
		e.t.Fatalf("create tenant: %d %s", res.Status, res.Body)
	}
	var out struct {
		Tenant struct{ ID, WidgetKey string }
		APIKey struct{ ID, Key string }
	}
	if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
		e.t.Fatal(err)
	}
	return tenant{ID: out.Tenant.ID, OwnerKey: out.APIKey.Key, OwnerKeyID: out.APIKey.ID, WidgetKey: out.Tenant.WidgetKey}
}

func wantStatus(t *testing.T, what string, res response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, res.Status, status, res.Body)
	}
}

func wantProblem(t *testing.T, what string, res response, status int) map[string]any {
	t.Helper()
	wantStatus(t, what, res, status)
	if ct := res.Headers["Content-Type"]; ct != "application/problem+json" {
		t.Fatalf("%s: content type %q, want application/problem+json", what, ct)
	}
	p := res.json(t)
	if p["status"] != float64(status) || p["title"] == "" || p["type"] == "" || p["detail"] == nil {
		t.Fatalf("%s: not a problem document: %s", what, res.Body)
	}
	return p
}

func (e *env) callStage(stage, method, path, key string) response {
	e.t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, Headers: map[string]string{"authorization": "Bearer " + key},
		RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: stage,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}},
	}
	res, err := e.api.Handler(context.Background(), ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Headers: res.Headers, Body: res.Body}
}
