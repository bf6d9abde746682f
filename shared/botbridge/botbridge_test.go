package botbridge_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/privacytest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dialogflow"
)

// The install keeps the refresh token alone, encrypted, and the settings:
// the integration item has no other attribute, no item of the table, no log
// line and no listing holds the token in plain form. The state is single
// use, bound to the browser, and expires.
func TestInstall_KeepsOnlyTheRefreshTokenAndSettings(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	req := h.consent(t, ten.ID, settings("cx"))
	noCookie := req
	noCookie.Cookies = nil
	if res, _ := h.bridge.HandleOAuth(ctx, noCookie); res.StatusCode != http.StatusBadRequest {
		t.Errorf("another browser: %d", res.StatusCode)
	}
	res, err := h.bridge.HandleOAuth(ctx, req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d %s", res.StatusCode, res.Body)
	}
	if res, _ := h.bridge.HandleOAuth(ctx, req); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "already used") {
		t.Errorf("a replayed state: %d %s", res.StatusCode, res.Body)
	}
	late := h.consent(t, ten.ID, settings("es"))
	if res, _ := h.bridge.WithClock(func() time.Time { return time.Now().Add(11 * time.Minute) }).HandleOAuth(ctx, late); res.StatusCode != http.StatusBadRequest {
		t.Errorf("an expired state: %d", res.StatusCode)
	}
	in, err := h.st.ChannelIntegration(ctx, ten.ID, botbridge.Channel)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"edition": "cx", "project": "acme-support-bot", "location": "europe-west1",
		"agent": "0b3a6c57-6e4b-4a4f-9d55-3f1f0c1d2e3f", "language": "en", "channels": "widget,telegram"}
	if !maps.Equal(in.Settings, want) {
		t.Errorf("settings %v, want %v", in.Settings, want)
	}
	rt := h.refreshToken(t, in)
	if !strings.HasPrefix(rt, "1//") && len(rt) < 20 {
		t.Fatalf("refresh token %q", rt)
	}
	allowed := []string{"PK", "SK", "GSI2PK", "GSI2SK", "dataClass", "entity", "expiresAt", "tenantId", "channel", "accountId",
		"tokenEncrypted", "installedAt", "settings"}
	for _, it := range h.items(t) {
		raw, _ := json.Marshal(it)
		if strings.Contains(string(raw), rt) {
			t.Errorf("an item holds the refresh token: %s", raw)
		}
		if it["entity"] != nil && strings.Contains(string(raw), `"channelIntegration"`) {
			for name := range it {
				if !slices.Contains(allowed, name) {
					t.Errorf("the integration keeps %q", name)
				}
			}
		}
	}
	list, _ := h.bridge.Integrations(ctx, ten.ID)
	view, _ := json.Marshal(list)
	if strings.Contains(string(view), rt) || strings.Contains(h.logs.String(), rt) || strings.Contains(res.Body, rt) {
		t.Error("the refresh token shows in a listing, a log line or the answer")
	}
}

