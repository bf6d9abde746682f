// Package outbox is the one way a channel sender sends a message: part by
// part, each recorded as soon as the provider takes it, so a retry (of a
// parked delivery, a replayed stream batch, a concurrent instance) sends only
// what the provider did not take, and the message's delivery shows "sent"
// once all of it went out.
package outbox

import (
	"context"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Store is what sending records (*store.Store).
type Store interface {
	BeginChannelSend(ctx context.Context, m *chat.Message, channel string, p retention.Periods) (*store.ChannelSend, error)
	RecordSentPart(ctx context.Context, m *chat.Message, channel string, n int, providerID string, p retention.Periods) error
	SetDelivery(ctx context.Context, m *chat.Message, status, code string) (bool, error)
}

// SendError is a part the provider did not take: Err is what send returned,
// for the caller to sort into a retry or a failure. Any other error of Send
// is the store's (worth a retry).
type SendError struct{ Err error }

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Send sends the parts of m that no earlier attempt recorded, calling send
// for each (its index and text) and recording the provider's id it returns,
// with pause between two parts (a provider's pace per chat). A failed send
// stops it with a *SendError, after the parts before it were recorded.
func Send(ctx context.Context, st Store, m *chat.Message, channel string, parts []string, p retention.Periods,
	pause time.Duration, send func(i int, part string) (string, error)) error {
	rec, err := st.BeginChannelSend(ctx, m, channel, p)
	if err != nil {
		return err
	}
	for i := len(rec.ProviderIDs); i < len(parts); i++ {
		if i > len(rec.ProviderIDs) && pause > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
		id, err := send(i, parts[i])
		if err != nil {
			return &SendError{Err: err}
		}
		if err := st.RecordSentPart(ctx, m, channel, i, id, p); err != nil {
			return err
		}
	}
	_, err = st.SetDelivery(ctx, m, chat.DeliverySent, "")
	return err
}
