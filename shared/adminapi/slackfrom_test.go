package adminapi_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/livesupportbot/backend/shared/adminapi"
)

// A Slack bridge built on first use (it needs a secret): a failed build fails
// that request and is tried again by the next; a build that finds no Slack app
// answers as a deployment without Slack.
func TestSlackFrom_BuiltOnFirstUse(t *testing.T) {
	builds, fail := 0, true
	e := newEnv(t, func(d *adminapi.Deps) {
		st := storeOf(d)
		d.Slack, d.SlackFrom = nil, func() (adminapi.SlackIntegrations, error) {
			builds++
			if fail {
				return nil, errors.New("secrets unreachable")
			}
			return slackDeps(st), nil
		}
	})
	f := e.newFixture("Lazy")
	if builds != 0 {
		t.Fatalf("%d builds before a Slack route", builds)
	}
	install := "/v1/integrations/slack/install?redirect=false"
	wantProblem(t, "failed build", e.call(http.MethodGet, install, f.OwnerKey, ""), http.StatusInternalServerError)
	fail = false
	wantStatus(t, "built", e.call(http.MethodGet, install, f.OwnerKey, ""), http.StatusOK)
	wantStatus(t, "again", e.call(http.MethodGet, "/v1/integrations", f.OwnerKey, ""), http.StatusOK)
	if builds != 2 {
		t.Fatalf("%d builds, want 2 (one failed, one kept)", builds)
	}

	none := newEnv(t, func(d *adminapi.Deps) {
		d.Slack, d.SlackFrom = nil, func() (adminapi.SlackIntegrations, error) { return nil, nil }
	})
	g := none.newFixture("NoSlack")
	wantProblem(t, "not configured", none.call(http.MethodGet, install, g.OwnerKey, ""), http.StatusNotFound)
	wantStatus(t, "uninstall without Slack", none.call(http.MethodDelete, "/v1/integrations/slack", g.OwnerKey, ""), http.StatusNoContent)
	if body := none.call(http.MethodGet, "/v1/integrations", g.OwnerKey, "").Body; body != `{"items":[],"next":null}` {
		t.Fatalf("list without Slack: %s", body)
	}
}
