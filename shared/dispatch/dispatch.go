// Package dispatch delivers each new message from the Data table's stream to
// where it must go: the visitor's live WebSocket connections, a Slack thread, a
// channel's send API, a bot.
//
// Destinations do not share retries. The stream's own deliverers (the widget
// connections, and the conversation's activity) are retried by the stream: a
// failed record is reported as a batch item failure, and the batch stops there,
// since Lambda retries it from that record on. Outbound destinations (Slack)
// run after the stream's deliverers have handled the whole batch, each attempt
// bounded in time; a delivery they fail is parked (store.ParkDelivery) and
// retried by the scheduled retry run (Retry), never by the stream. So a failing
// or slow outbound destination neither re-runs nor holds back the widget, and
// the widget's retries never re-run Slack. While a tenant has parked deliveries
// to a destination, its new messages to that destination are parked behind
// them, which keeps each conversation's order and stops hammering a destination
// that is down.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/retention"
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

// Selective is implemented by deliverers that take only some messages (Slack:
// visitor and bot messages); the others are never tried or parked for them.
type Selective interface {
	Wants(m *chat.Message) bool
}

// Destination is an outbound deliverer with its own retries.
type Destination struct {
	// Name keys its parked deliveries ("slack"); it must not contain '#'.
	Name      string
	Deliverer Deliverer
}

// TouchStep is how much newer a message must be than a conversation's recorded
// activity to move it (inbox order and retention are kept to the minute).
const TouchStep = store.InboxStep

// Time limits of outbound attempts.
const (
	// DefaultAttemptTimeout bounds an attempt made from the stream: the next
	// batch of the shard waits for it.
	DefaultAttemptTimeout = 5 * time.Second
	// RetryTimeout bounds an attempt of the retry run (Slack's client gives up
	// on one call after 10 seconds too).
	RetryTimeout = 10 * time.Second
	// GiveUpAfter is how long a parked delivery is retried.
	GiveUpAfter = 24 * time.Hour
	// margin is left before the invocation's deadline after an attempt.
	margin = time.Second
)

// Store is what dispatch needs of the store (*store.Store): the
// conversation's activity and the parked outbound deliveries.
type Store interface {
	TouchConversation(ctx context.Context, tenantID, convID string, at, keepUntil time.Time, step time.Duration) (time.Time, error)
	HasParkedDeliveries(ctx context.Context, tenantID, destination string) (bool, error)
	ParkDelivery(ctx context.Context, destination string, m *chat.Message, p retention.Periods) error
	ParkedDeliveries(ctx context.Context, destination string, fn func(chat.ParkedDelivery) bool) error
	UnparkDelivery(ctx context.Context, d chat.ParkedDelivery) error
	ParkedMessage(ctx context.Context, d chat.ParkedDelivery) (*chat.Message, error)
	Now() time.Time
}

// Tenants gives a message's tenant (store.TenantCache).
type Tenants interface {
	Tenant(ctx context.Context, id string) (*chat.Tenant, error)
}

// Deps is what the handler is built from.
type Deps struct {
	Store   Store
	Tenants Tenants
	// Deliverers are retried by the stream (the widget connections).
	Deliverers []Deliverer
	// Outbound destinations retry their failures themselves (Slack).
	Outbound []Destination
	// Agents keeps the agents' inbox live (nil: no console events). It is
	// retried by the stream, and also told of conversations that open or
	// change.
	Agents *Agents
	// AttemptTimeout bounds an outbound attempt from the stream (0:
	// DefaultAttemptTimeout).
	AttemptTimeout time.Duration
	// Workers bounds the conversations of a batch delivered at once (0:
	// DefaultWorkers).
	Workers int
	Log     *slog.Logger
}

// Handler handles stream batches and retry runs.
type Handler struct {
	Deps
	touched touched // conversations' recorded activity, as far as seen here
}

// New returns the handler of stream batches and retry runs.
func New(d Deps) *Handler { return &Handler{Deps: d} }

