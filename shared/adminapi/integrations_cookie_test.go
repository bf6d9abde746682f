package adminapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

// The install answer sets the cookie that binds the install to this browser:
// Secure, HttpOnly, SameSite=Lax, scoped to the OAuth callback's path.
func TestIntegrations_InstallSetsTheBrowserBindingCookie(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Install")
	res := e.call(http.MethodGet, "/v1/integrations/slack/install", f.OwnerKey, "")
	wantStatus(t, "install", res, http.StatusFound)
	c := res.Headers["Set-Cookie"]
	for _, want := range []string{"; Path=/webhooks/slack/oauth", "; Secure", "; HttpOnly", "; SameSite=Lax", "; Max-Age=600"} {
		if !strings.Contains(c, want) {
			t.Errorf("Set-Cookie %q lacks %q", c, want)
		}
	}
	wantProblem(t, "redirect=maybe", e.call(http.MethodGet, "/v1/integrations/slack/install?redirect=maybe", f.OwnerKey, ""), http.StatusBadRequest)
}

// TestIntegrations_SlackInstallEndToEnd: the admin's browser gets the install
// answer (a redirect, or with redirect=false a 200 a script can read), goes to
// Slack, and Slack sends it back to the callback (webhook-slack, another
// function with the same app secret) with the cookie: Slack is installed. The
// same link opened in a browser that did not get the answer (a copied link, or
// one an attacker sent) is refused and the code never reaches Slack.
func TestIntegrations_SlackInstallEndToEnd(t *testing.T) {
	fake := slackfake.New(t)
	fake.RedirectURI = "https://api.example.test/webhooks/slack/oauth"
	key := testaws.NewKMSKey(t)
	cfg := slackbridge.Config{ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, KMSKeyID: key.KeyID, APIURL: fake.APIURL()}
	e := newEnv(t, func(d *adminapi.Deps) {
		d.Slack = adminapi.SlackBridge(slackbridge.New(slackbridge.Deps{Config: cfg, Store: storeOf(d)}))
	})
	webhook := slackbridge.New(slackbridge.Deps{Config: cfg, Store: e.store, Cipher: slackkms.New(testaws.Config(t), nil, key.KeyID)})
	callback := func(installURL string, cookies []string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		u, err := url.Parse(installURL)
		if err != nil {
			t.Fatal(err)
		}
		res, err := webhook.Handle(context.Background(), events.APIGatewayV2HTTPRequest{
			Version: "2.0", RawPath: "/webhooks/slack/oauth", Cookies: cookies,
			QueryStringParameters: map[string]string{"code": fake.Code, "state": u.Query().Get("state")},
			RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "api.example.test", Stage: "$default",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/webhooks/slack/oauth"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	browserCookie := func(setCookie string) []string {
		c, err := http.ParseSetCookie(setCookie)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", setCookie, err)
		}
		return []string{c.Name + "=" + c.Value}
	}
	for _, tc := range []struct {
		name, query string
		status      int
	}{
		{"redirect", "", http.StatusFound},
		{"script", "?redirect=false", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := e.newFixture("Slack " + tc.name)
			res := e.call(http.MethodGet, "/v1/integrations/slack/install"+tc.query, f.OwnerKey, "")
			wantStatus(t, "install", res, tc.status)
			link := res.json(t)["url"].(string)
			if tc.status == http.StatusFound && res.Headers["Location"] != link {
				t.Errorf("Location %q, body url %q", res.Headers["Location"], link)
			}
			if tc.status == http.StatusOK && res.Headers["Location"] != "" {
				t.Errorf("a 200 with Location %q", res.Headers["Location"])
			}
			fake.ResetCode("code-" + tc.name)
			exchanges := len(fake.Calls("oauth.v2.access"))
			if out := callback(link, nil); out.StatusCode != http.StatusBadRequest || len(fake.Calls("oauth.v2.access")) != exchanges {
				t.Fatalf("callback in another browser: %d %s", out.StatusCode, out.Body)
			}
			if out := callback(link, browserCookie(res.Headers["Set-Cookie"])); out.StatusCode != http.StatusOK {
				t.Fatalf("callback in the browser that started: %d %s", out.StatusCode, out.Body)
			}
			if in, err := e.store.SlackIntegration(context.Background(), f.ID); err != nil || in.TeamID != fake.TeamID {
				t.Fatalf("integration %+v %v", in, err)
			}
			if err := webhook.Uninstall(context.Background(), f.ID); err != nil { // the workspace is free for the next case
				t.Fatal(err)
			}
			if _, err := e.store.SlackIntegration(context.Background(), f.ID); !errors.Is(err, chat.ErrNotFound) {
				t.Fatal(err)
			}
		})
	}
}
