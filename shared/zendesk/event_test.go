package zendesk_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/zendesk"
)

// numericBody is a comment_added event as Zendesk's examples show it: the
// detail's ids as strings, the comment's and its author's as numbers.
const numericBody = `{"account_id":22129848,"detail":{"actor_id":"8447388090495","assignee_id":null,"brand_id":"360000000001",
"created_at":"2025-01-08T10:12:07Z","description":"Cannot log in","external_id":"conv_01J","form_id":"360000000002",
"group_id":null,"id":"5158","is_public":true,"organization_id":null,"priority":"HIGH","requester_id":"8447388090001",
"status":"OPEN","subject":"Cannot login to mobile app","submitter_id":"8447388090495","tags":["livesupportbot"],
"type":null,"updated_at":"2025-01-08T14:25:30Z","via":{"channel":"web_service"}},
"event":{"comment":{"id":30064117810589,"body":"We are investigating.\nBest, Sam","is_public":true,
"author":{"id":8447388090495,"is_staff":true,"name":"Sam Agent"}}},
"id":"d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52","subject":"zen:ticket:5158","time":"2025-01-08T14:25:30.123456789Z",
"type":"zen:event-type:ticket.comment_added","zendesk_event_version":"2022-11-06"}`

// stringBody has every id as a string, the comment private and by the
// requester, and ids above 2^53.
const stringBody = `{"account_id":"22129848","detail":{"id":"9007199254740993","requester_id":"9007199254740995","external_id":null},
"event":{"comment":{"id":"9007199254740997","body":"thanks","is_public":false,"author":{"id":"9007199254740995","is_staff":false,"name":"Vi Sitor"}}},
"id":"ev-2","subject":"zen:ticket:9007199254740993","time":"2025-01-08T14:25:30Z","type":"zen:event-type:ticket.comment_added"}`

func TestParseEvent(t *testing.T) {
	ev, err := zendesk.ParseEvent([]byte(numericBody))
	want := zendesk.CommentEvent{EventID: "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52", TicketID: "5158", CommentID: "30064117810589",
		Body: "We are investigating.\nBest, Sam", Public: true, AuthorID: "8447388090495", AuthorStaff: true, AuthorName: "Sam Agent",
		At: time.Date(2025, 1, 8, 14, 25, 30, 123456789, time.UTC), AccountID: "22129848", RequesterID: "8447388090001", ExternalID: "conv_01J"}
	if err != nil || ev == nil || *ev != want {
		t.Fatalf("ParseEvent: %+v, %v\nwant %+v", ev, err, want)
	}
	ev, err = zendesk.ParseEvent([]byte(stringBody))
	want = zendesk.CommentEvent{EventID: "ev-2", TicketID: "9007199254740993", CommentID: "9007199254740997", Body: "thanks",
		AuthorID: "9007199254740995", AuthorName: "Vi Sitor", At: time.Date(2025, 1, 8, 14, 25, 30, 0, time.UTC),
		AccountID: "22129848", RequesterID: "9007199254740995"}
	if err != nil || ev == nil || *ev != want {
		t.Fatalf("ParseEvent of string ids: %+v, %v\nwant %+v", ev, err, want)
	}
}

func TestParseEventEdges(t *testing.T) {
	// The ticket id from the subject when the detail has none; a time that
	// is not ISO-8601 is no time; ids with leading zeros are canonical.
	body := `{"type":"zen:event-type:ticket.comment_added","subject":"zen:ticket:77","time":"yesterday",
"event":{"comment":{"id":"0042","body":"x","author":{"id":7}}}}`
	ev, err := zendesk.ParseEvent([]byte(body))
	if err != nil || ev.TicketID != "77" || ev.CommentID != "42" || ev.AuthorID != "7" || !ev.At.IsZero() || ev.Public {
		t.Fatalf("ParseEvent: %+v, %v", ev, err)
	}
	for _, other := range []string{
		`{"type":"zen:event-type:ticket.status_changed","detail":{"id":"5158"},"event":{"current":"SOLVED","previous":"OPEN"}}`,
		`{"type":"zen:event-type:ticket.comment_redacted","event":{"comment":{"id":"not a number"}}}`,
		`{"type":"zen:event-type:user.created","detail":{"id":12}}`,
	} {
		if ev, err := zendesk.ParseEvent([]byte(other)); ev != nil || err != nil {
			t.Fatalf("ParseEvent(%s) = %+v, %v; want nothing to do", other, ev, err)
		}
	}
}

func TestParseEventMalformed(t *testing.T) {
	big := `{"type":"zen:event-type:ticket.comment_added","pad":"` + strings.Repeat("x", channel.MaxBody) + `"}`
	for _, tc := range []struct{ name, body, reason string }{
		{"empty", ``, "not a JSON object"},
		{"not JSON", `type=comment`, "not a JSON object"},
		{"array", `[{"type":"zen:event-type:ticket.comment_added"}]`, "not a JSON object"},
		{"truncated", numericBody[:200], "invalid JSON"},
		{"over 1 MiB", big, "over"},
		{"no type", `{"detail":{"id":"1"}}`, "without a type"},
		{"type not a string", `{"type":7}`, "not a string"},
		{"no ticket id", `{"type":"zen:event-type:ticket.comment_added","event":{"comment":{"id":1}}}`, "without a ticket id"},
		{"no comment id", `{"type":"zen:event-type:ticket.comment_added","detail":{"id":"1"},"event":{"comment":{"body":"x"}}}`, "without a comment id"},
		{"float id", `{"type":"zen:event-type:ticket.comment_added","detail":{"id":1.5},"event":{"comment":{"id":1}}}`, "not a non-negative integer"},
		{"negative id", `{"type":"zen:event-type:ticket.comment_added","detail":{"id":"1"},"event":{"comment":{"id":-1}}}`, "not a non-negative integer"},
		{"id beyond uint64", `{"type":"zen:event-type:ticket.comment_added","detail":{"id":"1"},"event":{"comment":{"id":18446744073709551616}}}`, "not a non-negative integer"},
		{"word id", `{"type":"zen:event-type:ticket.comment_added","detail":{"id":"abc"},"event":{"comment":{"id":1}}}`, "not a non-negative integer"},
		{"object id", `{"type":"zen:event-type:ticket.comment_added","id":{},"detail":{"id":"1"},"event":{"comment":{"id":1}}}`, "not a string or a number"},
		{"public not a bool", `{"type":"zen:event-type:ticket.comment_added","detail":{"id":"1"},"event":{"comment":{"id":1,"is_public":"yes"}}}`, "is_public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := zendesk.ParseEvent([]byte(tc.body))
			if ev != nil || !errors.Is(err, channel.ErrMalformed) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("ParseEvent: %+v, %v; want ErrMalformed naming %q", ev, err, tc.reason)
			}
			if strings.Contains(err.Error(), "xxxx") {
				t.Fatalf("error quotes the body: %.200s", err)
			}
		})
	}
}
