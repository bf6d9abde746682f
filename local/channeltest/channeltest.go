// Package channeltest is the contract every channel.Inbound keeps, as a table
// each channel's tests run against their own adapter (and, through Deliver and
// Stored, against their real webhook handler and store).
package channeltest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
)

// Inbound describes a channel's inbound adapter under test.
type Inbound struct {
	Adapter channel.Inbound
	// SenderOnly says the channel's check authenticates the sender, not the
	// body (Telegram's secret token header): the "body changed after signing"
	// case is left out, and the channel's own tests say what a changed body
	// does.
	SenderOnly bool
	// Channel is the channel the message's identity names: the adapter's
	// Channel() unless set (Meta's one webhook adapter, "meta", names the
	// product: "messenger", "instagram" or "whatsapp").
	Channel string
	// Secret is the channel's secret the requests are signed with.
	Secret string
	// Sign returns the request the provider would send with body, signed with
	// secret (now, with its headers as API Gateway passes them).
	Sign func(t testing.TB, body []byte, secret string) channel.Request
	// Message returns a body carrying one contact message whose provider
	// event id is id and whose text is text; the same id always gives the
	// same event.
	Message func(id, text string) []byte
	// Malformed is a body that is not a request of the channel.
	Malformed []byte

	// Deliver, when set, runs req through the channel's real webhook handler;
	// Stored then counts the messages it has stored so far, so the table also
	// checks what reached the store.
	Deliver func(t testing.TB, req channel.Request)
	Stored  func(t testing.TB) int
}

// RunInbound runs the inbound contract: a signed message gives one message
// event with a dedupe key and an identity of the channel; a bad, missing or
// stale signature or a changed body is channel.ErrUnverified and stores
// nothing; a redelivery gives the same dedupe key and stores one message; two
// events give two keys; a signed body that is not the channel's is
// channel.ErrMalformed and stores nothing.
func RunInbound(t *testing.T, c Inbound) {
	want := c.Channel
	if want == "" {
		want = c.Adapter.Channel()
	}
	n := 0
	newID := func() string { n++; return fmt.Sprintf("EvContract%04d", n) }
	stored := func(t *testing.T) int {
		if c.Stored == nil {
			return 0
		}
		return c.Stored(t)
	}
	deliver := func(t *testing.T, req channel.Request) {
		if c.Deliver != nil {
			c.Deliver(t, req)
		}
	}
	one := func(t *testing.T, req channel.Request) channel.Event {
		t.Helper()
		evs, err := channel.Receive(c.Adapter, req, c.Secret)
		if err != nil || len(evs) != 1 {
			t.Fatalf("signed message: %d events, %v; want one", len(evs), err)
		}
		return evs[0]
	}
	for _, tc := range []struct {
		name  string
		reqs  func(t *testing.T) []channel.Request
		err   error // of every request
		check func(t *testing.T, evs [][]channel.Event)
		adds  int // messages stored by the requests together
	}{
		{"signed message is one message event", func(t *testing.T) []channel.Request {
			return []channel.Request{c.Sign(t, c.Message(newID(), "hello there"), c.Secret)}
		}, nil, func(t *testing.T, evs [][]channel.Event) {
			ev := evs[0][0]
			if ev.Kind != channel.KindMessage || ev.DedupeKey == "" || ev.Text != "hello there" {
				t.Errorf("event %+v: want a message with a dedupe key and the text", ev)
			}
			if ev.From.Channel != want || ev.From.UserID == "" || ev.From.Key() == "" {
				t.Errorf("identity %+v: want channel %q and a user id", ev.From, want)
			}
		}, 1},
		{"wrong secret", func(t *testing.T) []channel.Request {
			return []channel.Request{c.Sign(t, c.Message(newID(), "forged"), c.Secret+"x")}
		}, channel.ErrUnverified, nil, 0},
		{"body changed after signing", func(t *testing.T) []channel.Request {
			req := c.Sign(t, c.Message(newID(), "original"), c.Secret)
			req.Body = c.Message(newID(), "changed")
			return []channel.Request{req}
		}, channel.ErrUnverified, nil, 0},
		{"no signature", func(t *testing.T) []channel.Request {
			return []channel.Request{{Method: "POST", Headers: map[string]string{}, Body: c.Message(newID(), "unsigned")}}
		}, channel.ErrUnverified, nil, 0},
		{"duplicate delivery is one event", func(t *testing.T) []channel.Request {
			body := c.Message(newID(), "twice")
			return []channel.Request{c.Sign(t, body, c.Secret), c.Sign(t, body, c.Secret)}
		}, nil, func(t *testing.T, evs [][]channel.Event) {
			if evs[0][0].DedupeKey != evs[1][0].DedupeKey {
				t.Errorf("redelivery dedupe keys %q and %q differ", evs[0][0].DedupeKey, evs[1][0].DedupeKey)
			}
		}, 1},
		{"two events are two", func(t *testing.T) []channel.Request {
			return []channel.Request{c.Sign(t, c.Message(newID(), "one"), c.Secret), c.Sign(t, c.Message(newID(), "two"), c.Secret)}
		}, nil, func(t *testing.T, evs [][]channel.Event) {
			if evs[0][0].DedupeKey == evs[1][0].DedupeKey {
				t.Errorf("two events share the dedupe key %q", evs[0][0].DedupeKey)
			}
		}, 2},
		{"signed malformed body", func(t *testing.T) []channel.Request {
			return []channel.Request{c.Sign(t, c.Malformed, c.Secret)}
		}, channel.ErrMalformed, nil, 0},
	} {
		if c.SenderOnly && tc.name == "body changed after signing" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			before := stored(t)
			reqs := tc.reqs(t)
			var got [][]channel.Event
			for _, req := range reqs {
				if tc.err != nil {
					evs, err := channel.Receive(c.Adapter, req, c.Secret)
					if !errors.Is(err, tc.err) || len(evs) != 0 {
						t.Fatalf("got %d events, %v; want none and %v", len(evs), err, tc.err)
					}
				} else {
					got = append(got, []channel.Event{one(t, req)})
				}
				deliver(t, req)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
			if c.Stored != nil {
				if d := stored(t) - before; d != tc.adds {
					t.Errorf("%d messages stored, want %d", d, tc.adds)
				}
			}
		})
	}
	t.Run("parse never panics", func(t *testing.T) {
		for _, body := range [][]byte{nil, {}, []byte("null"), []byte("{}"), []byte("[]"), []byte(`{"type":1}`), {0xff, 0xfe}} {
			if evs, err := c.Adapter.Parse(body); err != nil && !errors.Is(err, channel.ErrMalformed) {
				t.Errorf("Parse(%q) = %d events, %v: an error must wrap ErrMalformed", body, len(evs), err)
			}
		}
	})
}