// For ES and CX: a visitor's question is answered by the bot in the widget
// (one detectIntent, with a token the fake issued, in the conversation's
// session); a redelivery of the message asks nothing more; Dialogflow's
// handoff hands the conversation to people (a system note) and the bot
// stops; only the channel's messages are kept.
func TestBot_AnswersOnceAndHandsOff(t *testing.T) {
	for _, edition := range []string{"es", "cx"} {
		t.Run(edition, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			ten := h.tenant(t)
			h.install(t, ten, edition)
			v := h.visitor(t, ten)
			q := v.say(t, "When are you open?")
			if got := v.pushed(t, chat.AuthorBot); len(got) != 1 || got[0] != "Bot: When are you open?" {
				t.Fatalf("the widget got bot messages %q", got)
			}
			session := dialogflow.SessionID(q.ConversationID)
			calls := h.gf.Calls()
			if len(calls) != 1 || calls[0].Session != session || calls[0].Edition != edition || calls[0].Token == "" || calls[0].Status != http.StatusOK {
				t.Fatalf("calls %+v", calls)
			}
			if edition == "cx" && (calls[0].Location != "europe-west1" || calls[0].Channel != "widget") {
				t.Errorf("CX call %+v", calls[0])
			}
			if err := h.bridge.Deliver(ctx, q); err != nil { // a redelivered stream record
				t.Fatal(err)
			}
			h.pump(t)
			if n := h.gf.CallsFor(session); n != 1 {
				t.Fatalf("%d detectIntent calls after a redelivery, want 1", n)
			}
			v.say(t, "please handoff")
			v.say(t, "hello?")
			if n := h.gf.CallsFor(session); n != 2 {
				t.Errorf("%d calls: the bot answered after handing off", n)
			}
			st, _ := h.st.BotState(ctx, ten.ID, q.ConversationID)
			if !st.People || st.Reason != botbridge.ReasonBotHandoff {
				t.Errorf("state %+v", st)
			}
			if notes := v.pushed(t, chat.AuthorSystem); len(notes) != 1 || !strings.Contains(notes[0], "handed this conversation to people") {
				t.Errorf("notes %q", notes)
			}
			if bot := v.pushed(t, chat.AuthorBot); len(bot) != 2 || bot[1] != "Connecting you to a person." {
				t.Errorf("bot messages %q", bot)
			}
		})
	}
}

// A visitor asking for a person ("Human!", or the tenant's phrase, but not
// a longer message containing it) hands off without asking Dialogflow; an
// agent's reply ends the bot's turn too.
func TestBot_VisitorOrAgentTakesOver(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	h.install(t, ten, "es")
	v := h.visitor(t, ten)
	m := v.say(t, "Human!")
	if n := len(h.gf.Calls()); n != 0 {
		t.Errorf("%d calls for a request of a person", n)
	}
	if st, _ := h.st.BotState(ctx, ten.ID, m.ConversationID); !st.People || st.Reason != botbridge.ReasonAsked {
		t.Errorf("state %+v", st)
	}
	// The tenant's own phrase (installed with phrases=operator).
	phr := h.tenant(t)
	q := settings("es")
	q.Set("project", "bot-"+phr.ID[len(phr.ID)-20:])
	q.Set("phrases", "Operator, real person")
	if res, _ := h.bridge.HandleOAuth(ctx, h.consent(t, phr.ID, q)); res.StatusCode != http.StatusOK {
		t.Fatalf("install: %d %s", res.StatusCode, res.Body)
	}
	p := h.visitor(t, phr)
	pm := p.say(t, "Real person, please?")
	if st, _ := h.st.BotState(ctx, phr.ID, pm.ConversationID); st.People {
		t.Errorf("a message that only contains a phrase handed off: %+v", st)
	}
	calls := len(h.gf.Calls())
	p.say(t, "operator!")
	if st, _ := h.st.BotState(ctx, phr.ID, pm.ConversationID); !st.People || st.Reason != botbridge.ReasonAsked || len(h.gf.Calls()) != calls {
		t.Errorf("the tenant's phrase: state %+v, %d calls (was %d)", st, len(h.gf.Calls()), calls)
	}
	other := h.tenant(t)
	h.install(t, other, "es")
	w := h.visitor(t, other)
	first := w.say(t, "hi")
	if _, _, err := h.st.PutMessage(ctx, &chat.Message{TenantID: other.ID, ConversationID: first.ConversationID, ContactID: first.ContactID,
		Channel: "widget", Author: chat.Author{Kind: chat.AuthorAgent, Name: "Eve"}, Text: "I'm here"}, other.Periods()); err != nil {
		t.Fatal(err)
	}
	h.pump(t)
	w.say(t, "thanks")
	if n := h.gf.CallsFor(dialogflow.SessionID(first.ConversationID)); n != 1 {
		t.Errorf("%d calls: the bot answered after an agent did", n)
	}
}

