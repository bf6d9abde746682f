// Package dispatch delivers each new message from the Data table's stream to
// where it must go: the visitor's live WebSocket connections, a Slack thread, a
// channel's send API, a bot. Each destination is a Deliverer; a record whose
// delivery fails is reported as a batch item failure, so only it is retried and
// one bad record never redelivers the batch.
package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/store"
)

// Deliverer takes a stored message somewhere. It must be safe to call again for
// the same message (records are delivered at least once).
type Deliverer interface {
	Deliver(ctx context.Context, m *chat.Message) error
}

// DelivererFunc adapts a function to a Deliverer.
type DelivererFunc func(ctx context.Context, m *chat.Message) error

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, m *chat.Message) error { return f(ctx, m) }

// TouchStep is how much newer a message must be than a conversation's recorded
// activity to move it (inbox order and retention are kept to the minute).
const TouchStep = time.Minute

// Handler handles stream batches.
type Handler struct {
	Store      *store.Store
	Tenants    *store.TenantCache
	Deliverers []Deliverer
	Log        *slog.Logger
}

// Handle delivers every new message of the batch and reports the records that failed.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		if err := h.record(ctx, rec); err != nil {
			h.Log.ErrorContext(ctx, "delivery failed", "eventId", rec.EventID, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{
				ItemIdentifier: rec.Change.SequenceNumber})
		}
	}
	return resp, nil
}

func (h *Handler) record(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
		return nil
	}
	sk, ok := rec.Change.Keys["SK"]
	if !ok || sk.DataType() != events.DataTypeString || !store.IsMessageKey(sk.String()) {
		return nil
	}
	it, err := store.MessageFromStream(rec.Change.NewImage)
	if err != nil {
		return err
	}
	m := it.Message()
	var errs []error
	for _, d := range h.Deliverers {
		if err := d.Deliver(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	if t, err := h.Tenants.Tenant(ctx, m.TenantID); err == nil {
		if err := h.Store.TouchConversation(ctx, m.TenantID, m.ConversationID, m.CreatedAt, t.Periods(), TouchStep); err != nil {
			errs = append(errs, err)
		}
	} else if err != chat.ErrNotFound {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Widget delivers messages to the visitor's live WebSocket connections, except
// the one that sent it (that one got an ack). A gone connection (410) is removed;
// the others are untouched.
type Widget struct {
	Store  *store.Store
	Pusher *pusher.Pusher
	Log    *slog.Logger
}

// Deliver sends m to every other live connection of the conversation's visitor.
func (w *Widget) Deliver(ctx context.Context, m *chat.Message) error {
	conns, err := w.Store.Connections(ctx, m.TenantID, m.ContactID)
	if err != nil {
		return err
	}
	frame := frames.NewMessage(m)
	var errs []error
	for _, c := range conns {
		if c.ID == m.OriginConnectionID {
			continue
		}
		err := w.Pusher.Send(ctx, c.ID, frame)
		if errors.Is(err, pusher.ErrGone) {
			w.Log.InfoContext(ctx, "removing gone connection", "tenantId", m.TenantID, "connectionId", c.ID)
			err = w.Store.DeleteConnection(ctx, m.TenantID, m.ContactID, c.ID)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
