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
	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/local/xfake"
)

// channelLoop is one channel's loop in the local stack against its fake.
type channelLoop struct {
	name    string
	connect map[string]any // the owner's PUT body
	// inbound returns the webhook URL the provider was given (WeChat: the
	// one the owner sets in its console, webhookURL) and a signed request
	// body and headers of a contact's message to account (a header
	// "?name" is a query parameter: WeChat signs in the query).
	inbound func(s *stack.Stack, text, webhookURL, account string) (url string, body []byte, headers map[string]string)
	// sent returns the recipient and text of the fake's sends.
	sent func(s *stack.Stack) [][2]string
	user string
}

// The WeChat account's URL token and the X app's consumer secret.
const (
	wcToken = "e2etoken42"
	xSecret = "e2e-consumer-secret-xxxxxxxxxxxxxxxxxxxx"
)

func channelLoops() []channelLoop {
	tgToken := "424242:AAe2e" + strings.Repeat("t", 30)
	lnToken, lnSecret := "line-e2e-"+strings.Repeat("a", 30), strings.Repeat("s", 32)
	vbToken := "e2e-viber-" + strings.Repeat("v", 30)
	wcApp, wcKey, xClient := "wxe2e0000000000001", strings.Repeat("k", 43), "e2e-client-id-42"
	return []channelLoop{
		{name: "telegram", connect: map[string]any{"botToken": tgToken}, user: "5550001",
			inbound: func(s *stack.Stack, text, _, _ string) (string, []byte, map[string]string) {
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
			inbound: func(s *stack.Stack, text, _, _ string) (string, []byte, map[string]string) {
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
			inbound: func(s *stack.Stack, text, _, _ string) (string, []byte, map[string]string) {
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
		{name: "wechat", connect: map[string]any{"appId": wcApp, "appSecret": strings.Repeat("w", 32), "token": wcToken, "encodingAesKey": wcKey},
			user: "oE2eWeChatUser",
			inbound: func(s *stack.Stack, text, webhookURL, _ string) (string, []byte, map[string]string) {
				plain := wechatfake.TextMessage("gh_e2e", "oE2eWeChatUser", 24000000000004242, text, time.Now())
				query, body, err := wechatfake.Signed(wcToken, wcKey, wcApp, plain, time.Now())
				if err != nil {
					panic(err)
				}
				headers := map[string]string{}
				for k, v := range query {
					headers["?"+k] = v
				}
				return webhookURL, body, headers
			},
			sent: func(s *stack.Stack) (out [][2]string) {
				for _, x := range s.WeChat.Sends() {
					if x.AppID == wcApp {
						out = append(out, [2]string{x.ToUser, x.Text})
					}
				}
				return out
			}},
		{name: "x", connect: map[string]any{"consumerKey": "e2e-consumer-key", "consumerSecret": xSecret, "clientId": xClient,
			"clientSecret": strings.Repeat("c", 30), "refreshToken": "e2e-refresh-" + strings.Repeat("r", 20)},
			user: "4400042",
			inbound: func(s *stack.Stack, text, _, account string) (string, []byte, map[string]string) {
				url := ""
				for _, w := range s.X.Webhooks() {
					if w.ConsumerKey == "e2e-consumer-key" {
						url = w.URL
					}
				}
				body := xfake.DM(account, "1853241553271124242", "4400042", "Ana", text, time.Now())
				return url, body, map[string]string{xfake.SignatureHeader: xfake.Sign(body, xSecret)}
			},
			sent: func(s *stack.Stack) (out [][2]string) {
				for _, x := range s.X.Sends() {
					if x.ParticipantID == "4400042" {
						out = append(out, [2]string{x.ParticipantID, x.Text})
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
			var list struct {
				Items []struct{ Channel, WebhookURL, AccountID string } `json:"items"`
			}
			call(t, s, "GET", "/v1/integrations", ten.APIKey, nil, &list)
			if len(list.Items) != 1 {
				t.Fatalf("integrations %+v", list.Items)
			}
			url, body, headers := c.inbound(s, "Do you ship to Norway?", list.Items[0].WebhookURL, list.Items[0].AccountID)
			if !strings.HasPrefix(url, s.APIURL+"/webhooks/"+c.name+"/") || list.Items[0].WebhookURL != url {
				t.Fatalf("registered webhook %q, listed %q", url, list.Items[0].WebhookURL)
			}
			switch c.name { // the providers' checks of the URL
			case "wechat":
				q := wechatfake.Handshake(wcToken, "echo-e2e", time.Now())
				if st, got := getURL(t, url, q); st != http.StatusOK || got != "echo-e2e" {
					t.Errorf("WeChat's URL check: %d %q", st, got)
				}
			case "x":
				if st, got := getURL(t, url, map[string]string{"crc_token": "crc-e2e"}); st != http.StatusOK || !strings.Contains(got, xfake.CRC("crc-e2e", xSecret)) {
					t.Errorf("X's CRC: %d %q", st, got)
				}
			}
			post := func(body []byte, headers map[string]string) int {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				q := req.URL.Query()
				for k, v := range headers {
					if name, ok := strings.CutPrefix(k, "?"); ok {
						q.Set(name, v)
					} else {
						req.Header.Set(k, v)
					}
				}
				req.URL.RawQuery = q.Encode()
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

// getURL GETs url with query and returns the status and body.
func getURL(t *testing.T, url string, query map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	q := req.URL.Query()
	for k, v := range query {
		q.Set(k, v)
	}
	req.URL.RawQuery = q.Encode()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
