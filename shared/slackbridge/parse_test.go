package slackbridge_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

func TestParseEvent(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		kind  string
		reply bool // a human thread reply
		err   bool
	}{
		{"url verification", `{"token":"x","challenge":"abc","type":"url_verification"}`, slackbridge.KindURLVerification, false, false},
		{"thread reply", `{"type":"event_callback","team_id":"T1","api_app_id":"A1","event_id":"Ev1","event_time":1,"event":{"type":"message","user":"U1","text":"hi","ts":"2.0","thread_ts":"1.0","channel":"C1"}}`, slackbridge.KindMessage, true, false},
		{"broadcast thread reply", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","subtype":"thread_broadcast","user":"U1","text":"hi","ts":"2.0","thread_ts":"1.0","channel":"C1"}}`, slackbridge.KindMessage, true, false},
		{"thread parent", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","user":"U1","text":"hi","ts":"1.0","thread_ts":"1.0","channel":"C1"}}`, slackbridge.KindMessage, false, false},
		{"bot reply", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","user":"U1","bot_id":"B1","text":"hi","ts":"2.0","thread_ts":"1.0","channel":"C1"}}`, slackbridge.KindMessage, false, false},
		{"edit", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","subtype":"message_changed","channel":"C1","ts":"3.0","message":{"user":"U1","text":"x","ts":"2.0","thread_ts":"1.0"}}}`, slackbridge.KindMessage, false, false},
		{"app uninstalled", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"app_uninstalled"}}`, slackbridge.KindUninstalled, false, false},
		{"tokens revoked", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"tokens_revoked","tokens":{"bot":["U9"]}}}`, slackbridge.KindTokensRevoked, false, false},
		{"team join", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"team_join","user":{"id":"U2","name":"c","profile":{"email":"c@x.test"}}}}`, slackbridge.KindIgnored, false, false}, // nothing is kept of a member who joins
		{"user change", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"user_change","user":{"id":"U2","name":"c","profile":{"email":"c@x.test"}}}}`, slackbridge.KindMember, false, false},
		{"team join without user", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"team_join"}}`, slackbridge.KindIgnored, false, false},
		{"unknown inner type", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"no_such_event"}}`, slackbridge.KindIgnored, false, false},
		{"rate limited", `{"type":"app_rate_limited","team_id":"T1","minute_rate_limited":1}`, slackbridge.KindIgnored, false, false},
		{"callback without event id", `{"type":"event_callback","team_id":"T1","event":{"type":"app_uninstalled"}}`, "", false, true},
		{"callback without event", `{"type":"event_callback","team_id":"T1","event_id":"Ev1"}`, "", false, true},
		{"not json", `{"type":`, "", false, true},
		{"no type", `{"challenge":"abc"}`, "", false, true},
		{"array", `[1,2]`, "", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := slackbridge.ParseEvent([]byte(c.body))
			if c.err {
				if err == nil || !errors.Is(err, slackbridge.ErrMalformed) || ev != nil {
					t.Fatalf("got %+v %v, want ErrMalformed", ev, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != c.kind || ev.IsHumanThreadReply() != c.reply {
				t.Errorf("kind %q reply %v, want %q %v", ev.Kind, ev.IsHumanThreadReply(), c.kind, c.reply)
			}
		})
	}
}

