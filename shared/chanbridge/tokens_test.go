package chanbridge_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/chat"
)

// driverOf is the test driver of a channel.
func driverOf(name string) driver {
	for _, d := range drivers {
		if d.name == name {
			return d
		}
	}
	panic("no driver " + name)
}

// get is a GET of the integration's webhook URL with query.
func get(ch, webhookID string, query map[string]string) events.APIGatewayV2HTTPRequest {
	req := request(ch, webhookID, nil, nil)
	req.RequestContext.HTTP.Method, req.QueryStringParameters = http.MethodGet, query
	return req
}

// X: the CRC check is answered with the tenant's consumer secret (a request
// without a token is 401); our own sends, events of another account of the
// app and media DMs store nothing, or a mark instead of the file.
func TestXHandshakeOwnSendsAndMedia(t *testing.T) {
	h := newHarness(t)
	d := driverOf("x")
	ten := h.tenant(t)
	c, in := h.connect(t, ten, d)
	res := h.do(t, get("x", in.WebhookID, map[string]string{"crc_token": "challenge-123"}))
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `"response_token":"`+xfake.CRC("challenge-123", c.ConsumerSecret)+`"`) {
		t.Errorf("CRC: %d %s", res.StatusCode, res.Body)
	}
	if res := h.do(t, get("x", in.WebhookID, nil)); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a GET without crc_token: %d", res.StatusCode)
	}
	if res := h.do(t, get("telegram", in.WebhookID, map[string]string{"crc_token": "x"})); res.StatusCode != http.StatusMethodNotAllowed || res.Headers["Allow"] != "POST" {
		t.Errorf("a GET of a channel without a handshake: %d %v", res.StatusCode, res.Headers)
	}
	before := h.items(t)
	h.post(t, d, c, in, xfake.OwnDM(in.AccountID, "1853241553271120001", d.user(1), "our reply", time.Now()))
	h.post(t, d, c, in, xfake.DM("999", "1853241553271120002", d.user(1), "Ana", "to another account", time.Now()))
	if after := h.items(t); after != before {
		t.Errorf("our own send or another account's event wrote: %d -> %d", before, after)
	}
	h.post(t, d, c, in, xfake.MediaDM(in.AccountID, "1853241553271120003", d.user(1), "Ana", "look", "photo", time.Now()))
	msgs := h.messages(t, ten.ID)
	if len(msgs) != 1 || msgs[0].Text != "[photo] look" || len(msgs[0].Attachments) != 0 {
		t.Fatalf("stored %+v, want the photo's mark", msgs)
	}
}

