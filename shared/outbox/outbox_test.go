package outbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/outbox"
	"github.com/livesupportbot/backend/shared/retention"
)

// Parts go out in order, paced, each recorded as it is taken; a failed part
// stops the send with a *SendError and a second attempt sends only what the
// provider did not take, then marks the message sent.
func TestSendRecordsEachPartOnce(t *testing.T) {
	st := testaws.NewTables(t).Store()
	ctx := context.Background()
	tenant, contact := ids.New(ids.Tenant), ids.New(ids.Contact)
	_, conv, err := st.OpenConversation(ctx, tenant, contact, "telegram", retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := st.PutMessage(ctx, &chat.Message{TenantID: tenant, ConversationID: conv, ContactID: contact,
		Author: chat.Author{Kind: chat.AuthorAgent}, Text: "a b c", Channel: "telegram"}, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"a", "b", "c"}
	var sent []string
	var at []time.Time
	refuse := errors.New("503")
	send := func(fail int) func(int, string) (string, error) {
		return func(i int, p string) (string, error) {
			if i == fail {
				return "", refuse
			}
			sent, at = append(sent, p), append(at, time.Now())
			return "id-" + p, nil
		}
	}
	const pause = 50 * time.Millisecond
	err = outbox.Send(ctx, st, m, "telegram", parts, retention.Defaults, pause, send(2))
	var se *outbox.SendError
	if !errors.As(err, &se) || !errors.Is(err, refuse) {
		t.Fatalf("a refused part: %v, want a SendError", err)
	}
	if len(at) != 2 || at[1].Sub(at[0]) < pause {
		t.Errorf("parts %v at %v: want the pause between them", sent, at)
	}
	if err := outbox.Send(ctx, st, m, "telegram", parts, retention.Defaults, pause, send(-1)); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 3 || sent[2] != "c" {
		t.Errorf("sent %v, want a, b, then only c", sent)
	}
	msgs, _, _ := st.History(ctx, tenant, conv, "", 10)
	if d := msgs[0].Delivery; d == nil || d.Status != chat.DeliverySent {
		t.Errorf("delivery %+v, want sent", d)
	}
	if err := outbox.Send(ctx, st, m, "telegram", parts, retention.Defaults, pause, send(-1)); err != nil || len(sent) != 3 {
		t.Errorf("a third attempt: %v, %d sends", err, len(sent))
	}
}