// FuzzParseEvent feeds the events endpoint's parser arbitrary bodies (seeds in
// testdata/fuzz/FuzzParseEvent): it never panics, fails only with ErrMalformed,
// and what it calls a human thread reply has everything a reply needs. The same
// body, unsigned, never gets past the endpoint's signature check (the bridge has
// no store here: any write would panic).
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","user":"U1","text":"hi","ts":"2.0","thread_ts":"1.0","channel":"C1"}}`))
	f.Add([]byte(`{"type":"url_verification","challenge":"c"}`))
	unsigned := slackbridge.New(slackbridge.Deps{Config: slackbridge.Config{SigningSecret: "fuzz-secret"}})
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := slackbridge.ParseEvent(body)
		if err != nil {
			if ev != nil || !errors.Is(err, slackbridge.ErrMalformed) {
				t.Fatalf("error %v with event %+v", err, ev)
			}
		} else {
			switch ev.Kind {
			case slackbridge.KindURLVerification, slackbridge.KindIgnored:
			case slackbridge.KindMessage, slackbridge.KindUninstalled, slackbridge.KindTokensRevoked, slackbridge.KindMember:
				if ev.EventID == "" || ev.TeamID == "" {
					t.Fatalf("%s event without event_id or team_id: %+v", ev.Kind, ev)
				}
				if ev.Kind == slackbridge.KindMember && (ev.Member == nil || ev.Member.UserID == "" || ev.Member.TeamID != ev.TeamID) {
					t.Fatalf("member event without a member of its team: %+v", ev)
				}
			default:
				t.Fatalf("unknown kind %q", ev.Kind)
			}
			if ev.IsHumanThreadReply() && (ev.User == "" || ev.BotID != "" || ev.ThreadTS == "" || ev.ThreadTS == ev.TS || ev.Channel == "") {
				t.Fatalf("not a reply: %+v", ev)
			}
		}
		req := events.APIGatewayV2HTTPRequest{Body: string(body), RawPath: "/webhooks/slack/events",
			Headers: map[string]string{"x-slack-request-timestamp": "1", "x-slack-signature": "v0=00"}}
		req.RequestContext.HTTP.Method = http.MethodPost
		res, err := unsigned.Handle(context.Background(), req)
		if err != nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unsigned body answered %d %v", res.StatusCode, err)
		}
	})
}

func TestNotConfigured_Answers503WithoutRetry(t *testing.T) {
	res, err := slackbridge.NotConfigured(context.Background(), events.APIGatewayV2HTTPRequest{Body: `{"type":"url_verification","challenge":"c"}`})
	if err != nil || res.StatusCode != http.StatusServiceUnavailable || res.Headers["X-Slack-No-Retry"] != "1" || res.Body == "c" {
		t.Errorf("%d %v %s %v", res.StatusCode, res.Headers, res.Body, err)
	}
}

func TestConfigFromEnv_NamesEveryMissingSetting(t *testing.T) {
	env := map[string]string{"SLACK_CLIENT_ID": "1.2", "SLACK_KMS_KEY_ID": "k"}
	_, err := slackbridge.ConfigFromEnv(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("incomplete settings accepted")
	}
	for _, n := range []string{"SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}
	if c, err := slackbridge.ConfigFromEnv(func(k string) string { return env[k] }, "SLACK_KMS_KEY_ID"); err != nil || c.KMSKeyID != "k" {
		t.Errorf("dispatch settings: %+v %v", c, err)
	}
}

// TestParseEvent_TakesOnlyTheShownName: of the user_profile Slack attaches to
// a message, and of a user_change's profile, only the name Slack shows is
// taken (display name, else real name); emails and avatars are not.
func TestParseEvent_TakesOnlyTheShownName(t *testing.T) {
	msg := func(profile string) string {
		return `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","user":"U1","text":"hi","ts":"2.0","thread_ts":"1.0","channel":"C1"` + profile + `}}`
	}
	for _, c := range []struct{ name, body, want string }{
		{"display name", msg(`,"user_profile":{"display_name":"Ali","real_name":"Alice Example","image_72":"https://a.test/a.png","name":"alice"}`), "Ali"},
		{"real name", msg(`,"user_profile":{"display_name":"","real_name":"Alice Example"}`), "Alice Example"},
		{"no profile", msg(""), ""},
	} {
		ev, err := slackbridge.ParseEvent([]byte(c.body))
		if err != nil || ev.UserName != c.want {
			t.Errorf("%s: name %q (%v), want %q", c.name, ev.UserName, err, c.want)
		}
	}
	ev, err := slackbridge.ParseEvent([]byte(`{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"user_change","user":{"id":"U2","name":"c","real_name":"Cee",` +
		`"profile":{"display_name":"","real_name":"Cee Real","email":"c@x.test","image_192":"https://a.test/c.png"}}}}`))
	if err != nil || ev.Member == nil || *ev.Member != (chat.SlackMember{TeamID: "T1", UserID: "U2", DisplayName: "Cee Real"}) {
		t.Errorf("user_change member %+v %v", ev.Member, err)
	}
}
