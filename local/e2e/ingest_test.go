package e2e

import (
	"fmt"
	"net/url"
	"testing"
)

// TestVisitors_FirstMessageAndIdentifyBackToBack sends, for each of many
// visitors, a first sendMessage and an identify back to back on one
// connection: the gateway hands them to ws-message at once, so they run in
// parallel instances, as API Gateway runs them. Every visitor must keep the
// name and email it gave and have exactly one open conversation, which its
// next message also goes to.
func TestVisitors_FirstMessageAndIdentifyBackToBack(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	const n = 12
	vs := make([]*visitor, n)
	for i := range vs {
		vs[i] = newVisitor(t, s, ten.WidgetKey)
	}
	// One visitor at a time, so that its two frames find idle instances and
	// run at the same moment; half the visitors send the message first, half
	// the form.
	convs := make([]string, n)
	for i, v := range vs {
		frames := []map[string]any{
			{"action": "sendMessage", "clientMessageId": fmt.Sprintf("first-%d", i), "text": "Hello, is anyone there?"},
			{"action": "identify", "name": fmt.Sprintf("Visitor %d", i), "email": fmt.Sprintf("visitor%d@example.com", i)},
		}
		v.send(t, frames[i%2])
		v.send(t, frames[1-i%2])
		var ack, identified map[string]any
		for ack == nil || identified == nil {
			f := v.next(t, "ack and identified", func(f map[string]any) bool { return f["type"] != "message" })
			switch f["type"] {
			case "ack":
				ack = f
			case "identified":
				identified = f
			default:
				t.Fatalf("visitor %d got %v", i, f)
			}
		}
		m, _ := ack["message"].(map[string]any)
		convs[i], _ = m["conversationId"].(string)
	}
	// Each visitor's next message goes to the conversation its contact names
	// (a new one when it names none).
	for i, v := range vs {
		if m := v.sendMessage(t, "and a second question"); m["conversationId"] != convs[i] {
			t.Errorf("visitor %d: second message went to %v, first to %s", i, m["conversationId"], convs[i])
		}
	}
	open := map[string][]string{} // contact id -> open conversations
	cursor := ""
	for {
		var page struct {
			Items []struct{ ID, ContactID string }
			Next  *string
		}
		path := "/v1/conversations?status=open&limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if status := call(t, s, "GET", path, ten.APIKey, nil, &page); status != 200 {
			t.Fatalf("list open conversations: %d", status)
		}
		for _, c := range page.Items {
			open[c.ContactID] = append(open[c.ContactID], c.ID)
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
	}
	for i, v := range vs {
		var c struct{ Name, Email, OpenConversationID string }
		if status := call(t, s, "GET", "/v1/contacts/"+v.ID, ten.APIKey, nil, &c); status != 200 {
			t.Fatalf("visitor %d: get contact: %d", i, status)
		}
		if c.Name != fmt.Sprintf("Visitor %d", i) || c.Email != fmt.Sprintf("visitor%d@example.com", i) {
			t.Errorf("visitor %d: contact has name %q email %q: identify was lost", i, c.Name, c.Email)
		}
		if got := open[v.ID]; len(got) != 1 || got[0] != convs[i] || c.OpenConversationID != convs[i] {
			t.Errorf("visitor %d: open conversations %v, contact names %q, first ack named %q; want exactly that one", i, got, c.OpenConversationID, convs[i])
		}
	}
}
