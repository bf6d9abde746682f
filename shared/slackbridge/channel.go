package slackbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/slack-go/slack"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
)

// ChannelName is Slack's name on the channel seam (dedupe keys of stored
// replies are "slack:<event_id>").
const ChannelName = "slack"

// Inbound is Slack's Events API as a channel.Inbound: v0 signatures with the
// app's signing secret, one event per request, dedupe key = event_id, identity
// = team + user. It holds nothing and is safe for concurrent use.
type Inbound struct{}

var _ channel.Inbound = Inbound{}

// Channel is "slack".
func (Inbound) Channel() string { return ChannelName }

// Verify checks Slack's v0 signature (x-slack-signature over
// "v0:<x-slack-request-timestamp>:<body>") with the signing secret, and that
// the timestamp is within 5 minutes of now. Failures wrap
// channel.ErrUnverified and name only the reason.
func (Inbound) Verify(req channel.Request, secret string) error {
	h := http.Header{}
	for k, v := range req.Headers {
		h.Set(k, v) // API Gateway lowercases names; Set canonicalises them
	}
	sv, err := slack.NewSecretsVerifier(h, secret)
	if err == nil {
		_, err = sv.Write(req.Body)
	}
	if err == nil {
		err = sv.Ensure()
	}
	if err != nil {
		return fmt.Errorf("%w: %v", channel.ErrUnverified, err)
	}
	return nil
}

// Parse parses one Events API body (ParseEvent) into its event: a
// url_verification is channel.KindChallenge; a person's reply in a thread is
// channel.KindMessage from team + user, in thread "<channel id>/<thread ts>",
// its text unescaped; every other callback is channel.KindOther. Native is the
// *Event. A request with no event id and nothing to do gives no event; a
// body that is not an Events API request wraps channel.ErrMalformed.
func (Inbound) Parse(body []byte) ([]channel.Event, error) {
	ev, err := ParseEvent(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", channel.ErrMalformed, err)
	}
	out := channel.Event{Kind: channel.KindOther, DedupeKey: ev.EventID, Native: ev,
		From: channel.Identity{Channel: ChannelName, Account: ev.TeamID, UserID: ev.User}}
	switch {
	case ev.Kind == KindURLVerification:
		out = channel.Event{Kind: channel.KindChallenge, Challenge: ev.Challenge, Native: ev}
	case ev.IsHumanThreadReply():
		out.Kind, out.Thread, out.Text = channel.KindMessage, ev.Channel+"/"+ev.ThreadTS, fromMrkdwn(ev.Text)
	case ev.EventID == "":
		return nil, nil
	}
	return []channel.Event{out}, nil
}

// Bridge is Slack's channel.Sender: Send is Deliver.
var _ channel.Sender = (*Bridge)(nil)

// Channel is "slack".
func (b *Bridge) Channel() string { return ChannelName }

// Send is Deliver, with Slack's 429 as a *channel.RateLimitedError (its
// RetryAfter from Slack's Retry-After): idempotent by m.ID through the post
// records, a tenant without Slack is no error.
func (b *Bridge) Send(ctx context.Context, m *chat.Message) error {
	err := b.Deliver(ctx, m)
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &channel.RateLimitedError{RetryAfter: rl.RetryAfter, Err: err}
	}
	return err
}

// Window is Slack's: none (an agent's workspace takes posts at any time).
func (b *Bridge) Window() channel.Window { return channel.Window{} }

// Limit is chat.postMessage's: about one message a second into a channel, and
// every tenant's posts go to its one support channel.
func (b *Bridge) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 1, Burst: 1, Scope: channel.ScopeAccount}
}
