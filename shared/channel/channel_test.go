package channel_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// tokenInbound is the smallest inbound adapter: the secret travels in a header
// and the body is one message per line.
type tokenInbound struct{ parsed *int }

func (tokenInbound) Channel() string { return "token" }

func (tokenInbound) Verify(req channel.Request, secret string) error {
	if req.Header("x-token") != secret {
		return errors.New("token mismatch") // not wrapped: Receive must wrap it
	}
	return nil
}

func (in tokenInbound) Parse(body []byte) ([]channel.Event, error) {
	*in.parsed++
	if len(body) == 0 {
		return nil, errors.New("empty")
	}
	return []channel.Event{{Kind: channel.KindMessage, DedupeKey: string(body), Text: string(body)}}, nil
}

func TestReceive_VerifiesBeforeParsing(t *testing.T) {
	n := 0
	in := tokenInbound{parsed: &n}
	_, err := channel.Receive(in, channel.Request{Headers: map[string]string{"x-token": "wrong"}, Body: []byte("hi")}, "s3cret")
	if !errors.Is(err, channel.ErrUnverified) || n != 0 {
		t.Fatalf("bad token: err %v, parsed %d times; want ErrUnverified and no parse", err, n)
	}
	evs, err := channel.Receive(in, channel.Request{Headers: map[string]string{"x-token": "s3cret"}, Body: []byte("hi")}, "s3cret")
	if err != nil || len(evs) != 1 || evs[0].Text != "hi" || n != 1 {
		t.Fatalf("good token: %v %+v, parsed %d", err, evs, n)
	}
	_, err = channel.Receive(in, channel.Request{Headers: map[string]string{"x-token": "s3cret"}}, "s3cret")
	if !errors.Is(err, channel.ErrMalformed) {
		t.Fatalf("empty body: %v, want ErrMalformed", err)
	}
}

func TestWindow_Check(t *testing.T) {
	last := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	messenger := channel.Window{Reply: 24 * time.Hour, Tag: "HUMAN_AGENT", TagReply: 7 * 24 * time.Hour}
	for _, tc := range []struct {
		name    string
		w       channel.Window
		after   time.Duration
		tag     string
		outside bool
	}{
		{"no rule, a year later", channel.Window{}, 365 * 24 * time.Hour, "", false},
		{"inside the reply window", messenger, 23 * time.Hour, "", false},
		{"at its end", messenger, 24 * time.Hour, "", false},
		{"after it: tagged", messenger, 25 * time.Hour, "HUMAN_AGENT", false},
		{"after the tag's window", messenger, 8 * 24 * time.Hour, "", true},
		{"no tag: closed after the reply window", channel.Window{Reply: time.Hour}, 2 * time.Hour, "", true},
	} {
		tag, err := tc.w.Check(last, last.Add(tc.after))
		if tag != tc.tag || errors.Is(err, channel.ErrOutsideWindow) != tc.outside {
			t.Errorf("%s: tag %q err %v; want tag %q outside %v", tc.name, tag, err, tc.tag, tc.outside)
		}
	}
}

func TestRateLimit(t *testing.T) {
	if got := (channel.RateLimit{PerSecond: 4}).Interval(); got != 250*time.Millisecond {
		t.Errorf("4/s interval %v", got)
	}
	if got := (channel.RateLimit{}).Interval(); got != 0 {
		t.Errorf("no limit interval %v", got)
	}
	cause := errors.New("provider said 429")
	err := fmt.Errorf("send m1: %w", &channel.RateLimitedError{RetryAfter: 30 * time.Second, Err: cause})
	if d, ok := channel.RetryAfter(err); !ok || d != 30*time.Second || !errors.Is(err, cause) {
		t.Errorf("RetryAfter(%v) = %v %v", err, d, ok)
	}
	if _, ok := channel.RetryAfter(cause); ok {
		t.Error("a plain error is not a rate refusal")
	}
}
