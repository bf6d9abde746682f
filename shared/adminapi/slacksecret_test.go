package adminapi_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

// appSecrets plays the function's secrets: fail makes a read fail (Secrets
// Manager unreachable), value is the client secret ("" when the deployment
// has no Slack app); reads counts the reads.
type appSecrets struct {
	fail  bool
	value string
	reads int
}

func (s *appSecrets) Get(string) (string, error) {
	s.reads++
	if s.fail {
		return "", errors.New("secrets unreachable")
	}
	return s.value, nil
}

// The Slack bridge reads the app's client secret per install link, not at cold
// start: a failed read fails that request and the next one reads again; a
// deployment whose secret is empty, or that has no Slack app at all, answers as
// one without Slack.
func TestSlackInstall_ReadsTheClientSecretPerLink(t *testing.T) {
	sec := &appSecrets{fail: true, value: slackClientSecret}
	e := newEnv(t, func(d *adminapi.Deps) {
		d.Slack = adminapi.SlackBridge(slackbridge.New(slackbridge.Deps{
			Config: slackbridge.Config{ClientID: "1111.2222", Secrets: sec}, Store: storeOf(d)}))
	})
	f := e.newFixture("Lazy")
	if sec.reads != 0 {
		t.Fatalf("%d secret reads before a Slack route", sec.reads)
	}
	install := "/v1/integrations/slack/install?redirect=false"
	wantProblem(t, "failed read", e.call(http.MethodGet, install, f.OwnerKey, ""), http.StatusInternalServerError)
	sec.fail = false
	wantStatus(t, "read", e.call(http.MethodGet, install, f.OwnerKey, ""), http.StatusOK)
	wantStatus(t, "list", e.call(http.MethodGet, "/v1/integrations", f.OwnerKey, ""), http.StatusOK)
	if sec.reads != 2 {
		t.Fatalf("%d secret reads, want 2 (one failed, one for the link; listing reads none)", sec.reads)
	}
	sec.value = ""
	wantProblem(t, "empty secret", e.call(http.MethodGet, install, f.OwnerKey, ""), http.StatusNotFound)

	none := newEnv(t, func(d *adminapi.Deps) { d.Slack = nil })
	g := none.newFixture("NoSlack")
	wantProblem(t, "not configured", none.call(http.MethodGet, install, g.OwnerKey, ""), http.StatusNotFound)
	wantStatus(t, "uninstall without Slack", none.call(http.MethodDelete, "/v1/integrations/slack", g.OwnerKey, ""), http.StatusNoContent)
	if body := none.call(http.MethodGet, "/v1/integrations", g.OwnerKey, "").Body; body != `{"items":[],"next":null}` {
		t.Fatalf("list without Slack: %s", body)
	}
}
