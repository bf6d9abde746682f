package slackbridge_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
)

func TestInstallLink_NamesAppScopesRedirectAndSignedState(t *testing.T) {
	h := newHarness(t)
	s := start(t, h.bridge, "t123", apiCtx)
	u, q := s.URL, s.URL.Query()
	if u.Scheme+"://"+u.Host+u.Path != slackbridge.DefaultAuthorizeURL {
		t.Errorf("authorize URL %s", u)
	}
	if q.Get("client_id") != h.slack.ClientID || q.Get("redirect_uri") != redirectURL {
		t.Errorf("client_id %q redirect_uri %q", q.Get("client_id"), q.Get("redirect_uri"))
	}
	scopes := strings.Split(q.Get("scope"), ",")
	for _, want := range []string{"chat:write", "channels:history", "groups:history", "users:read", "incoming-webhook"} {
		if !contains(scopes, want) {
			t.Errorf("scope %q missing from %v", want, scopes)
		}
	}
	if contains(scopes, "users:read.email") {
		t.Errorf("scopes %v ask for members' emails, which the bridge never reads", scopes)
	}
	if q.Get("state") == "" || strings.Contains(q.Get("state"), h.slack.ClientSecret) {
		t.Errorf("state %q", q.Get("state"))
	}
	if a, b := start(t, h.bridge, "t123", apiCtx), start(t, h.bridge, "t123", apiCtx); a.State == b.State || a.Cookie == b.Cookie {
		t.Error("two install links share a state or a cookie")
	}
}

// TestOAuth_RedirectFollowsTheAPIsDomain: the callback URL is the one of the API
// the request came through, so it is right behind a custom domain too, and a
// configured public URL (a custom domain mapped under a path) wins. The fake
// Slack refuses a code exchange whose redirect_uri differs from the install's.
func TestOAuth_RedirectFollowsTheAPIsDomain(t *testing.T) {
	custom := events.APIGatewayV2HTTPRequestContext{DomainName: "chat.example.com", Stage: "dev"}
	for _, tc := range []struct {
		name, publicURL string
		rc              events.APIGatewayV2HTTPRequestContext
		want            string
	}{
		{"execute-api domain", "", apiCtx, redirectURL},
		{"custom domain", "", custom, "https://chat.example.com/webhooks/slack/oauth"},
		{"configured public URL", "https://chat.example.com/support/", custom, "https://chat.example.com/support/webhooks/slack/oauth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			b := slackbridge.New(slackbridge.Deps{Config: slackbridge.Config{ClientID: h.slack.ClientID, ClientSecret: h.slack.ClientSecret,
				SigningSecret: signingSecret, KMSKeyID: h.key.KeyID, PublicURL: tc.publicURL, APIURL: h.slack.APIURL()}, Store: h.st, Cipher: slackkms.New(testaws.Config(t), nil, h.key.KeyID), Log: logging.New(h.logs, "test")})

			ten := h.tenant(t)
			s := start(t, b, ten.ID, tc.rc)
			if got := s.URL.Query().Get("redirect_uri"); got != tc.want {
				t.Fatalf("redirect_uri %q, want %q", got, tc.want)
			}
			h.slack.RedirectURI = tc.want
			h.slack.ResetCode("code-" + ten.ID)
			req := s.callback(t, map[string]string{"code": "code-" + ten.ID, "state": s.State})
			req.RequestContext.DomainName, req.RequestContext.Stage = tc.rc.DomainName, tc.rc.Stage
			res, err := b.Handle(context.Background(), req)
			if err != nil || res.StatusCode != http.StatusOK { // no console URL: a page, not a redirect
				t.Fatalf("callback: %d %s %v", res.StatusCode, res.Body, err)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// walk calls fn for every string and binary value of an item, nested ones too.
func walk(av types.AttributeValue, fn func(string)) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		fn(v.Value)
	case *types.AttributeValueMemberB:
		fn(string(v.Value))
	case *types.AttributeValueMemberSS:
		for _, s := range v.Value {
			fn(s)
		}
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			walk(e, fn)
		}
	case *types.AttributeValueMemberM:
		for _, e := range v.Value {
			walk(e, fn)
		}
	}
}

