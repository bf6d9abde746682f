package metabridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/metabridge"
)

// The handshake answers the challenge only for the configured verify token.
func TestHandshake(t *testing.T) {
	h := newHarness(t)
	get := func(q map[string]string) (int, string) {
		req := request(nil, appSecret)
		req.RequestContext.HTTP.Method, req.Body, req.QueryStringParameters = http.MethodGet, "", q
		res := h.do(t, req)
		return res.StatusCode, res.Body
	}
	if code, body := get(map[string]string{"hub.mode": "subscribe", "hub.verify_token": verifyToken, "hub.challenge": "1158201444"}); code != 200 || body != "1158201444" {
		t.Errorf("right token: %d %q, want 200 and the challenge", code, body)
	}
	for _, q := range []map[string]string{
		{"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
		{"hub.mode": "unsubscribe", "hub.verify_token": verifyToken, "hub.challenge": "1"},
		{"hub.challenge": "1"},
	} {
		if code, body := get(q); code != http.StatusForbidden || strings.Contains(body, "\"1\"") {
			t.Errorf("%v: %d %s, want 403", q, code, body)
		}
	}
}

// A request whose signature fails (wrong secret, none, a body changed after
// signing) is 401 and writes nothing; a signed body that is not a Meta
// webhook is 400 and writes nothing.
func TestSignatureFailuresWriteNothing(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	body := metafake.MessengerPayload("1001", "psid-1", mid(), "hello")
	before := h.items(t)
	wrong := request(body, appSecret+"x")
	none := request(body, appSecret)
	delete(none.Headers, "x-hub-signature-256")
	changed := request(body, appSecret)
	changed.Body = strings.Replace(changed.Body, "hello", "hellO", 1)
	for name, req := range map[string]events.APIGatewayV2HTTPRequest{"wrong secret": wrong, "no signature": none, "changed body": changed} {
		if res := h.do(t, req); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, res.StatusCode, res.Body)
		}
	}
	for _, body := range [][]byte{[]byte(`{"object":"user","entry":[]}`), []byte(`not json`), []byte(`[]`)} {
		if res := h.do(t, request(body, appSecret)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("signed %s: %d %s, want 400", body, res.StatusCode, res.Body)
		}
	}
	if after := h.items(t); after != before {
		t.Errorf("items %d -> %d: a refused request wrote", before, after)
	}
}

// Every element of a batch is stored: two pages' entries, each with two
// messaging items, are four messages, each in its sender's conversation on
// the channel, from a contact with the channel identity; an echo of our own
// send in the same batch is dropped, and so is an account no tenant connected.
func TestBatchedEntriesAreAllStoredAndEchoesDropped(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	other := h.tenant(t)
	h.connect(t, other, meta.ChannelMessenger, "2002", false)
	body := batch(map[string][][3]string{
		"1001": {{mid(), "psid-a", "a1"}, {mid(), "psid-b", "b1"}},
		"2002": {{mid(), "psid-c", "c1"}, {mid(), "psid-c", "c2"}},
		"9999": {{mid(), "psid-x", "nobody's"}},
	})
	var v map[string]any
	_ = json.Unmarshal(body, &v)
	entry := v["entry"].([]any)[0].(map[string]any)
	entry["messaging"] = append(entry["messaging"].([]any), map[string]any{"sender": map[string]string{"id": "1001"},
		"recipient": map[string]string{"id": "psid-a"}, "timestamp": 1, "message": map[string]any{"mid": mid(), "text": "our own", "is_echo": true, "app_id": 42}})
	body, _ = json.Marshal(v)
	h.post(t, body)

	texts := func(tenantID string) map[string]string {
		out := map[string]string{}
		for _, m := range h.messages(t, tenantID) {
			if m.Channel != meta.ChannelMessenger || m.Author.Kind != chat.AuthorVisitor {
				t.Errorf("message %+v: want a visitor message on messenger", m)
			}
			out[m.Text] = m.ContactID
		}
		return out
	}
	a, c := texts(ten.ID), texts(other.ID)
	if len(a) != 2 || a["a1"] == "" || a["b1"] == "" || a["a1"] == a["b1"] {
		t.Errorf("tenant 1 stored %v: want a1 and b1 from two contacts", a)
	}
	if len(c) != 2 || c["c1"] == "" || c["c1"] != c["c2"] {
		t.Errorf("tenant 2 stored %v: want c1 and c2 from one contact", c)
	}
	u, err := h.st.ContactChannelUser(context.Background(), ten.ID, a["a1"], meta.ChannelMessenger)
	if err != nil || u.Account != "1001" || u.UserID != "psid-a" {
		t.Errorf("contact's channel user: %+v %v", u, err)
	}
	if cvs := h.conversations(t, other.ID); len(cvs) != 1 || cvs[0].Channel != meta.ChannelMessenger {
		t.Errorf("conversations of psid-c: %+v, want one on messenger", cvs)
	}
}

