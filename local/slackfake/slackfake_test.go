package slackfake_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/livesupportbot/backend/local/slackfake"
)

// TestFake_SpeaksTheWebAPIToSlackGo drives the fake with the real slack-go
// client: auth, users.list paging, a 429 with Retry-After answered once, posts
// in a thread, deletes, and a bad token.
func TestFake_SpeaksTheWebAPIToSlackGo(t *testing.T) {
	f := slackfake.New(t)
	for i := range 5 {
		f.AddUser(slackfake.User{ID: "U" + string(rune('A'+i)), Name: "user", Email: "u@x.test"})
	}
	api := slack.New(f.BotToken, slack.OptionAPIURL(f.APIURL()), slack.OptionHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	ctx := context.Background()
	at, err := api.AuthTestContext(ctx)
	if err != nil || at.TeamID != f.TeamID || at.UserID != f.BotUserID || at.BotID != f.BotID {
		t.Fatalf("auth.test: %+v %v", at, err)
	}
	users, err := api.GetUsersContext(ctx, slack.GetUsersOptionLimit(2))
	if err != nil || len(users) != 7 { // the bot, Slackbot and five people, in pages of two
		t.Fatalf("users.list: %d %v", len(users), err)
	}
	if n := len(f.Calls("users.list")); n != 4 {
		t.Errorf("%d users.list pages, want 4", n)
	}
	f.RateLimit("chat.postMessage", 3)
	_, _, err = api.PostMessageContext(ctx, f.ChannelID, slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Fatalf("429: %v", err)
	}
	ch, parent, err := api.PostMessageContext(ctx, f.ChannelID, slack.MsgOptionText("parent", false))
	if err != nil || ch != f.ChannelID {
		t.Fatalf("post after 429: %v", err)
	}
	_, reply, err := api.PostMessageContext(ctx, f.ChannelID, slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.DeleteMessageContext(ctx, f.ChannelID, reply); err != nil {
		t.Fatal(err)
	}
	var se slack.SlackErrorResponse
	if _, _, err := api.DeleteMessageContext(ctx, f.ChannelID, reply); !errors.As(err, &se) || se.Err != "message_not_found" {
		t.Errorf("second delete: %v", err)
	}
	msgs := f.Messages()
	if len(msgs) != 2 || msgs[1].ThreadTS != parent || !msgs[1].Deleted || msgs[0].Deleted || len(f.Live()) != 1 {
		t.Errorf("messages %+v", msgs)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0OTHER", slack.MsgOptionText("x", false)); !errors.As(err, &se) || se.Err != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}
	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(f.APIURL()))
	if _, err := bad.AuthTestContext(ctx); !errors.As(err, &se) || se.Err != "invalid_auth" {
		t.Errorf("bad token: %v", err)
	}
	for _, c := range f.Calls("") {
		if c.Form.Get("token") != "" || c.Form.Get("client_secret") != "" {
			t.Errorf("recorded call %s keeps a secret", c.Method)
		}
	}
}