// TestInstall_StoresTokenOnlyEncryptedForItsTenant: the raw items hold no
// xoxb- value; the ciphertext decrypts with the tenant's encryption context
// only; nothing the API returns or logs carries the token.
func TestInstall_StoresTokenOnlyEncryptedForItsTenant(t *testing.T) {
	h := newHarness(t)
	ten, other := h.tenant(t), h.tenant(t)
	h.install(t, ten.ID)
	ctx := context.Background()
	var items []map[string]types.AttributeValue
	for _, pk := range []string{store.SlackPK(ten.ID), store.SlackRoutePK(h.slack.TeamID)} {
		out, err := h.tt.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(h.tt.Data),
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, out.Items...)
	}
	if len(items) != 3 { // integration, route, the used state: no member
		t.Fatalf("%d items written at install, want 3", len(items))
	}
	for _, it := range items {
		for k, v := range it {
			walk(v, func(s string) {
				if strings.Contains(s, "xoxb-") || strings.Contains(s, h.slack.BotToken) {
					t.Errorf("attribute %s of %v holds the token in clear", k, it["SK"])
				}
			})
		}
		if _, ok := it["dataClass"]; !ok {
			t.Errorf("item %v has no dataClass", it["SK"])
		}
		if _, ok := it["expiresAt"]; !ok {
			t.Errorf("item %v has no expiresAt", it["SK"])
		}
	}
	in, err := h.st.SlackIntegration(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in.TeamID != h.slack.TeamID || in.ChannelID != h.slack.ChannelID || in.BotUserID != h.slack.BotUserID || len(in.TokenEncrypted) == 0 {
		t.Fatalf("integration %+v", in)
	}
	decrypt := func(ec map[string]string) (string, error) {
		out, err := h.key.Client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: in.TokenEncrypted, EncryptionContext: ec})
		if err != nil {
			return "", err
		}
		return string(out.Plaintext), nil
	}
	if tok, err := decrypt(map[string]string{"tenantId": ten.ID}); err != nil || tok != h.slack.BotToken {
		t.Fatalf("decrypt with the tenant's context: %v (token matches: %v)", err, tok == h.slack.BotToken)
	}
	if _, err := decrypt(map[string]string{"tenantId": other.ID}); err == nil {
		t.Error("another tenant's encryption context decrypted the token")
	}
	if _, err := decrypt(nil); err == nil {
		t.Error("no encryption context decrypted the token")
	}
	desc, err := h.bridge.Describe(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(desc)
	if strings.Contains(string(b), "xoxb-") || strings.Contains(strings.ToLower(string(b)), "token") {
		t.Errorf("integration description shows the token: %s", b)
	}
	for _, secret := range []string{h.slack.BotToken, "xoxb-", h.slack.ClientSecret, "alice@acme.test"} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// TestInstall_StoresNothingAboutTheWorkspacesMembers: after an install into a
// workspace whose members all have emails and most an avatar, the whole Data
// table holds no member item, no email and no image URL of any member, and
// Slack was asked for no member list (users.list).
func TestInstall_StoresNothingAboutTheWorkspacesMembers(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	wantNoMemberData(t, h, nil)
	if calls := h.slack.Calls("users.list"); len(calls) != 0 {
		t.Errorf("%d users.list calls at install, want none", len(calls))
	}
}

// wantNoMemberData scans the Data table and fails on any member item other
// than those of the users in kept, on any email or image URL of a workspace
// member anywhere, and on the real name of a member not kept.
func wantNoMemberData(t *testing.T, h *harness, kept map[string]bool) {
	t.Helper()
	var leaks []string
	for _, u := range workspace {
		leaks = append(leaks, u.Email)
		if u.Image192 != "" {
			leaks = append(leaks, u.Image192)
		}
		if !kept[u.ID] {
			leaks = append(leaks, u.RealName)
		}
	}
	for _, it := range h.tt.ScanAll(t, h.tt.Data) {
		sk := it["SK"].(*types.AttributeValueMemberS).Value
		if rest, ok := strings.CutPrefix(sk, "MEMBER#"); ok {
			if _, user, _ := strings.Cut(rest, "#"); !kept[user] {
				t.Errorf("member item %s of a member who never replied", sk)
			}
		}
		for k, v := range it {
			walk(v, func(s string) {
				for _, leak := range leaks {
					if leak != "" && strings.Contains(s, leak) {
						t.Errorf("attribute %s of %s holds %q", k, sk, leak)
					}
				}
			})
		}
	}
}

// TestOAuthCallback_BadRequestsChangeNothing.
func TestOAuthCallback_BadRequestsChangeNothing(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	// One browser started every install: it carries all their cookies.
	goodInstall := start(t, h.bridge, ten.ID, apiCtx)
	expiredInstall := start(t, h.bridge.WithClock(func() time.Time { return time.Now().Add(-slackbridge.StateTTL - time.Minute) }), ten.ID, apiCtx)
	goneInstall := start(t, h.bridge, ids.New(ids.Tenant), apiCtx)
	refusedInstall := start(t, h.bridge, ten.ID, apiCtx)
	good, expired, gone := goodInstall.State, expiredInstall.State, goneInstall.State
	browser := func(q map[string]string) events.APIGatewayV2HTTPRequest {
		req := goodInstall.callback(t, q)
		req.Cookies = append(req.Cookies, expiredInstall.Cookie, goneInstall.Cookie, refusedInstall.Cookie)
		return req
	}
	tampered := []byte(good)
	tampered[3] ^= 1
	_, sig, _ := strings.Cut(good, ".")
	// A far-future expiry carrying the signature of another payload.
	forged := base64.RawURLEncoding.EncodeToString([]byte(ten.ID+".9999999999.xxx")) + "." + sig
	cases := []struct {
		name      string
		q         map[string]string
		status    int
		exchanges bool // whether the code reaches Slack
	}{
		{"tampered state", map[string]string{"code": h.slack.Code, "state": string(tampered)}, 400, false},
		{"forged state", map[string]string{"code": h.slack.Code, "state": forged}, 400, false},
		{"expired state", map[string]string{"code": h.slack.Code, "state": expired}, 400, false},
		{"missing state", map[string]string{"code": h.slack.Code}, 400, false},
		{"unknown tenant", map[string]string{"code": h.slack.Code, "state": gone}, 400, false},
		{"missing code", map[string]string{"state": good}, 400, false},
		{"user cancelled", map[string]string{"error": "access_denied", "state": good}, 400, false},
		{"code refused by Slack", map[string]string{"code": "not-the-code", "state": refusedInstall.State}, 400, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(h.slack.Calls("oauth.v2.access"))
			res, err := h.bridge.Handle(context.Background(), browser(c.q))
			if err != nil || res.StatusCode != c.status {
				t.Fatalf("status %d %s %v, want %d", res.StatusCode, res.Body, err, c.status)
			}
			if res.Headers["Content-Type"] != "application/problem+json" {
				t.Errorf("content type %q", res.Headers["Content-Type"])
			}
			if exchanged := len(h.slack.Calls("oauth.v2.access")) > before; exchanged != c.exchanges {
				t.Errorf("code exchanged=%v, want %v", exchanged, c.exchanges)
			}
			if _, err := h.st.SlackIntegration(context.Background(), ten.ID); !errors.Is(err, chat.ErrNotFound) {
				t.Errorf("integration written: %v", err)
			}
		})
	}
	// The good state still works afterwards, once.
	res, err := h.bridge.Handle(context.Background(), browser(map[string]string{"code": h.slack.Code, "state": good}))
	if err != nil || res.StatusCode != 302 || res.Headers["Location"] != consoleURL+"?slack=connected" {
		t.Fatalf("good callback: %d %v %v", res.StatusCode, res.Headers, err)
	}
	h.slack.ResetCode("a-fresh-code")
	exchanges := len(h.slack.Calls("oauth.v2.access"))
	res, err = h.bridge.Handle(context.Background(), browser(map[string]string{"code": "a-fresh-code", "state": good}))
	if err != nil || res.StatusCode != 400 || len(h.slack.Calls("oauth.v2.access")) != exchanges {
		t.Fatalf("replayed state: %d %s %v (code exchanged: %v)", res.StatusCode, res.Body, err, len(h.slack.Calls("oauth.v2.access")) != exchanges)
	}
}