// Handle handles a raw event: a stream batch, or the retry schedule's event.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records    json.RawMessage `json:"Records"`
		DetailType string          `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	switch {
	case len(probe.Records) > 0:
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode stream event: %w", err)
		}
		return h.Batch(ctx, ev)
	case probe.DetailType == "Scheduled Event":
		return h.Retry(ctx)
	}
	return nil, errors.New("dispatch: neither a stream batch nor a scheduled event")
}

// handled is a message whose stream deliverers succeeded.
type handled struct {
	seq string
	m   *chat.Message
}

// DefaultWorkers bounds how many conversations of a batch are delivered at
// once (Deps.Workers 0). Each delivery mostly waits on requests.
const DefaultWorkers = 16

// Batch delivers the new messages of a stream batch and reports the first
// record that failed: Lambda retries the batch from there.
//
// The records of one conversation are delivered one after another, in stream
// order, and that conversation stops at its first failure. Different
// conversations are delivered in parallel (at most Workers at once), so a slow
// or failing one holds back no other. A record after the first failure (in
// stream order) of the batch is not started once that failure is known; one
// already delivered is delivered again by the retry, which destinations
// tolerate (the widget drops repeated message ids). Records before the first
// failure are never run again: every one of them has been delivered.
func (h *Handler) Batch(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	recs := ev.Records
	first := &lowest{i: len(recs)}
	msgs, changed, convs := h.messages(ctx, recs, first)
	h.deliverStream(ctx, recs, msgs, changed, convs, first)
	var done []handled
	for i := range first.get() {
		if msgs[i] != nil {
			done = append(done, handled{seq: recs[i].Change.SequenceNumber, m: msgs[i]})
		}
	}
	if f := first.get(); f < len(recs) {
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: recs[f].Change.SequenceNumber}}
	}
	if seq := h.outbound(ctx, done); seq != "" {
		// Neither delivered nor parked: retried by the stream from there.
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq}}
	}
	return resp, nil
}

// messages reads the batch's message records and the conversations opened or
// changed (nil for other records), and groups their indexes by conversation,
// in stream order. An unreadable record is the batch's first failure: the
// records after it are left for the retry.
func (h *Handler) messages(ctx context.Context, recs []events.DynamoDBEventRecord, first *lowest) ([]*chat.Message, []*chat.Conversation, [][]int) {
	msgs := make([]*chat.Message, len(recs))
	changed := make([]*chat.Conversation, len(recs))
	var convs [][]int
	byConv := map[[2]string]int{}
	for i, rec := range recs {
		m, err := store.InsertedMessage(rec)
		if err == nil && m == nil && h.Agents != nil {
			changed[i], err = store.ChangedConversation(rec)
		}
		if err != nil {
			h.Log.ErrorContext(ctx, "delivery failed", "eventId", rec.EventID, "error", err)
			first.lower(i)
			break
		}
		var k [2]string
		switch {
		case m != nil:
			msgs[i], k = m, [2]string{m.TenantID, m.ConversationID}
		case changed[i] != nil:
			k = [2]string{changed[i].TenantID, changed[i].ID}
		default:
			continue
		}
		c, ok := byConv[k]
		if !ok {
			c = len(convs)
			byConv[k] = c
			convs = append(convs, nil)
		}
		convs[c] = append(convs[c], i)
	}
	return msgs, changed, convs
}

// deliverStream runs the stream's deliverers: each conversation's records in
// order on one of the workers, up to its first failure and never past the
// batch's first failure.
func (h *Handler) deliverStream(ctx context.Context, recs []events.DynamoDBEventRecord, msgs []*chat.Message, changed []*chat.Conversation, convs [][]int, first *lowest) {
	bctx := withBatchCache(ctx)
	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(h.workers(), len(convs)) {
		wg.Go(func() {
			for conv := range work {
				for _, i := range conv {
					if i > first.get() {
						break // retried from the first failure on
					}
					var err error
					if msgs[i] != nil {
						err = h.record(bctx, msgs[i])
					} else {
						err = h.Agents.conversation(bctx, changed[i])
					}
					if err != nil {
						h.Log.ErrorContext(ctx, "delivery failed", "eventId", recs[i].EventID, "error", err)
						first.lower(i)
						break // the conversation's later records wait for the retry
					}
				}
			}
		})
	}
	for _, conv := range convs {
		work <- conv
	}
	close(work)
	wg.Wait()
}

// periods are the tenant's retention periods (the defaults for a tenant that
// is gone), read once per batch.
func (h *Handler) periods(ctx context.Context, tenants *memo[*chat.Tenant], tenantID string) (retention.Periods, error) {
	t, err := tenants.get(tenantID, func() (*chat.Tenant, error) { return h.Tenants.Tenant(ctx, tenantID) })
	switch {
	case errors.Is(err, chat.ErrNotFound):
		return retention.Defaults, nil
	case err != nil:
		return retention.Periods{}, err
	}
	return t.Periods(), nil
}

func (h *Handler) workers() int {
	if h.Workers > 0 {
		return h.Workers
	}
	return DefaultWorkers
}

// lowest is the index of the batch's first failed record (len(records) while
// none failed).
type lowest struct {
	mu sync.Mutex
	i  int
}

func (l *lowest) get() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.i
}

func (l *lowest) lower(i int) {
	l.mu.Lock()
	l.i = min(l.i, i)
	l.mu.Unlock()
}

// record runs the stream's deliverers for a message and records the activity
// on its conversation. The conversation is kept as long as the message (its
// KeepUntil, from the stream image), so no tenant is read for it.
func (h *Handler) record(ctx context.Context, m *chat.Message) error {
	var errs []error
	for _, d := range h.Deliverers {
		if err := d.Deliver(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	if h.Agents != nil {
		if err := h.Agents.Deliver(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	if h.touched.skip(m) {
		return errors.Join(errs...)
	}
	recorded, err := h.Store.TouchConversation(ctx, m.TenantID, m.ConversationID, m.CreatedAt, m.KeepUntil, TouchStep)
	if err != nil {
		errs = append(errs, err)
	}
	h.touched.record(m, recorded)
	return errors.Join(errs...)
}

// outbound gives each handled message to the outbound destinations, in order:
// one bounded attempt, unless the tenant already has deliveries to that
// destination parked or the invocation is running out of time; what is not
// delivered is parked. It returns the sequence number of the first message it
// could neither deliver nor park ("" when there is none).
func (h *Handler) outbound(ctx context.Context, done []handled) string {
	limit := h.AttemptTimeout
	if limit <= 0 {
		limit = DefaultAttemptTimeout
	}
	type key struct{ dest, tenant string }
	held := map[key]bool{} // the tenant's deliveries to the destination wait for the retry run
	checked := map[key]bool{}
	tenants := &memo[*chat.Tenant]{} // read only to park, once per batch
	for _, d := range done {
		m := d.m
		for _, dest := range h.Outbound {
			if sel, ok := dest.Deliverer.(Selective); ok && !sel.Wants(m) {
				continue
			}
			k := key{dest.Name, m.TenantID}
			if !checked[k] {
				checked[k] = true
				has, err := h.Store.HasParkedDeliveries(ctx, m.TenantID, dest.Name)
				if err != nil {
					h.Log.WarnContext(ctx, "parked deliveries unknown; parking", "destination", dest.Name, "tenantId", m.TenantID, "error", err)
				}
				held[k] = has || err != nil
			}
			if !held[k] && timeLeft(ctx, limit) {
				actx, cancel := context.WithTimeout(ctx, limit)
				err := dest.Deliverer.Deliver(actx, m)
				cancel()
				if err == nil {
					continue
				}
				h.Log.WarnContext(ctx, "delivery parked", "destination", dest.Name, "tenantId", m.TenantID, "messageId", m.ID, "error", err)
				held[k] = true
			}
			p, err := h.periods(ctx, tenants, m.TenantID)
			if err == nil {
				err = h.Store.ParkDelivery(ctx, dest.Name, m, p)
			}
			if err != nil {
				h.Log.ErrorContext(ctx, "delivery neither made nor parked", "destination", dest.Name, "tenantId", m.TenantID, "messageId", m.ID, "error", err)
				return d.seq
			}
		}
	}
	return ""
}

// timeLeft reports whether an attempt of d still fits before ctx's deadline.
func timeLeft(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d+margin
}

// RetrySummary counts what a retry run did.
type RetrySummary struct {
	Delivered int  `json:"delivered"`
	Dropped   int  `json:"dropped"`             // the message is gone, or retried for GiveUpAfter
	Failed    int  `json:"failed"`              // tried again and failed: still parked
	Left      int  `json:"left"`                // not tried: behind a failure of the same tenant
	OutOfTime bool `json:"outOfTime,omitempty"` // stopped before the end: the next run goes on
}

// Retry is the scheduled retry run: it retries every parked delivery, in
// tenant, conversation and message order, with one failing attempt at most per
// tenant and destination (the tenant's later deliveries wait behind it, which
// keeps each conversation's order). A delivery whose message is gone is
// dropped; one parked for GiveUpAfter is dropped and logged as an error.
// Retrying twice is harmless: destinations deliver each message once.
func (h *Handler) Retry(ctx context.Context) (RetrySummary, error) {
	var sum RetrySummary
	for _, dest := range h.Outbound {
		failed := map[string]bool{}
		err := h.Store.ParkedDeliveries(ctx, dest.Name, func(pd chat.ParkedDelivery) bool {
			if !timeLeft(ctx, RetryTimeout) {
				sum.OutOfTime = true
				return false
			}
			if failed[pd.TenantID] {
				sum.Left++
				return true
			}
			switch h.retryOne(ctx, dest, pd) {
			case retryDelivered:
				sum.Delivered++
			case retryDropped:
				sum.Dropped++
			default:
				sum.Failed++
				failed[pd.TenantID] = true
			}
			return true
		})
		if err != nil {
			return sum, fmt.Errorf("retry %s: %w", dest.Name, err)
		}
	}
	if sum != (RetrySummary{}) {
		h.Log.InfoContext(ctx, "parked deliveries retried", "delivered", sum.Delivered, "dropped", sum.Dropped,
			"failed", sum.Failed, "left", sum.Left, "outOfTime", sum.OutOfTime)
	}
	return sum, nil
}

type retryOutcome int

const (
	retryFailed retryOutcome = iota
	retryDelivered
	retryDropped
)

func (h *Handler) retryOne(ctx context.Context, dest Destination, pd chat.ParkedDelivery) retryOutcome {
	log := h.Log.With("destination", dest.Name, "tenantId", pd.TenantID, "conversationId", pd.ConversationID, "messageSk", pd.MessageSK)
	drop := func() retryOutcome {
		if err := h.Store.UnparkDelivery(ctx, pd); err != nil {
			log.ErrorContext(ctx, "unpark delivery", "error", err)
			return retryFailed
		}
		return retryDropped
	}
	if h.Store.Now().Sub(pd.ParkedAt) > GiveUpAfter {
		log.ErrorContext(ctx, "delivery given up", "parkedAt", pd.ParkedAt)
		return drop()
	}
	m, err := h.Store.ParkedMessage(ctx, pd)
	if errors.Is(err, chat.ErrNotFound) {
		return drop() // erased or expired: nothing to deliver
	}
	if err != nil {
		log.WarnContext(ctx, "read parked message", "error", err)
		return retryFailed
	}
	actx, cancel := context.WithTimeout(ctx, RetryTimeout)
	err = dest.Deliverer.Deliver(actx, m)
	cancel()
	if err != nil {
		log.WarnContext(ctx, "parked delivery failed again", "error", err)
		return retryFailed
	}
	if err := h.Store.UnparkDelivery(ctx, pd); err != nil {
		// Delivered; the next run finds it delivered (destinations deliver once).
		log.WarnContext(ctx, "unpark delivery", "error", err)
	}
	return retryDelivered
}

// Widget delivers messages to the visitor's live WebSocket connections, except
// the one that sent it (that one got an ack). A gone connection (410) is removed;
// the others are untouched.
type Widget struct {
	Store  Connections
	Pusher *pusher.Pusher
	Log    *slog.Logger
}

// Connections is what Widget needs of the store (*store.Store).
type Connections interface {
	Connections(ctx context.Context, tenantID, contactID string) ([]chat.Connection, error)
	DeleteConnection(ctx context.Context, tenantID, contactID, connectionID string) error
}

// Deliver sends m to every other live connection of the conversation's visitor.
func (w *Widget) Deliver(ctx context.Context, m *chat.Message) error {
	conns, err := batchConnections(ctx, m.TenantID, m.ContactID, func() ([]chat.Connection, error) {
		return w.Store.Connections(ctx, m.TenantID, m.ContactID)
	})
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
			forgetConnections(ctx, m.TenantID, m.ContactID) // the next message reads them again
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
