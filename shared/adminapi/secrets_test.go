package adminapi_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/livesupportbot/backend/shared/adminapi"
)

// fakeSecrets is the runtime's secrets: a value per name, or an error.
type fakeSecrets struct {
	mu    sync.Mutex
	vals  map[string]string
	err   error
	calls int
}

func (f *fakeSecrets) Get(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	v, ok := f.vals[name]
	if !ok {
		return "", errors.New("no secret " + name)
	}
	return v, nil
}

// The platform token comes from the runtime's secrets on the first request,
// not when the API is built (a cold start makes no call), and then works as
// the operator token; later requests do not ask again.
func TestPlatformToken_ReadFromSecretsOnFirstRequest(t *testing.T) {
	sec := &fakeSecrets{vals: map[string]string{adminapi.PlatformTokenSecret: platformToken}}
	e := newEnv(t, func(d *adminapi.Deps) { d.PlatformToken, d.Secrets = "", sec })
	if sec.calls != 0 {
		t.Fatalf("%d secret reads when the API was built", sec.calls)
	}
	a := e.newTenant("Secrets")
	wantStatus(t, "owner key", e.call(http.MethodGet, "/v1/tenant", a.OwnerKey, ""), http.StatusOK)
	wantStatus(t, "operator on an owner route", e.call(http.MethodGet, "/v1/tenant", platformToken, ""), http.StatusForbidden)
	wantStatus(t, "a wrong token", e.call(http.MethodPost, "/v1/tenants", platformToken+"x", `{"name":"X"}`), http.StatusUnauthorized)
	if sec.calls != 1 {
		t.Fatalf("%d secret reads, want 1", sec.calls)
	}
	// Cursors are sealed under the key derived from it, as with a static token.
	res := e.call(http.MethodGet, "/v1/audit-events?limit=1", a.OwnerKey, "")
	next, _ := res.json(t)["next"].(string)
	if next == "" {
		t.Fatalf("no cursor: %s", res.Body)
	}
	wantStatus(t, "next page", e.call(http.MethodGet, "/v1/audit-events?limit=1&cursor="+next, a.OwnerKey, ""), http.StatusOK)
}

// A platform token shorter than 32 characters, or secrets that cannot be read,
// make every request fail as internal, with the cause logged and no secret in
// the log or the answer; nothing is served with a weak token.
func TestPlatformToken_InvalidFailsEveryRequestWithALoggedError(t *testing.T) {
	const short = "short-platform-token-0123456789" // 31 characters
	for name, sec := range map[string]*fakeSecrets{
		"short token":    {vals: map[string]string{adminapi.PlatformTokenSecret: short}},
		"secrets failed": {err: errors.New("secrets manager unreachable")},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(d *adminapi.Deps) { d.PlatformToken, d.Secrets = "", sec })
			for range 2 {
				res := e.call(http.MethodPost, "/v1/tenants", short, `{"name":"Weak"}`)
				p := wantProblem(t, name, res, http.StatusInternalServerError)
				if p["detail"] != "internal error" || strings.Contains(res.Body, short) {
					t.Fatalf("answer %s", res.Body)
				}
			}
			logs := e.logs.String()
			want := "at least 32 characters"
			if sec.err != nil {
				want = "secrets manager unreachable"
			}
			if !strings.Contains(logs, want) || !strings.Contains(logs, "admin request failed") {
				t.Fatalf("log does not say why: %s", logs)
			}
			if strings.Contains(logs, short) {
				t.Fatal("the token reached the log")
			}
		})
	}
}
