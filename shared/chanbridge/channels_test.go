package chanbridge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/local/viberfake"
	"github.com/livesupportbot/backend/shared/chat"
)

// Connecting registers the webhook with the tenant's URL and secret; a bad
// token names its field and stores nothing; another tenant's bot is refused
// before its webhook is moved; reconnecting gives a new URL (the old one is
// 404); disconnecting removes the webhook at the provider and ours.
func TestConnectAndDisconnect(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten, other := h.tenant(t), h.tenant(t)
	d := drivers[0] // telegram: the fake shows its webhook registration
	c, in := h.connect(t, ten, d)
	url, secret, allowed := h.tg.Webhook(c.BotToken)
	if url != webhookBase+"/webhooks/telegram/"+in.WebhookID || len(secret) < 32 || len(allowed) == 0 {
		t.Errorf("registered %q %q %v", url, secret, allowed)
	}
	before := h.items(t)
	_, err := h.bridge.Connect(ctx, other, "telegram", chat.ChannelConnect{BotToken: c.BotToken, WebhookBase: webhookBase})
	if chat.ErrorCode(err) != chat.EConflict {
		t.Errorf("another tenant's bot: %v, want conflict", err)
	}
	if now, _, _ := h.tg.Webhook(c.BotToken); now != url {
		t.Errorf("the webhook moved to %q for a refused connect", now)
	}
	_, err = h.bridge.Connect(ctx, other, "telegram", chat.ChannelConnect{BotToken: "999:unknown-token-of-no-bot", WebhookBase: webhookBase})
	if chat.ErrorCode(err) != chat.EInvalid || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a refused token: %v", err)
	}
	_, err = h.bridge.Connect(ctx, other, "viber", chat.ChannelConnect{AuthToken: "x", SenderName: strings.Repeat("n", 29), BotToken: "y", WebhookBase: webhookBase})
	if e, ok := err.(*chat.Error); !ok || len(e.Fields) != 3 {
		t.Errorf("bad input: %v, want authToken, senderName and botToken named", err)
	}
	if after := h.items(t); after != before {
		t.Errorf("refused connects wrote: %d -> %d", before, after)
	}
	_, again := h.connect(t, ten, driver{name: "telegram", connect: func(*harness) chat.ChannelConnect { return c }})
	if again.WebhookID == in.WebhookID {
		t.Fatal("reconnecting kept the webhook id")
	}
	body := d.text(again, 9, d.user(9), "hi")
	if res := h.do(t, request("telegram", in.WebhookID, body, d.sign(h, c, again, body))); res.StatusCode != http.StatusNotFound {
		t.Errorf("the old URL answers %d", res.StatusCode)
	}
	h.post(t, d, c, again, body)
	if err := h.bridge.Disconnect(ctx, ten.ID, "telegram"); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := h.tg.Webhook(c.BotToken); u != "" {
		t.Errorf("the provider still posts to %q", u)
	}
	if res := h.do(t, request("telegram", again.WebhookID, body, d.sign(h, c, again, body))); res.StatusCode != http.StatusNotFound {
		t.Errorf("after disconnect the URL answers %d", res.StatusCode)
	}
	ins, _ := h.bridge.Integrations(ctx, ten.ID)
	if len(ins) != 0 {
		t.Errorf("integrations after disconnect: %+v", ins)
	}
}

// LINE: a reply within the reply token's life goes out as a reply, once; a
// later one, or a second one, is pushed with a retry key.
func TestLineReplyTokenOnceThenPush(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	d := drivers[1]
	c, in := h.connect(t, ten, d)
	token := h.ln.IssueReplyToken()
	m := h.inbound(t, d, c, in, linefake.TextEvent(in.AccountID, d.user(1), "01HREPLY0000000000000000001", token, "hi"))
	h.reply(t, m, "first answer")
	h.reply(t, m, "second answer")
	h.pump(t)
	sends := h.ln.Sends()
	if len(sends) != 2 || sends[0].Kind != "reply" || sends[0].ReplyToken != token || sends[1].Kind != "push" || sends[1].RetryKey == "" || sends[1].To != d.user(1) {
		t.Fatalf("sends %+v: want a reply with the token, then a push", sends)
	}
	// A message after the token's life is pushed.
	token2 := h.ln.IssueReplyToken()
	h.post(t, d, c, in, linefake.TextEvent(in.AccountID, d.user(1), "01HREPLY0000000000000000002", token2, "again"))
	h.pump(t)
	h.advance(2 * time.Minute)
	h.reply(t, m, "late answer")
	h.pump(t)
	if last := h.ln.Sends()[2]; last.Kind != "push" {
		t.Errorf("a reply after a minute went as %s", last.Kind)
	}
}

