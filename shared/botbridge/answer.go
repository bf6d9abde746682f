package botbridge

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dialogflow"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Reasons a conversation goes to people (BotState.Reason, and the system
// note's wording).
const (
	ReasonBotHandoff = "bot_handoff"   // Dialogflow said so
	ReasonAsked      = "visitor_asked" // the visitor asked for a person
	ReasonBotFailed  = "bot_failed"    // Dialogflow failed, timed out or refused
	ReasonRevoked    = "bot_revoked"   // the refresh token was revoked
	ReasonAgent      = "agent_replied" // an agent answered
)

var notes = map[string]string{
	ReasonBotHandoff: "The bot handed this conversation to people.",
	ReasonAsked:      "The visitor asked for a person; the bot stopped answering.",
	ReasonBotFailed:  "The bot could not answer; the conversation is with people now.",
	ReasonRevoked:    "Dialogflow's access was revoked; the conversation is with people now (connect Dialogflow again).",
}

// AskTimeout bounds one detectIntent (dispatch gives a stream attempt 5 s).
const AskTimeout = 4 * time.Second

// errPending: another instance is asking the bot about the message now.
var errPending = errors.New("the bot is being asked about this message")

// StaleQuery is how long after a visitor's message was asked of the bot
// an unanswered claim is taken for a failure (the instance that asked
// stopped): a redelivery then hands the conversation to people instead of
// asking again.
const StaleQuery = 30 * time.Second

// Channel is Destination (dispatch).
func (b *Bridge) Channel() string { return Destination }

// Wants takes visitors' messages (the bot may answer them) and agents'
// (an agent's reply ends the bot's turn).
func (b *Bridge) Wants(m *chat.Message) bool {
	return m.Author.Kind == chat.AuthorVisitor || m.Author.Kind == chat.AuthorAgent
}

// Deliver lets the tenant's bot answer a visitor's message, or records that
// an agent took the conversation over. A tenant without a bot costs no read
// (its integration is kept a minute per instance). It returns an error only
// for the store's failures (dispatch retries the message, and the claim
// keeps Dialogflow from being asked twice); Dialogflow's failures hand the
// conversation to people, with a note.
func (b *Bridge) Deliver(ctx context.Context, m *chat.Message) error {
	if !b.Wants(m) {
		return nil
	}
	in, err := b.has.Integration(ctx, m.TenantID, b.now())
	if err != nil || in == nil {
		return err
	}
	settings, channels, phrases := settingsOf(in)
	if !slices.Contains(channels, m.Channel) {
		return nil
	}
	periods, err := b.tenants.Periods(ctx, m.TenantID)
	if err != nil {
		return err
	}
	if m.Author.Kind == chat.AuthorAgent {
		_, err := b.Store.HandToPeople(ctx, m.TenantID, m.ConversationID, ReasonAgent, m.CreatedAt, periods)
		return err
	}
	st, err := b.Store.BotState(ctx, m.TenantID, m.ConversationID)
	if err != nil || st.People {
		return err
	}
	if asksForPerson(m.Text, phrases) {
		return b.toPeople(ctx, m, ReasonAsked, periods)
	}
	if in.Broken != "" {
		return b.toPeople(ctx, m, ReasonRevoked, periods)
	}
	claimed, state, at, err := b.Store.ClaimBotQuery(ctx, m.TenantID, m.ConversationID, m.ID, b.now(), periods)
	if err != nil {
		return err
	}
	if !claimed {
		switch {
		case state != store.BotAsked:
			return nil // answered
		case b.now().Sub(at) > StaleQuery:
			return b.toPeople(ctx, m, ReasonBotFailed, periods) // the asking instance stopped: never ask twice
		}
		return errPending // being answered: look again later (dispatch parks it)
	}
	text := strings.TrimSpace(m.Text)
	if text == "" {
		return b.Store.AnswerBotQuery(ctx, m.TenantID, m.ConversationID, m.ID) // a file alone: nothing to ask
	}
	ts, err := b.tokenSource(ctx, in)
	if err != nil {
		return err
	}
	askCtx, cancel := context.WithTimeout(ctx, AskTimeout)
	res, err := b.Dialogflow.DetectIntent(askCtx, ts, settings, dialogflow.SessionID(m.ConversationID), channel.Truncate(text, 256), m.Channel)
	cancel()
	if err != nil {
		// The attempt's own time may be spent: the handoff gets its own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return b.failed(ctx, m, in, err, periods)
	}
	for i, t := range res.Texts {
		reply := &chat.Message{TenantID: m.TenantID, ConversationID: m.ConversationID, ContactID: m.ContactID, Channel: m.Channel,
			Author: chat.Author{Kind: chat.AuthorBot, Name: "Bot"}, Text: t, ClientMessageID: "bot:" + m.ID + ":" + strconv.Itoa(i)}
		if err := b.store(ctx, reply, periods); err != nil {
			return err
		}
	}
	if err := b.Store.AnswerBotQuery(ctx, m.TenantID, m.ConversationID, m.ID); err != nil {
		return err
	}
	if res.Handoff {
		return b.toPeople(ctx, m, ReasonBotHandoff, periods)
	}
	return nil
}