// Sender describes a channel's sender under test, against a fake of its
// provider.
type Sender struct {
	Sender channel.Sender
	// Message returns a new stored message that Sender wants, with unique
	// text.
	Message func(t testing.TB) *chat.Message
	// Shown counts how often the provider shows m now.
	Shown func(t testing.TB, m *chat.Message) int
	// RateLimit makes the provider refuse the next send for rate.
	RateLimit func(t testing.TB)
}

// RunSender runs the outbound contract: a send shows the message once, and a
// second send (a retry after success) shows nothing more; a refusal for rate
// is a *channel.RateLimitedError with a RetryAfter, shows nothing, and its
// retry shows the message once; Window and Limit are well formed.
func RunSender(t *testing.T, c Sender) {
	t.Run("send is idempotent by message id", func(t *testing.T) {
		m := c.Message(t)
		if !c.Sender.Wants(m) {
			t.Fatalf("the sender does not want the contract's message %s", m.ID)
		}
		for i := range 2 {
			if err := c.Sender.Send(context.Background(), m); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			if n := c.Shown(t, m); n != 1 {
				t.Fatalf("after send %d the message shows %d times, want 1", i, n)
			}
		}
	})
	t.Run("rate refusal is RateLimitedError, then sent once", func(t *testing.T) {
		m := c.Message(t)
		c.RateLimit(t)
		err := c.Sender.Send(context.Background(), m)
		if d, ok := channel.RetryAfter(err); !ok || d <= 0 {
			t.Fatalf("send under the provider's rate limit: %v, want a RateLimitedError with a RetryAfter", err)
		}
		if n := c.Shown(t, m); n != 0 {
			t.Fatalf("a refused send shows %d times", n)
		}
		if err := c.Sender.Send(context.Background(), m); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if n := c.Shown(t, m); n != 1 {
			t.Fatalf("after the retry the message shows %d times, want 1", n)
		}
	})
	t.Run("window and limit", func(t *testing.T) {
		w, l := c.Sender.Window(), c.Sender.Limit()
		if w.Reply < 0 || (w.Tag != "" && w.TagReply <= w.Reply) {
			t.Errorf("window %+v: a tag must extend the reply window", w)
		}
		if l.PerSecond < 0 || (l.PerSecond > 0 && (l.Burst < 1 || l.Scope == "")) {
			t.Errorf("limit %+v: a rate needs a burst of at least 1 and a scope", l)
		}
	})
}
