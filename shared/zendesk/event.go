package zendesk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// EventCommentAdded is the type of the ticket event a new comment arrives as
// (a webhook subscribed to it in Admin Center).
const EventCommentAdded = "zen:event-type:ticket.comment_added"

// CommentEvent is a comment added to a ticket, as Zendesk's ticket event
// webhook tells it. Ids are decimal strings, whether Zendesk sent them as
// JSON numbers or strings.
type CommentEvent struct {
	// EventID is the event's id (a UUID; "" if absent): the same on every
	// retry of its delivery.
	EventID string
	// TicketID is the ticket's id (detail.id, else the "zen:ticket:<id>"
	// subject).
	TicketID string
	// CommentID is the comment's id, unique within the Zendesk account: the
	// key to deliver a comment once.
	CommentID string
	// Body is the comment's text (personal data: never logged).
	Body string
	// Public is whether the requester sees the comment (is_public): only a
	// public comment goes to the visitor. False when Zendesk does not say.
	Public bool
	// AuthorID, AuthorStaff and AuthorName are the comment's author: an
	// agent or admin has AuthorStaff; the requester (or any end user) not.
	// The name is personal data.
	AuthorID    string
	AuthorStaff bool
	AuthorName  string
	// At is the event's time (zero if absent or not ISO-8601).
	At time.Time
	// AccountID is the Zendesk account's id; RequesterID the ticket's
	// requester; ExternalID the ticket's external_id (CreateTicket's
	// NewTicket.ExternalID). Empty when the event does not carry them.
	AccountID   string
	RequesterID string
	ExternalID  string
}

// ParseEvent reads a verified body of Zendesk's ticket event webhook. A
// comment_added event (EventCommentAdded) is a *CommentEvent; an event of
// any other type is (nil, nil): nothing to do.
//
// A body over channel.MaxBody, not a JSON object, without a type, or a
// comment_added event without a ticket id or a comment id, or with an id
// that is not a non-negative integer (as a number or a string), or a field
// of the wrong type, wraps channel.ErrMalformed; the error names the field,
// never the body's content. ParseEvent is pure, never panics and returns the
// same event for the same body.
func ParseEvent(body []byte) (*CommentEvent, error) {
	if err := channel.CheckJSONObject(body); err != nil {
		return nil, err
	}
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("%w: %s", channel.ErrMalformed, jsonReason(err))
	}
	switch {
	case head.Type == nil || *head.Type == "":
		return nil, fmt.Errorf("%w: event without a type", channel.ErrMalformed)
	case *head.Type != EventCommentAdded:
		return nil, nil
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("%w: %s", channel.ErrMalformed, jsonReason(err))
	}
	c := ev.Event.Comment
	out := &CommentEvent{EventID: string(ev.ID), TicketID: string(ev.Detail.ID), CommentID: string(c.ID),
		Body: c.Body, Public: c.IsPublic, AuthorID: string(c.Author.ID), AuthorStaff: c.Author.IsStaff,
		AuthorName: c.Author.Name, AccountID: string(ev.AccountID), RequesterID: string(ev.Detail.RequesterID),
		ExternalID: string(ev.Detail.ExternalID)}
	if out.TicketID == "" {
		if id, ok := strings.CutPrefix(ev.Subject, "zen:ticket:"); ok {
			out.TicketID, _ = canonical(id)
		}
	}
	switch {
	case out.TicketID == "":
		return nil, fmt.Errorf("%w: comment_added event without a ticket id", channel.ErrMalformed)
	case out.CommentID == "":
		return nil, fmt.Errorf("%w: comment_added event without a comment id", channel.ErrMalformed)
	}
	if at, err := time.Parse(time.RFC3339Nano, ev.Time); err == nil {
		out.At = at.UTC()
	}
	return out, nil
}

// The wire format of a ticket event (only the fields we read).
type (
	event struct {
		ID        text     `json:"id"`
		AccountID integer  `json:"account_id"`
		Subject   string   `json:"subject"`
		Time      string   `json:"time"`
		Detail    detail   `json:"detail"`
		Event     evDetail `json:"event"`
	}
	detail struct {
		ID          integer `json:"id"`
		RequesterID integer `json:"requester_id"`
		ExternalID  text    `json:"external_id"`
	}
	evDetail struct {
		Comment comment `json:"comment"`
	}
	comment struct {
		ID       integer `json:"id"`
		Body     string  `json:"body"`
		IsPublic bool    `json:"is_public"`
		Author   author  `json:"author"`
	}
	author struct {
		ID      integer `json:"id"`
		IsStaff bool    `json:"is_staff"`
		Name    string  `json:"name"`
	}
)

// errNotInteger is what an id that is not a non-negative integer fails to
// decode with.
var errNotInteger = errors.New("zendesk: an id is not a non-negative integer")

// integer is a Zendesk id: a JSON integer or a string of one, kept as its
// canonical decimal string (never through float64). The zero value is an
// absent, null or empty id.
type integer string

// UnmarshalJSON reads an integer of the uint64 range, as a number or a
// string.
func (n *integer) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*n = ""
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return errNotInteger
		}
		s = str
	}
	v, ok := canonical(s)
	if !ok {
		return errNotInteger
	}
	*n = integer(v)
	return nil
}

// canonical is s, a decimal integer of the uint64 range (no sign), in its
// canonical form ("" for an empty s).
func canonical(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(u, 10), true
}

// text is a string Zendesk may send as a JSON string or number (an event id,
// an external id): a number is kept as its literal. null is "".
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return errNotText
	}
	*t = text(num.String())
	return nil
}

var errNotText = errors.New("zendesk: an id is not a string or a number")

// jsonReason names what is wrong with a body without quoting it.
func jsonReason(err error) string {
	switch {
	case errors.Is(err, errNotInteger):
		return "an id is not a non-negative integer"
	case errors.Is(err, errNotText):
		return "an id is not a string or a number"
	}
	return channel.JSONReason(err)
}
