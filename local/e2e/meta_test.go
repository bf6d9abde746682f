package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/stack"
)

// postMeta posts a webhook body signed with the local Meta app secret to the
// stack's /webhooks/meta, as Meta does.
func postMeta(tb testing.TB, s *stack.Stack, body []byte) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/webhooks/meta", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", metafake.Sign(body, metafake.LocalAppSecret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMeta_MessengerRoundTrip runs the Messenger loop through the real
// binaries under the emulator: the owner connects a Page (admin-api, token
// encrypted with moto's KMS); a signed Messenger webhook (webhook-meta)
// stores the contact's message, which the inbox lists; an unsigned one is
// refused; the agent's reply (admin-api) is sent by dispatch from the
// Data stream to the fake Graph API, to the contact's PSID as a RESPONSE.
func TestMeta_MessengerRoundTrip(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	page, psid, token := "100000000077001", "7000000000000001", "EAAGe2e"+strings.Repeat("t", 30)
	if st := call(t, s, "PUT", "/v1/integrations/messenger", ten.APIKey, map[string]any{"accountId": page, "accessToken": token}, nil); st != http.StatusOK {
		t.Fatalf("connect messenger: %d", st)
	}
	body := metafake.MessengerPayload(page, psid, "m_e2e_"+ten.ID, "Do you ship to Norway?")
	if st, b := postMeta(t, s, body); st != http.StatusOK || b != "EVENT_RECEIVED" {
		t.Fatalf("signed webhook: %d %s", st, b)
	}
	tampered := bytes.Replace(body, []byte("Norway"), []byte("Sweden"), 1)
	req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/webhooks/meta", bytes.NewReader(tampered))
	req.Header.Set("X-Hub-Signature-256", metafake.Sign(body, metafake.LocalAppSecret))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered webhook: %v %v, want 401", res.StatusCode, err)
	}
	var inbox struct {
		Items []struct{ ID, Channel, ContactID string } `json:"items"`
	}
	if st := call(t, s, "GET", "/v1/conversations?status=open", ten.APIKey, nil, &inbox); st != http.StatusOK || len(inbox.Items) != 1 || inbox.Items[0].Channel != "messenger" {
		t.Fatalf("inbox: %d %+v, want one messenger conversation", st, inbox)
	}
	conv := inbox.Items[0].ID
	if msgs := storedMessages(t, s, ten.APIKey, conv); len(msgs["Do you ship to Norway?"]) != 1 || len(msgs) != 1 {
		t.Fatalf("messages %v", msgs)
	}
	var reply struct{ ID string }
	if st := call(t, s, "POST", "/v1/conversations/"+conv+"/messages", ten.APIKey, map[string]any{"text": "Yes, in 3 days.", "agentName": "Eve"}, &reply); st != http.StatusCreated {
		t.Fatalf("reply: %d", st)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sent *metafake.Send
		for _, x := range s.MetaGraph.Sends() {
			if x.Account == page {
				sent = &x
			}
		}
		if sent != nil {
			if sent.Recipient != psid || sent.MessagingType != "RESPONSE" || sent.Text != "Yes, in 3 days." || sent.Token != token {
				t.Fatalf("send %+v", sent)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reply did not reach the Graph API within 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The message shows it was sent.
	for time.Now().Before(deadline) {
		var page struct {
			Items []struct {
				ID       string
				Delivery *struct{ Status string } `json:"delivery"`
			} `json:"items"`
		}
		call(t, s, "GET", "/v1/conversations/"+conv+"/messages", ten.APIKey, nil, &page)
		for _, m := range page.Items {
			if m.ID == reply.ID && m.Delivery != nil && m.Delivery.Status == "sent" {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the reply's delivery never showed sent")
}