// X: an access token X stops taking is refreshed by one instance of two
// sending at once (the refresh token rotates: a second refresh with the
// same one would fail), and both sends go out; a grant the owner revoked
// marks the integration broken and fails the message, not silently.
func TestXTokenRefreshedOnceAcrossInstances(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	d := driverOf("x")
	ten := h.tenant(t)
	c, in := h.connect(t, ten, d)
	m := h.inbound(t, d, c, in, d.text(in, 1, d.user(1), "hi"))
	other := chanbridge.New(h.bridge.Deps).WithClock(h.clock) // a second instance: nothing in memory
	refreshes := h.xf.RefreshCount()
	h.xf.ExpireAccessTokens()
	r1, r2 := h.reply(t, m, "one"), h.reply(t, m, "two")
	var wg sync.WaitGroup
	for _, x := range []struct {
		b *chanbridge.Bridge
		m *chat.Message
	}{{h.bridge, r1}, {other, r2}} {
		wg.Go(func() {
			if err := x.b.Deliver(ctx, x.m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := h.xf.RefreshCount() - refreshes; n != 1 {
		t.Errorf("%d refreshes for two instances, want 1", n)
	}
	if n := len(h.xf.Sends()); n != 2 {
		t.Fatalf("%d sends, want 2", n)
	}
	for _, s := range []string{c.RefreshToken, c.ClientSecret, h.xf.Sends()[0].Token} {
		if strings.Contains(h.logs.String(), s) {
			t.Errorf("the logs hold a credential")
		}
	}
	h.xf.RevokeUser(in.AccountID)
	h.xf.ExpireAccessTokens()
	r3 := h.reply(t, m, "three")
	if err := h.bridge.Deliver(ctx, r3); err != nil {
		t.Fatal(err)
	}
	if dl := h.message(t, r3).Delivery; dl == nil || dl.Status != chat.DeliveryFailed {
		t.Errorf("delivery after revocation %+v, want failed", dl)
	}
	ins, _ := h.bridge.Integrations(ctx, ten.ID)
	if len(ins) != 1 || ins[0].Broken == "" {
		t.Errorf("integrations %+v, want x broken", ins)
	}
}

// WeChat: the URL check echoes echostr when signed with the tenant's token
// (401 otherwise, nothing written); a message is acknowledged "success"; 5
// customer-service messages go out per contact message and the sixth fails
// quota_exceeded (the admin API's check says so, the window shows 0 left);
// the contact's next message opens a new count; 48 hours later nothing can
// be sent. An access token WeChat stops taking is refreshed once (forced).
func TestWeChatHandshakeAckQuotaAndToken(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	d := driverOf("wechat")
	ten := h.tenant(t)
	c, in := h.connect(t, ten, d)
	before := h.items(t)
	res := h.do(t, get("wechat", in.WebhookID, wechatfake.Handshake(c.Token, "echo-4711", time.Now())))
	if res.StatusCode != http.StatusOK || res.Body != "echo-4711" {
		t.Errorf("handshake: %d %q", res.StatusCode, res.Body)
	}
	if res := h.do(t, get("wechat", in.WebhookID, wechatfake.Handshake("wrong-token", "echo", time.Now()))); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a handshake signed with another token: %d", res.StatusCode)
	}
	if after := h.items(t); after != before {
		t.Errorf("handshakes wrote: %d -> %d", before, after)
	}
	body := d.sealed(c, d.text(in, 1, d.user(1), "你好"))
	res = h.do(t, request("wechat", in.WebhookID, body, d.sign(h, c, in, body)))
	if res.StatusCode != http.StatusOK || res.Body != "success" {
		t.Fatalf("ack: %d %q", res.StatusCode, res.Body)
	}
	h.pump(t)
	m := h.messages(t, ten.ID)[0]
	for i := range 6 {
		h.reply(t, m, "answer "+string(rune('a'+i)))
	}
	h.pump(t)
	if n := len(h.wc.Sends()); n != 5 {
		t.Fatalf("%d sends, want 5", n)
	}
	var failed *chat.Message
	for _, x := range h.messages(t, ten.ID) {
		if x.Delivery != nil && x.Delivery.Status == chat.DeliveryFailed {
			failed = x
		}
	}
	if failed == nil || failed.Delivery.Error != chanbridge.CodeQuotaExceeded || failed.Text != "answer f" {
		t.Fatalf("the sixth: %+v", failed)
	}
	cv, _ := h.st.Conversation(ctx, ten.ID, m.ConversationID)
	w, _ := h.bridge.ReplyWindow(ctx, cv)
	if w == nil || w.Open || w.Blocked != chanbridge.CodeQuotaExceeded || w.SendsLeft == nil || *w.SendsLeft != 0 {
		t.Errorf("window %+v", w)
	}
	if err := h.bridge.CanReply(ctx, cv, false); chat.ErrorCode(err) != chat.EConflict || !strings.Contains(err.Error(), "5 messages within 48 hours") {
		t.Errorf("a seventh reply: %v", err)
	}
	// WeChat's times are whole seconds: the next message is a later one.
	h.post(t, d, c, in, wechatfake.TextMessage(wechatAccount, d.user(1), 24000000000000002, "还有问题", time.Now().Add(2*time.Second)))
	if err := h.bridge.CanReply(ctx, cv, false); err != nil {
		t.Errorf("after the contact wrote again: %v", err)
	}
	h.wc.ExpireTokens()
	fetches := h.wc.TokenFetches()
	h.reply(t, m, "after the token expired")
	h.pump(t)
	if n := len(h.wc.Sends()); n != 6 {
		t.Errorf("%d sends, want 6", n)
	}
	if n := h.wc.TokenFetches() - fetches; n != 1 {
		t.Errorf("%d token fetches, want 1", n)
	}
	h.advance(49 * time.Hour)
	if err := h.bridge.CanReply(ctx, cv, false); chat.ErrorCode(err) != chat.EConflict || !strings.Contains(err.Error(), "within 48 hours") {
		t.Errorf("49 hours later: %v", err)
	}
	late := h.reply(t, m, "too late")
	h.pump(t)
	if dl := h.message(t, late).Delivery; dl == nil || dl.Error != chanbridge.CodeWindowClosed || len(h.wc.Sends()) != 6 {
		t.Errorf("a reply 49 hours later: %+v", dl)
	}
}

// X allows an app few webhooks: connecting the same account again (a new
// URL) replaces the old webhook instead of failing at the limit.
func TestXReconnectWithinTheWebhookLimit(t *testing.T) {
	h := newHarness(t)
	h.xf.SetWebhookLimit(1)
	d := driverOf("x")
	ten := h.tenant(t)
	c, first := h.connect(t, ten, d)
	// X rotated the owner's refresh token at the first connect: the owner
	// grants the app again for the new one.
	c.RefreshToken = h.xf.AddAccount(xfake.Account{ConsumerKey: c.ConsumerKey, ConsumerSecret: c.ConsumerSecret, ClientID: c.ClientID,
		ClientSecret: c.ClientSecret, UserID: first.AccountID}).RefreshToken
	_, again := h.connect(t, ten, driver{name: "x", connect: func(*harness) chat.ChannelConnect { return c }})
	hooks := h.xf.Webhooks()
	if len(hooks) != 1 || hooks[0].URL != again.WebhookURL || again.WebhookURL == first.WebhookURL || !h.xf.Subscribed(again.AccountID) {
		t.Fatalf("webhooks %+v after a reconnect", hooks)
	}
}

// An access token is refreshed before it expires (5 minutes ahead), not
// after the provider refused it: a send 1 h 56 min into X's 2-hour token
// refreshes first, and X never answers 401.
func TestXTokenRefreshedBeforeItExpires(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	d := driverOf("x")
	ten := h.tenant(t)
	c, in := h.connect(t, ten, d)
	m := h.inbound(t, d, c, in, d.text(in, 1, d.user(1), "hi"))
	if err := h.bridge.Deliver(ctx, h.reply(t, m, "first")); err != nil {
		t.Fatal(err)
	}
	refreshes := h.xf.RefreshCount()
	h.advance(time.Hour + 50*time.Minute)
	if err := h.bridge.Deliver(ctx, h.reply(t, m, "still fresh")); err != nil {
		t.Fatal(err)
	}
	if n := h.xf.RefreshCount() - refreshes; n != 0 {
		t.Fatalf("%d refreshes 10 minutes before expiry, want 0", n)
	}
	h.advance(6 * time.Minute)
	if err := h.bridge.Deliver(ctx, h.reply(t, m, "near expiry")); err != nil {
		t.Fatal(err)
	}
	sends := h.xf.Sends()
	if n := h.xf.RefreshCount() - refreshes; n != 1 || len(sends) != 3 || sends[2].Token == sends[1].Token {
		t.Errorf("%d refreshes and %d sends 4 minutes before expiry; want 1 refresh and a new token on the third send", n, len(sends))
	}
}