// TestInstall_WorkspaceOfAnotherTenantIsConflict: a workspace routes to one
// tenant; a second tenant cannot take it over, and reinstalling is fine.
func TestInstall_WorkspaceOfAnotherTenantIsConflict(t *testing.T) {
	h := newHarness(t)
	a, b := h.tenant(t), h.tenant(t)
	h.install(t, a.ID)
	h.install(t, a.ID) // reinstall by the same tenant
	if ms, _ := h.st.SlackMembers(context.Background(), a.ID); len(ms) != 0 {
		t.Errorf("%d members after reinstall, want none", len(ms))
	}
	h.slack.ResetCode("code-b")
	sb := start(t, h.bridge, b.ID, apiCtx)
	res, err := h.bridge.Handle(context.Background(), sb.callback(t, map[string]string{"code": "code-b", "state": sb.State}))
	if err != nil || res.StatusCode != 409 {
		t.Fatalf("second tenant: %d %s %v, want 409", res.StatusCode, res.Body, err)
	}
	if tid, err := h.st.SlackTenantOfTeam(context.Background(), h.slack.TeamID); err != nil || tid != a.ID {
		t.Errorf("workspace routes to %q (%v), want %s", tid, err, a.ID)
	}
	if _, err := h.st.SlackIntegration(context.Background(), b.ID); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("second tenant got an integration: %v", err)
	}
	// After the first tenant uninstalls, the second may connect the workspace.
	if err := h.bridge.Uninstall(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	h.install(t, b.ID)
	if tid, _ := h.st.SlackTenantOfTeam(context.Background(), h.slack.TeamID); tid != b.ID {
		t.Errorf("workspace routes to %q, want %s", tid, b.ID)
	}
}