// Dialogflow failing (a 500, a timeout, a quota refusal) loses nothing:
// the visitor's message is stored and reaches the conversation, the
// conversation goes to people with a note, and the bot is not asked again.
func TestBot_FailureGoesToPeople(t *testing.T) {
	for _, text := range []string{"fail", "slow", "quota"} {
		t.Run(text, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			ten := h.tenant(t)
			h.install(t, ten, "cx")
			v := h.visitor(t, ten)
			start := time.Now()
			m := v.say(t, "please "+text)
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
			st, _ := h.st.BotState(ctx, ten.ID, m.ConversationID)
			if !st.People || st.Reason != botbridge.ReasonBotFailed {
				t.Errorf("state %+v", st)
			}
			if notes := v.pushed(t, chat.AuthorSystem); len(notes) != 1 {
				t.Errorf("notes %q", notes)
			}
			v.say(t, "anyone?")
			if n := h.gf.CallsFor(dialogflow.SessionID(m.ConversationID)); n != 1 {
				t.Errorf("%d calls", n)
			}
			if msgs := h.conversationMessages(t, ten.ID); msgs[0].Text != "please "+text || msgs[0].Author.Kind != chat.AuthorVisitor {
				t.Errorf("the visitor's message: %+v", msgs[0])
			}
		})
	}
}

// A refresh token the owner revoked marks the integration broken (the
// listing says so) and sends the conversation to people; conversations
// after it go to people at once, without a call.
func TestBot_RevokedTokenSendsConversationsToPeople(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	in := h.install(t, ten, "es")
	h.gf.Revoke(h.refreshToken(t, in))
	v := h.visitor(t, ten)
	m := v.say(t, "hello")
	if st, _ := h.st.BotState(ctx, ten.ID, m.ConversationID); !st.People || st.Reason != botbridge.ReasonRevoked {
		t.Errorf("state %+v", st)
	}
	list, _ := h.bridge.Integrations(ctx, ten.ID)
	if len(list) != 1 || list[0].Broken == "" {
		t.Fatalf("integrations %+v, want broken", list)
	}
	calls := len(h.gf.Calls())
	w := h.visitor(t, ten)
	n := w.say(t, "a new conversation")
	if st, _ := h.st.BotState(ctx, ten.ID, n.ConversationID); !st.People || len(h.gf.Calls()) != calls {
		t.Errorf("a later conversation: state %+v, %d calls (was %d)", st, len(h.gf.Calls()), calls)
	}
}

// The bot answers only on the channels it is enabled for, and a tenant
// without a bot costs its visitors' messages nothing.
func TestBot_OnlyEnabledChannels(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	h.install(t, ten, "es")
	m := &chat.Message{ID: "m" + strings.Repeat("1", 26), TenantID: ten.ID, ConversationID: "cv" + strings.Repeat("2", 26),
		Channel: "viber", Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "hi"}
	if err := h.bridge.Deliver(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n := len(h.gf.Calls()); n != 0 {
		t.Errorf("%d calls for a channel the bot does not answer", n)
	}
}

// The bot's records of a conversation (who answers it, the claims of the
// messages it was asked) and its answers go with the contact's erasure.
func TestBot_RecordsErasedWithTheContact(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	h.install(t, ten, "cx")
	v := h.visitor(t, ten)
	m := v.say(t, "hello")
	v.say(t, "human")
	bucket := testaws.NewBucket(t)
	doc := privacytest.Export(t, h.st, bucket, nil, ten.ID, m.ContactID)
	kinds := map[string]bool{}
	for _, p := range doc.Parts {
		kinds[p.Entity] = true
	}
	if !kinds["botState"] || !kinds["botQuery"] {
		t.Errorf("export entities %v: want the bot's records", kinds)
	}
	privacytest.Erase(t, h.st, bucket, ten.ID, m.ContactID)
	if st, _ := h.st.BotState(ctx, ten.ID, m.ConversationID); st.People {
		t.Error("the bot state outlived the erasure")
	}
	left, err := h.st.SubjectHoldings(ctx, ten.ID, []string{m.ContactID}, false)
	if err != nil || len(left.ExportRows()) != 0 {
		t.Errorf("items left after erasure: %d %v", len(left.ExportRows()), err)
	}
}