// failed hands the conversation to people after Dialogflow failed; a
// revoked refresh token also marks the integration broken.
func (b *Bridge) failed(ctx context.Context, m *chat.Message, in *chat.ChannelIntegration, err error, periods retention.Periods) error {
	reason := ReasonBotFailed
	if errors.Is(err, dialogflow.ErrAuth) {
		b.forget(m.TenantID) // the next message gets a fresh access token
	}
	if errors.Is(err, dialogflow.ErrRevoked) {
		reason = ReasonRevoked
		if err := b.Store.MarkChannelIntegrationBroken(ctx, m.TenantID, Channel, "token_revoked"); err != nil {
			return err
		}
		b.forget(m.TenantID)
	}
	b.Log.WarnContext(ctx, "the bot did not answer; the conversation goes to people", "tenantId", m.TenantID,
		"conversationId", m.ConversationID, "messageId", m.ID, "error", err.Error())
	return b.toPeople(ctx, m, reason, periods)
}

// toPeople hands the conversation to people, with a system note the first
// time (the inbox shows it; the Slack thread gets it).
func (b *Bridge) toPeople(ctx context.Context, m *chat.Message, reason string, periods retention.Periods) error {
	first, err := b.Store.HandToPeople(ctx, m.TenantID, m.ConversationID, reason, b.now(), periods)
	if err != nil || !first {
		return err
	}
	note := &chat.Message{TenantID: m.TenantID, ConversationID: m.ConversationID, ContactID: m.ContactID, Channel: m.Channel,
		Author: chat.Author{Kind: chat.AuthorSystem}, Text: notes[reason], ClientMessageID: "bot-handoff:" + m.ConversationID}
	return b.store(ctx, note, periods)
}

// store stores a message of the bot (once, by its client message id) and
// moves the conversation's activity.
func (b *Bridge) store(ctx context.Context, m *chat.Message, periods retention.Periods) error {
	m, created, err := b.Store.PutMessage(ctx, m, periods)
	if err != nil || !created {
		return err
	}
	_, err = b.Store.TouchConversation(ctx, m.TenantID, m.ConversationID, m.CreatedAt, m.KeepUntil, store.InboxStep)
	return err
}

// asksForPerson reports whether a visitor's message is one of the handoff
// phrases (DefaultPhrases and the tenant's), ignoring case, spaces and
// punctuation around it.
func asksForPerson(text string, phrases []string) bool {
	t := strings.ToLower(strings.TrimFunc(text, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }))
	return t != "" && (slices.Contains(DefaultPhrases, t) || slices.Contains(phrases, t))
}

// tokenSource is the tenant's access tokens, in memory only: the refresh
// token is decrypted once per ciphertext and instance, and oauth2 refreshes
// the access token before it expires.
func (b *Bridge) tokenSource(ctx context.Context, in *chat.ChannelIntegration) (oauth2.TokenSource, error) {
	b.mu.Lock()
	s, ok := b.sources[in.TenantID]
	b.mu.Unlock()
	if ok && s.blob == string(in.TokenEncrypted) {
		return s.ts, nil
	}
	clientSecret, err := b.secret()
	if err != nil {
		return nil, err
	}
	refresh, err := b.creds.Get(ctx, in.TenantID, in.TokenEncrypted, b.now(), func(ctx context.Context) (string, error) {
		return b.Cipher.Decrypt(ctx, in.TenantID, in.TokenEncrypted)
	})
	if err != nil {
		return nil, err
	}
	cfg := dialogflow.OAuthConfig(b.Config.ClientID, clientSecret, "", b.Config.Endpoint)
	ts := dialogflow.TokenSource(context.Background(), cfg, refresh) // lives beyond this request
	b.mu.Lock()
	b.sources[in.TenantID] = source{blob: string(in.TokenEncrypted), ts: ts}
	b.mu.Unlock()
	return ts, nil
}