// A redelivered message (the same mid) is stored once, also when it comes
// after its conversation was closed: it goes to the conversation it was
// stored in, and no new one is opened. The endpoint answers 200 each time.
func TestRedeliveryStoresOnce(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelWhatsApp, "3003", false)
	body := metafake.WhatsAppPayload("3003", "15550001111", "Ana", "wamid."+mid(), "hola")
	h.post(t, body)
	h.post(t, body)
	m := h.only(t, ten.ID)
	if m.Author.Name != "Ana" || m.Channel != meta.ChannelWhatsApp {
		t.Errorf("stored %+v: want Ana's message on whatsapp", m)
	}
	if _, err := h.st.SetConversationStatus(context.Background(), ten.ID, m.ConversationID, chat.StatusClosed, 1); err != nil {
		t.Fatal(err)
	}
	h.post(t, body)
	h.only(t, ten.ID)
	if cvs := h.conversations(t, ten.ID); len(cvs) != 1 {
		t.Errorf("%d conversations after a redelivery to a closed one, want 1", len(cvs))
	}
	// A new message of the same person opens a new conversation.
	h.post(t, metafake.WhatsAppPayload("3003", "15550001111", "Ana", "wamid."+mid(), "otra vez"))
	if cvs := h.conversations(t, ten.ID); len(cvs) != 2 {
		t.Errorf("%d conversations after a new message, want 2", len(cvs))
	}
}

// Redeliveries and first messages race in parallel instances: eight
// deliveries of the same first message at once store one message from one
// contact.
func TestConcurrentRedeliveriesStoreOneMessageOfOneContact(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	body := metafake.MessengerPayload("1001", "psid-race", mid(), "first")
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i] = h.do(t, request(body, appSecret)).StatusCode })
	}
	wg.Wait()
	m := h.only(t, ten.ID)
	for _, code := range codes {
		if code != http.StatusOK && code != http.StatusInternalServerError {
			t.Errorf("answers %v", codes)
		}
	}
	// Whatever failed for a conflict is sent again by Meta: still one.
	h.post(t, body)
	if again := h.only(t, ten.ID); again.ID != m.ID {
		t.Errorf("redelivery stored %s, want %s", again.ID, m.ID)
	}
	u, err := h.st.ChannelUser(context.Background(), ten.ID, meta.ChannelMessenger, "1001", "psid-race")
	if err != nil || u.ContactID != m.ContactID {
		t.Errorf("channel user %+v %v: want the message's contact %s", u, err, m.ContactID)
	}
}

// An identity erased at the person's request is refused at ingest (nothing
// stored, 200 to Meta), unless the tenant lets it come back as a new contact.
func TestErasedIdentityIsRefused(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelInstagram, "4004", false)
	ext := chat.ChannelUser{Account: "4004", UserID: "igsid-gone"}.ExternalID()
	if err := h.st.Suppress(context.Background(), ten.ID, chat.SuppressChannel, chat.ChannelIdentity(meta.ChannelInstagram, ext), "r1"); err != nil {
		t.Fatal(err)
	}
	before := h.items(t)
	h.post(t, metafake.InstagramPayload("4004", "igsid-gone", mid(), "back again"))
	if after := h.items(t); after != before {
		t.Errorf("items %d -> %d: an erased identity was stored", before, after)
	}
	if !strings.Contains(h.logs.String(), "erased identity dropped") || strings.Contains(h.logs.String(), "back again") {
		t.Errorf("log: want the drop, without the text: %s", h.logs.String())
	}
	if _, err := h.st.SetReingestAfterErasure(context.Background(), ten.ID, "new_contact"); err != nil {
		t.Fatal(err)
	}
	h.bridge = h.bridge.WithClock(h.clock) // a fresh tenant cache
	h.post(t, metafake.InstagramPayload("4004", "igsid-gone", mid(), "back again"))
	if m := h.only(t, ten.ID); m.Text != "back again" {
		t.Errorf("with new_contact: %+v", m)
	}
}

// A message's text never reaches the logs, nor does a token or the secret.
func TestLogsHoldNoTextOrSecrets(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	token := h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	h.post(t, metafake.MessengerPayload("1001", "psid-1", mid(), "my secret plan"))
	h.do(t, request(metafake.MessengerPayload("1001", "psid-1", mid(), "forged text"), "wrong"))
	logs := h.logs.String()
	for _, s := range []string{"my secret plan", "forged text", token, appSecret} {
		if strings.Contains(logs, s) {
			t.Errorf("logs hold %q: %s", s, logs)
		}
	}
	_ = metabridge.WebhookPath
}

// The channel seam's inbound contract, through the real webhook and store:
// signed messages are stored, forged, changed and unsigned ones are not, a
// redelivery stores one message, a signed body that is not Meta's stores
// nothing.
func TestInboundContract_ThroughTheWebhook(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	channeltest.RunInbound(t, channeltest.Inbound{
		Adapter: meta.Inbound{}, Channel: meta.ChannelMessenger, Secret: appSecret,
		Sign: func(_ testing.TB, body []byte, secret string) channel.Request {
			r := request(body, secret)
			return channel.Request{Method: http.MethodPost, Headers: r.Headers, Body: body}
		},
		Message:   func(id, text string) []byte { return metafake.MessengerPayload("1001", "psid-contract", "m_"+id, text) },
		Malformed: []byte(`{"object":"user","entry":[]}`),
		Deliver: func(t testing.TB, req channel.Request) {
			r := request(req.Body, appSecret)
			r.Headers = req.Headers
			h.do(t, r)
		},
		Stored: func(t testing.TB) int { return len(h.messages(t, ten.ID)) },
	})
}
