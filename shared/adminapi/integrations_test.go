package adminapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/metabridge"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
)

const slackClientSecret = "slack-client-secret-for-tests"

// slackDeps is the Slack bridge of the test API (no KMS: the admin routes never
// touch the token).
func slackDeps(st *store.Store) adminapi.SlackIntegrations {
	return adminapi.SlackBridge(slackbridge.New(slackbridge.Deps{Config: slackbridge.Config{ClientID: "1111.2222", ClientSecret: slackClientSecret}, Store: st}))
}

func slackTeam(f fixture) string { return "T" + strings.ToUpper(f.ID) }

// seedSlack gives a fixture tenant a Slack installation, as the OAuth callback
// stores it, and the item of one agent who replied from Slack.
func (e *env) seedSlack(f fixture) {
	e.t.Helper()
	in := &chat.SlackIntegration{TenantID: f.ID, TeamID: slackTeam(f), TeamName: "Workspace", ChannelID: "C0SUPPORT",
		BotUserID: "UBOT0001", InstalledAt: time.Now().UTC(), TokenEncrypted: []byte("kms-ciphertext")}
	if err := e.store.PutSlackIntegration(context.Background(), in, retention.Defaults); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.PutSlackMember(context.Background(), f.ID, &chat.SlackMember{TeamID: slackTeam(f), UserID: "UAGENT01",
		DisplayName: "alice"}, time.Now(), retention.Defaults); err != nil {
		e.t.Fatal(err)
	}
}

func TestIntegrations_ListShowsSlackWithoutSecrets(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Listing")
	res := e.call(http.MethodGet, "/v1/integrations", f.OwnerKey, "")
	wantStatus(t, "list", res, http.StatusOK)
	items := res.json(t)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("items %v, want the Slack integration", items)
	}
	it := items[0].(map[string]any)
	if it["channel"] != "slack" || it["teamId"] != slackTeam(f) || it["channelId"] != "C0SUPPORT" {
		t.Errorf("integration %v", it)
	}
	for _, s := range []string{"kms-ciphertext", "a21zLWNpcGhlcnRleHQ", "token", "alice@example.com"} {
		if strings.Contains(res.Body, s) {
			t.Errorf("listing shows %q: %s", s, res.Body)
		}
	}
}

func TestIntegrations_InstallRedirectsToSlackWithSignedState(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Install")
	res := e.call(http.MethodGet, "/v1/integrations/slack/install", f.OwnerKey, "")
	wantStatus(t, "install", res, http.StatusFound)
	u, err := url.Parse(res.Headers["Location"])
	if err != nil || u.Host != "slack.com" || u.Path != "/oauth/v2/authorize" {
		t.Fatalf("location %q", res.Headers["Location"])
	}
	q := u.Query()
	if q.Get("client_id") != "1111.2222" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "chat:write") ||
		q.Get("redirect_uri") != "https://api.example.test/webhooks/slack/oauth" { // the request's own domain

		t.Errorf("query %v", q)
	}
	if strings.Contains(res.Headers["Location"], slackClientSecret) {
		t.Error("the install link carries the client secret")
	}
	wantProblem(t, "agent key", e.call(http.MethodGet, "/v1/integrations/slack/install", f.AgentKey, ""), http.StatusForbidden)
}

func TestIntegrations_DeleteSlackRemovesIntegrationRouteAndProfiles(t *testing.T) {
	e := newEnv(t)
	a, b := e.newFixture("Alpha"), e.newFixture("Bravo")
	before := e.snapshot(b)
	wantStatus(t, "delete", e.call(http.MethodDelete, "/v1/integrations/slack", a.OwnerKey, ""), http.StatusNoContent)
	ctx := context.Background()
	if _, err := e.store.SlackIntegration(ctx, a.ID); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("integration left: %v", err)
	}
	if _, err := e.store.SlackTenantOfTeam(ctx, slackTeam(a)); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("route left: %v", err)
	}
	if ms, err := e.store.SlackMembers(ctx, a.ID); err != nil || len(ms) != 0 {
		t.Errorf("members left: %v %v", ms, err)
	}
	wantStatus(t, "delete again", e.call(http.MethodDelete, "/v1/integrations/slack", a.OwnerKey, ""), http.StatusNoContent)
	res := e.call(http.MethodGet, "/v1/integrations", a.OwnerKey, "")
	if items := res.json(t)["items"].([]any); len(items) != 0 {
		t.Errorf("items after delete: %v", items)
	}
	if after := e.snapshot(b); after != before {
		t.Error("deleting A's Slack changed B")
	}
}

// channelDeps is the Meta bridge over st, its tokens encrypted with a KMS key
// of moto, as production wires it.
func channelDeps(t testing.TB, st *store.Store) *metabridge.Bridge {
	key := testaws.NewKMSKey(t)
	return metabridge.New(metabridge.Deps{Store: st, Cipher: slackkms.New(testaws.Config(t), nil, key.KeyID)})
}
