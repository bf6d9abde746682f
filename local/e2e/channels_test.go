package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/local/viberfake"
)

// channelLoop is one channel's loop in the local stack against its fake.
type channelLoop struct {
	name    string
	connect map[string]any // the owner's PUT body
	// inbound returns the webhook URL the provider was given and a signed
	// request body and headers of a contact's message.
	inbound func(s *stack.Stack, text string) (url string, body []byte, headers map[string]string)
	// sent returns the recipient and text of the fake's sends.
	sent func(s *stack.Stack) [][2]string
	user string
}

func channelLoops() []channelLoop {
	tgToken := "424242:AAe2e" + strings.Repeat("t", 30)
	lnToken, lnSecret := "line-e2e-"+strings.Repeat("a", 30), strings.Repeat("s", 32)
	vbToken := "e2e-viber-" + strings.Repeat("v", 30)
	return []channelLoop{
		{name: "telegram", connect: map[string]any{"botToken": tgToken}, user: "5550001",
			inbound: func(s *stack.Stack, text string) (string, []byte, map[string]string) {
				url, secret, _ := s.Telegram.Webhook(tgToken)
				return url, telegramfake.TextUpdate(91, 5550001, "Ana", text), map[string]string{"X-Telegram-Bot-Api-Secret-Token": secret}
			},
			sent: func(s *stack.Stack) (out [][2]string) {
				for _, x := range s.Telegram.Sends() {
					if x.Token == tgToken {
						out = append(out, [2]string{x.ChatID, x.Text})
					}
				}
				return out
			}},
		{name: "line", connect: map[string]any{"accessToken": lnToken, "channelSecret": lnSecret}, user: "Ue2e0000000000000000000000000001",
			inbound: func(s *stack.Stack, text string) (string, []byte, map[string]string) {
				body := linefake.TextEvent(linefake.BotUserID(lnToken), "Ue2e0000000000000000000000000001", "01HE2E0000000000000000000A", "", text)
				return s.Line.Endpoint(lnToken), body, map[string]string{"X-Line-Signature": linefake.Sign(body, lnSecret)}
			},
			sent: func(s *stack.Stack) (out [][2]string) {
				for _, x := range s.Line.Sends() {
					if x.Token == lnToken {
						out = append(out, [2]string{x.To, x.Text})
					}
				}
				return out
			}},
		{name: "viber", connect: map[string]any{"authToken": vbToken, "senderName": "E2E Outdoor"}, user: "e2eViberUser==",
			inbound: func(s *stack.Stack, text string) (string, []byte, map[string]string) {
				url, _ := s.Viber.Webhook(vbToken)
				body := viberfake.TextMessage(viberfake.FirstMessageToken+424242, "e2eViberUser==", "Ana", text)
				return url, body, map[string]string{"X-Viber-Content-Signature": viberfake.Sign(body, vbToken)}
			},
			sent: func(s *stack.Stack) (out [][2]string) {
				for _, x := range s.Viber.Sends() {
					if x.Token == vbToken {
						out = append(out, [2]string{x.Receiver, x.Text})
					}
				}
				return out
			}},
	}
}

// TestChannels_LoopsThroughTheRealBinaries runs each tenant-credential
// channel's loop under the emulator: the owner connects the bot (admin-api
// checks the token with the fake provider and registers the webhook there);
// the provider posts a contact's message to the registered URL, signed as
// it signs (webhook-channels); the inbox lists it; a tampered or unsigned
// post is refused; the agent's reply (admin-api) goes out through dispatch to
// the fake provider, to the contact, once.
func TestChannels_LoopsThroughTheRealBinaries(t *testing.T) {
	s := localStack(t)
	for _, c := range channelLoops() {
		t.Run(c.name, func(t *testing.T) {
			ten := newTenant(t, s)
			if st := call(t, s, "PUT", "/v1/integrations/"+c.name, ten.APIKey, c.connect, nil); st != http.StatusOK {
				t.Fatalf("connect: %d", st)
			}
			url, body, headers := c.inbound(s, "Do you ship to Norway?")
			if !strings.HasPrefix(url, s.APIURL+"/webhooks/"+c.name+"/") {
				t.Fatalf("registered webhook %q", url)
			}
			var list struct {
				Items []struct{ Channel, WebhookURL string } `json:"items"`
			}
			call(t, s, "GET", "/v1/integrations", ten.APIKey, nil, &list)
			if len(list.Items) != 1 || list.Items[0].WebhookURL != url {
				t.Errorf("integrations %+v: want the URL the provider got", list.Items)
			}
			post := func(body []byte, headers map[string]string) int {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				for k, v := range headers {
					req.Header.Set(k, v)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res.StatusCode
			}
			if st := post(body, nil); st != http.StatusUnauthorized {
				t.Errorf("unsigned: %d, want 401", st)
			}
			if st := post(body, headers); st != http.StatusOK {
				t.Fatalf("signed: %d", st)
			}
			if st := post(body, headers); st != http.StatusOK {
				t.Fatalf("redelivered: %d", st)
			}
			var inbox struct {
				Items []struct{ ID, Channel string } `json:"items"`
			}
			if st := call(t, s, "GET", "/v1/conversations?status=open", ten.APIKey, nil, &inbox); st != http.StatusOK || len(inbox.Items) != 1 || inbox.Items[0].Channel != c.name {
				t.Fatalf("inbox: %d %+v", st, inbox)
			}
			conv := inbox.Items[0].ID
			if msgs := storedMessages(t, s, ten.APIKey, conv); len(msgs) != 1 || len(msgs["Do you ship to Norway?"]) != 1 {
				t.Fatalf("messages %v: want the one message, once", msgs)
			}
			if st := call(t, s, "POST", "/v1/conversations/"+conv+"/messages", ten.APIKey, map[string]any{"text": "Yes, in 3 days."}, nil); st != http.StatusCreated {
				t.Fatalf("reply: %d", st)
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(c.sent(s)) == 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // a second send would show by now
			if sent := c.sent(s); len(sent) != 1 || sent[0] != [2]string{c.user, "Yes, in 3 days."} {
				t.Fatalf("sends %v, want the reply to %s once", sent, c.user)
			}
		})
	}
}