// Viber: an unsubscribed contact gets nothing more (the message fails as
// unsubscribed, the admin API refuses a reply, the conversation says why),
// until they subscribe again; delivery statuses update our message, also
// with message tokens above 2^53.
func TestViberSubscriptionsAndStatuses(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	d := drivers[2]
	c, in := h.connect(t, ten, d)
	user := d.user(5)
	m := h.inbound(t, d, c, in, d.text(in, 5, user, "hello"))
	r := h.reply(t, m, "welcome")
	h.pump(t)
	sent := h.vb.Sends()
	if len(sent) != 1 || sent[0].SenderName != "Acme Support" || sent[0].Receiver != user {
		t.Fatalf("sends %+v", sent)
	}
	token := sent[0].Token64
	tok, _ := parseUint(token)
	if tok <= 1<<53 {
		t.Fatalf("the fake's token %s is not above 2^53", token)
	}
	for _, ev := range []string{"delivered", "seen"} {
		body := viberfake.Event(ev, user, tok)
		h.post(t, d, c, in, body)
	}
	if dl := h.message(t, r).Delivery; dl == nil || dl.Status != chat.DeliveryRead {
		t.Errorf("delivery %+v, want read", dl)
	}
	h.post(t, d, c, in, viberfake.Event("unsubscribed", user, tok+7))
	cv, _ := h.st.Conversation(ctx, ten.ID, m.ConversationID)
	if err := h.bridge.CanReply(ctx, cv, false); chat.ErrorCode(err) != chat.EConflict {
		t.Errorf("reply to an unsubscribed contact: %v, want conflict", err)
	}
	if w, _ := h.bridge.ReplyWindow(ctx, cv); w == nil || w.Blocked != "unsubscribed" {
		t.Errorf("window %+v", w)
	}
	r2 := h.reply(t, m, "anyone?")
	h.pump(t)
	if dl := h.message(t, r2).Delivery; dl == nil || dl.Error != "unsubscribed" || len(h.vb.Sends()) != 1 {
		t.Errorf("delivery %+v, %d sends; want failed unsubscribed, no send", dl, len(h.vb.Sends()))
	}
	h.post(t, d, c, in, viberfake.Event("subscribed", user, tok+8))
	if err := h.bridge.CanReply(ctx, cv, false); err != nil {
		t.Errorf("after subscribing again: %v", err)
	}
}

// LINE's connectivity check (no events) is answered 200 and writes nothing; a
// Telegram user who blocks the bot gets nothing more until they unblock it.
func TestLineCheckAndTelegramBlock(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	lc, lin := h.connect(t, ten, drivers[1])
	before := h.items(t)
	h.post(t, drivers[1], lc, lin, linefake.Events(lin.AccountID))
	if after := h.items(t); after != before {
		t.Errorf("LINE's check wrote: %d -> %d", before, after)
	}
	d := drivers[0]
	c, in := h.connect(t, ten, d)
	h.post(t, d, c, in, d.text(in, 1, d.user(1), "hi"))
	h.pump(t)
	var m *chat.Message
	for _, x := range h.messages(t, ten.ID) {
		if x.Channel == "telegram" {
			m = x
		}
	}
	chatID, _ := parseUint(d.user(1))
	h.post(t, d, c, in, telegramfake.BlockedUpdate(2, int64(chatID)))
	r := h.reply(t, m, "still there?")
	h.pump(t)
	if dl := h.message(t, r).Delivery; dl == nil || dl.Error != "unsubscribed" || len(h.tg.Sends()) != 0 {
		t.Errorf("to a blocked bot: %+v, %d sends", dl, len(h.tg.Sends()))
	}
	h.post(t, d, c, in, telegramfake.UnblockedUpdate(3, int64(chatID)))
	h.reply(t, m, "welcome back")
	h.pump(t)
	if n := len(h.tg.Sends()); n != 1 {
		t.Errorf("%d sends after unblocking, want 1", n)
	}
}
