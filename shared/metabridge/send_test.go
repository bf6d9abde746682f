package metabridge_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/retention"
)

// inbound stores a contact's message on ch (account, user) and returns it.
func (h *harness) inbound(tb testing.TB, t *chat.Tenant, ch, account, user string) *chat.Message {
	tb.Helper()
	var body []byte
	switch ch {
	case meta.ChannelMessenger:
		body = metafake.MessengerPayload(account, user, mid(), "hi")
	case meta.ChannelInstagram:
		body = metafake.InstagramPayload(account, user, mid(), "hi")
	default:
		body = metafake.WhatsAppPayload(account, user, "Ana", "wamid."+mid(), "hi")
	}
	h.post(tb, body)
	msgs := h.messages(tb, t.ID)
	return msgs[len(msgs)-1]
}

// pump delivers what the stream holds and wants no failed record.
func (h *harness) pump(tb testing.TB) {
	tb.Helper()
	if res := h.Pump(tb); len(res.BatchItemFailures) != 0 {
		tb.Fatalf("dispatch failed records: %+v", res.BatchItemFailures)
	}
}

// An agent's reply to a Messenger conversation is sent by dispatch through
// the Graph API: to the contact's PSID, from the Page, as a RESPONSE, and the
// message records the send.
func TestReplyIsSentToTheContact(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	token := h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	in := h.inbound(t, ten, meta.ChannelMessenger, "1001", "psid-7")
	h.pump(t) // the visitor message: nothing to send
	if n := len(h.graph.Sends()); n != 0 {
		t.Fatalf("a visitor's message was sent back: %d sends", n)
	}
	r := h.reply(t, in, "How can I help?")
	h.pump(t)
	sends := h.graph.Sends()
	if len(sends) != 1 {
		t.Fatalf("%d sends, want 1", len(sends))
	}
	s := sends[0]
	if s.Account != "1001" || s.Token != token || s.Recipient != "psid-7" || s.MessagingType != "RESPONSE" || s.Tag != "" || s.Text != "How can I help?" {
		t.Errorf("send %+v", s)
	}
	if d := h.message(t, r).Delivery; d == nil || d.Status != chat.DeliverySent {
		t.Errorf("delivery %+v, want sent", d)
	}
	// The stream hands the record over again (a retried batch): no second send.
	if err := h.bridge.Deliver(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if n := len(h.graph.Sends()); n != 1 {
		t.Errorf("%d sends after a redelivery of the record, want 1", n)
	}
}

// The 24-hour rule: a free-form reply is sent within 24 hours of the contact's
// last message; after that it is not sent and the message shows
// window_closed; with HUMAN_AGENT enabled it goes out tagged until 7 days. The
// admin API's check (CanReply) and the conversation's window say the same.
func TestReplyWindow(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	in := h.inbound(t, ten, meta.ChannelMessenger, "1001", "psid-1")
	cv, err := h.st.Conversation(context.Background(), ten.ID, in.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bridge.CanReply(context.Background(), cv, false); err != nil {
		t.Errorf("within the window: %v", err)
	}
	h.advance(25 * time.Hour)
	err = h.bridge.CanReply(context.Background(), cv, false)
	if chat.ErrorCode(err) != chat.EWindowClosed {
		t.Errorf("after 25 hours: %v, want window_closed", err)
	}
	w, _ := h.bridge.ReplyWindow(context.Background(), cv)
	if w == nil || w.Open || w.Tag != "" || w.ClosesAt.Sub(in.CreatedAt).Abs() > time.Minute+24*time.Hour {
		t.Errorf("window %+v", w)
	}
	late := h.reply(t, in, "sorry for the wait")
	h.pump(t)
	if n := len(h.graph.Sends()); n != 0 {
		t.Errorf("%d sends outside the window", n)
	}
	if d := h.message(t, late).Delivery; d == nil || d.Status != chat.DeliveryFailed || d.Error != chat.EWindowClosed {
		t.Errorf("delivery %+v, want failed window_closed", d)
	}

	// The tenant enables HUMAN_AGENT: the same late reply goes out tagged.
	h.connect(t, ten, meta.ChannelMessenger, "1001", true)
	if err := h.bridge.CanReply(context.Background(), cv, false); err != nil {
		t.Errorf("with HUMAN_AGENT after 25 hours: %v", err)
	}
	tagged := h.reply(t, in, "a person answers")
	h.pump(t)
	sends := h.graph.Sends()
	if len(sends) != 1 || sends[0].MessagingType != "MESSAGE_TAG" || sends[0].Tag != "HUMAN_AGENT" {
		t.Fatalf("sends %+v, want one MESSAGE_TAG HUMAN_AGENT", sends)
	}
	if d := h.message(t, tagged).Delivery; d == nil || d.Status != chat.DeliverySent {
		t.Errorf("tagged delivery %+v", d)
	}
	// A bot's message never goes out with HUMAN_AGENT.
	bot, _, err := h.st.PutMessage(context.Background(), &chat.Message{TenantID: ten.ID, ConversationID: in.ConversationID, ContactID: in.ContactID,
		Author: chat.Author{Kind: chat.AuthorBot, Name: "Bot"}, Text: "automated", Channel: meta.ChannelMessenger}, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	h.pump(t)
	if d := h.message(t, bot).Delivery; d == nil || d.Error != chat.EWindowClosed || len(h.graph.Sends()) != 1 {
		t.Errorf("a bot's message after 25 hours: %+v, %d sends; want window_closed and no send", d, len(h.graph.Sends()))
	}
	h.advance(7 * 24 * time.Hour)
	if err := h.bridge.CanReply(context.Background(), cv, false); chat.ErrorCode(err) != chat.EWindowClosed {
		t.Errorf("after 8 days with HUMAN_AGENT: %v, want window_closed", err)
	}
}

// WhatsApp outside the window takes only an approved template: a text reply
// is refused, a template is sent with its name, language and parameters.
func TestWhatsAppTemplateOutsideTheWindow(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelWhatsApp, "3003", false)
	in := h.inbound(t, ten, meta.ChannelWhatsApp, "3003", "15550002222")
	cv, _ := h.st.Conversation(context.Background(), ten.ID, in.ConversationID)
	h.advance(30 * time.Hour)
	if err := h.bridge.CanReply(context.Background(), cv, false); chat.ErrorCode(err) != chat.EWindowClosed || !strings.Contains(err.Error(), "template") {
		t.Errorf("text after the window: %v, want window_closed naming the template", err)
	}
	if err := h.bridge.CanReply(context.Background(), cv, true); err != nil {
		t.Errorf("template after the window: %v", err)
	}
	if w, _ := h.bridge.ReplyWindow(context.Background(), cv); w == nil || w.Open || !w.TemplateOnly {
		t.Errorf("window %+v, want closed, template only", w)
	}
	m, _, err := h.st.PutMessage(context.Background(), &chat.Message{TenantID: ten.ID, ConversationID: in.ConversationID, ContactID: in.ContactID,
		Author: chat.Author{Kind: chat.AuthorAgent, Name: "Eve"}, Text: "Template order_update (en_US)", Channel: meta.ChannelWhatsApp,
		Template: &chat.Template{Name: "order_update", Language: "en_US", Params: []string{"4521", "Friday"}}}, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	h.pump(t)
	sends := h.graph.Sends()
	if len(sends) != 1 || sends[0].Type != "template" || sends[0].Template != "order_update" || sends[0].Recipient != "15550002222" {
		t.Fatalf("sends %+v, want the template to 15550002222", sends)
	}
	tpl, _ := sends[0].Body["template"].(map[string]any)
	if lang, _ := tpl["language"].(map[string]any); lang["code"] != "en_US" || !strings.Contains(toJSON(tpl), "Friday") {
		t.Errorf("template body %v", tpl)
	}
	if d := h.message(t, m).Delivery; d == nil || d.Status != chat.DeliverySent {
		t.Errorf("delivery %+v", d)
	}
}

// WhatsApp's statuses update our message: delivered, then read; a late "sent"
// does not move it back; a failure (131047, the window closed) shows with
// its code. A status of a message we did not send changes nothing.
func TestWhatsAppStatuses(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelWhatsApp, "3003", false)
	in := h.inbound(t, ten, meta.ChannelWhatsApp, "3003", "15550003333")
	r := h.reply(t, in, "on its way")
	h.pump(t)
	wamid := h.graph.Sends()[0].ID
	status := func(s string, code int) {
		t.Helper()
		h.post(t, metafake.WhatsAppStatusPayload("3003", "15550003333", wamid, s, code))
	}
	status("delivered", 0)
	if d := h.message(t, r).Delivery; d.Status != chat.DeliveryDelivered {
		t.Errorf("after delivered: %+v", d)
	}
	status("read", 0)
	status("sent", 0)
	if d := h.message(t, r).Delivery; d.Status != chat.DeliveryRead {
		t.Errorf("after read and a late sent: %+v, want read", d)
	}
	r2 := h.reply(t, in, "one more")
	h.pump(t)
	status2 := metafake.WhatsAppStatusPayload("3003", "15550003333", h.graph.Sends()[1].ID, "failed", 131047)
	h.post(t, status2)
	if d := h.message(t, r2).Delivery; d.Status != chat.DeliveryFailed || d.Error != "131047" {
		t.Errorf("after failed 131047: %+v", d)
	}
	before := h.items(t)
	h.post(t, metafake.WhatsAppStatusPayload("3003", "15550003333", "wamid.not-ours", "read", 0))
	if after := h.items(t); after != before {
		t.Errorf("a status of another tool's message wrote: %d -> %d", before, after)
	}
}

// A 429 (or a 5xx) is retried, and a retry sends nothing twice: the failed
// delivery is parked, the retry run sends it once, and a second run sends
// nothing more. A message cut into parts resumes after the last part the
// provider took.
func TestRateLimitedSendIsRetriedWithoutDuplicates(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	in := h.inbound(t, ten, meta.ChannelMessenger, "1001", "psid-9")
	h.pump(t)
	h.graph.FailNext(1, 429, 4, 0)
	r := h.reply(t, in, "after the limit")
	h.pump(t) // the record succeeds: the delivery is parked
	if n := len(h.graph.Sends()); n != 0 {
		t.Fatalf("%d sends, want 0 after a 429", n)
	}
	if d := h.message(t, r).Delivery; d != nil && d.Status == chat.DeliverySent {
		t.Fatalf("a refused send shows sent")
	}
	ctx := context.Background()
	if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Delivered != 1 {
		t.Fatalf("retry run: %+v %v", sum, err)
	}
	if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Delivered != 0 {
		t.Fatalf("second retry run: %+v %v", sum, err)
	}
	if sends := h.graph.Sends(); len(sends) != 1 || sends[0].Text != "after the limit" {
		t.Errorf("sends %+v, want one", sends)
	}
	if d := h.message(t, r).Delivery; d == nil || d.Status != chat.DeliverySent {
		t.Errorf("delivery %+v, want sent", d)
	}

	// A long reply: the first part went out before the instance stopped.
	long := strings.Repeat("word ", 500) // 2,500 characters: two Messenger parts
	r2 := h.reply(t, in, long)
	parts := meta.Parts(meta.ChannelMessenger, long)
	if len(parts) != 2 {
		t.Fatalf("%d parts", len(parts))
	}
	if _, err := h.st.BeginChannelSend(ctx, r2, meta.ChannelMessenger, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if err := h.st.RecordSentPart(ctx, r2, meta.ChannelMessenger, 0, "m_sent_before", retention.Defaults); err != nil {
		t.Fatal(err)
	}
	h.pump(t)
	sends := h.graph.Sends()
	if len(sends) != 2 || sends[1].Text != parts[1] {
		t.Errorf("sends after resuming: %d, last %q; want only the second part", len(sends), sends[len(sends)-1].Text)
	}
}

// A refusal that a retry cannot mend marks the message failed with the
// provider's code, and a refused token (190) marks the integration broken.
// A reply in a conversation whose account was disconnected fails as
// not_connected. None of them is retried.
func TestPermanentFailures(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelInstagram, "4004", false)
	in := h.inbound(t, ten, meta.ChannelInstagram, "4004", "igsid-1")
	h.graph.FailNext(1, 400, 190, 0)
	r := h.reply(t, in, "hello")
	h.pump(t)
	if d := h.message(t, r).Delivery; d == nil || d.Status != chat.DeliveryFailed || d.Error != "190" {
		t.Errorf("delivery %+v, want failed 190", d)
	}
	ins, err := h.bridge.Integrations(context.Background(), ten.ID)
	if err != nil || len(ins) != 1 || !strings.Contains(ins[0].Broken, "190") {
		t.Errorf("integrations %+v %v, want instagram broken", ins, err)
	}
	if err := h.bridge.Disconnect(context.Background(), ten.ID, meta.ChannelInstagram); err != nil {
		t.Fatal(err)
	}
	r2 := h.reply(t, in, "anyone?")
	h.pump(t)
	if d := h.message(t, r2).Delivery; d == nil || d.Error != "not_connected" {
		t.Errorf("delivery %+v, want not_connected", d)
	}
	if sum, _ := h.Dispatch.Retry(context.Background()); sum.Delivered+sum.Failed != 0 {
		t.Errorf("retry run %+v: a permanent failure was parked", sum)
	}
	if n := len(h.graph.Sends()); n != 0 {
		t.Errorf("%d sends", n)
	}
	// Reconnecting to another tenant's account is a conflict.
	other := h.tenant(t)
	_, err = h.bridge.Connect(context.Background(), other, meta.ChannelInstagram, chat.ChannelConnect{AccountID: "4004", AccessToken: "EAAG" + strings.Repeat("x", 30)})
	if err != nil {
		t.Fatalf("a disconnected account is free: %v", err)
	}
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	_, err = h.bridge.Connect(context.Background(), other, meta.ChannelMessenger, chat.ChannelConnect{AccountID: "1001", AccessToken: "EAAG" + strings.Repeat("x", 30)})
	if chat.ErrorCode(err) != chat.EConflict {
		t.Errorf("another tenant's account: %v, want conflict", err)
	}
	var ce *chat.Error
	if _, err := h.bridge.Connect(context.Background(), ten, meta.ChannelWhatsApp, chat.ChannelConnect{AccountID: "abc", AccessToken: "short", HumanAgent: true}); !errors.As(err, &ce) || len(ce.Fields) != 3 {
		t.Errorf("bad input: %v, want three failing fields", err)
	}
}
