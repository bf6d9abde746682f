package slackbridge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/slack-go/slack"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Wants reports whether Deliver would take m: visitor, bot and system
// messages (the bot's handoff notes) (dispatch.Selective), so dispatch never
// parks agent messages for Slack.
func (b *Bridge) Wants(m *chat.Message) bool {
	return m.Author.Kind == chat.AuthorVisitor || m.Author.Kind == chat.AuthorBot || m.Author.Kind == chat.AuthorSystem
}

// Deliver mirrors a visitor or bot message to the tenant's Slack channel (it is
// a dispatch.Deliverer and runs in dispatch, never in the request that received
// the message). The first message of a conversation opens a thread (visitor
// name, channel, console link); every message then goes into that thread
// (system notes in italics). Agent messages are not echoed; tenants without
// Slack are skipped.
//
// A failure, such as a 429 from Slack (*slack.RateLimitedError, with its
// RetryAfter), is returned: dispatch parks the delivery and its retry run
// tries again (Slack is an outbound destination, never retried by the stream).
// Retries do not duplicate: the thread is recorded under a condition
// and reused, and each posted message is recorded per message id before
// Deliver reports success.
func (b *Bridge) Deliver(ctx context.Context, m *chat.Message) error {
	if !b.Wants(m) {
		return nil
	}
	in, api, err := b.client(ctx, m.TenantID)
	if errors.Is(err, errNotInstalled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("slack deliver %s: %w", m.ID, err)
	}
	if rec, err := b.st.SlackPost(ctx, m.TenantID, m.ConversationID, m.ID); err == nil && rec.TS != "" {
		return nil // posted by an earlier attempt
	} else if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return fmt.Errorf("slack deliver %s: %w", m.ID, err)
	}
	p, err := b.tenants.Periods(ctx, m.TenantID)
	if err != nil {
		return fmt.Errorf("slack deliver %s: %w", m.ID, err)
	}
	if stale(in.ExpiresAt, b.now(), p) {
		if err := b.st.TouchSlackIntegration(ctx, in, b.now(), p); err != nil {
			return fmt.Errorf("slack deliver %s: %w", m.ID, err)
		}
	}
	th, err := b.st.SlackThread(ctx, m.TenantID, m.ConversationID)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return fmt.Errorf("slack deliver %s: %w", m.ID, err)
	}
	if th == nil || th.TeamID != in.TeamID || th.ChannelID != in.ChannelID {
		if th, err = b.openThread(ctx, api, in, m, p); err != nil {
			return fmt.Errorf("slack open thread of %s: %w", m.ConversationID, err)
		}
	}
	// The post is recorded before it is made: a retry that finds the record
	// without a ts (the earlier attempt failed after Slack may have taken the
	// post, e.g. its answer was lost) looks for the message in the thread by the
	// message id it carries in its metadata before posting again.
	rec, begun, err := b.st.BeginSlackPost(ctx, m.TenantID, m.ConversationID,
		&chat.SlackPost{MessageID: m.ID, ContactID: m.ContactID, ChannelID: th.ChannelID, ThreadTS: th.ThreadTS}, m.CreatedAt, p)
	if err != nil {
		return fmt.Errorf("slack record post %s: %w", m.ID, err)
	}
	if !begun {
		if rec.TS != "" {
			return nil
		}
		if rec.ChannelID != "" && rec.ThreadTS != "" {
			ts, err := findPosted(ctx, api, rec.ChannelID, rec.ThreadTS, m.ID)
			if err != nil {
				return fmt.Errorf("slack find post %s: %w", m.ID, err)
			}
			if ts != "" {
				_, err := b.st.FinishSlackPost(ctx, m.TenantID, m.ConversationID, m.ID, ts)
				return wrapErr("slack record post "+m.ID, err)
			}
		}
	}
	_, ts, err := api.PostMessageContext(ctx, th.ChannelID,
		slack.MsgOptionText(b.messageText(ctx, m), false), slack.MsgOptionTS(th.ThreadTS),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataEvent, EventPayload: map[string]any{"messageId": m.ID}}))
	if err != nil {
		return fmt.Errorf("slack post %s: %w", m.ID, err)
	}
	ok, err := b.st.FinishSlackPost(ctx, m.TenantID, m.ConversationID, m.ID, ts)
	if err != nil {
		return fmt.Errorf("slack record post %s: %w", m.ID, err)
	}
	if !ok { // a concurrent attempt posted it first: take ours back
		if _, _, err := api.DeleteMessageContext(ctx, th.ChannelID, ts); err != nil {
			b.log.WarnContext(ctx, "slack duplicate not deleted", "tenantId", m.TenantID, "messageId", m.ID, "error", err.Error())
		}
	}
	return nil
}

// metadataEvent is the event type of the metadata our posts carry.
const metadataEvent = "livesupportbot_message"

// findPosted returns the ts of the message of our bot in a thread that carries
// messageID in its metadata, or "" (conversations.replies).
func findPosted(ctx context.Context, api *slack.Client, channelID, threadTS, messageID string) (string, error) {
	params := &slack.GetConversationRepliesParameters{ChannelID: channelID, Timestamp: threadTS, IncludeAllMetadata: true, Limit: 200}
	for {
		msgs, more, cursor, err := api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return "", err
		}
		for _, msg := range msgs {
			if msg.Metadata.EventType == metadataEvent && fmt.Sprint(msg.Metadata.EventPayload["messageId"]) == messageID {
				return msg.Timestamp, nil
			}
		}
		if !more || cursor == "" {
			return "", nil
		}
		params.Cursor = cursor
	}
}

func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// openThread posts the thread header of a conversation and records the thread.
// If another attempt recorded one first, its thread is used and our header
// deleted.
func (b *Bridge) openThread(ctx context.Context, api *slack.Client, in *chat.SlackIntegration, m *chat.Message, p retention.Periods) (*chat.SlackThread, error) {
	_, ts, err := api.PostMessageContext(ctx, in.ChannelID, slack.MsgOptionText(b.headerText(ctx, m), false))
	if err != nil {
		return nil, err
	}
	th := &chat.SlackThread{TenantID: m.TenantID, ConversationID: m.ConversationID, ContactID: m.ContactID,
		Channel: m.Channel, TeamID: in.TeamID, ChannelID: in.ChannelID, ThreadTS: ts}
	won, created, err := b.st.PutSlackThread(ctx, th, m.CreatedAt, p)
	if err != nil {
		return nil, err
	}
	if !created {
		if _, _, err := api.DeleteMessageContext(ctx, in.ChannelID, ts); err != nil {
			b.log.WarnContext(ctx, "slack duplicate header not deleted", "tenantId", m.TenantID, "error", err.Error())
		}
	}
	return won, nil
}

// visitorName is the contact's name, or "Visitor".
func (b *Bridge) visitorName(ctx context.Context, m *chat.Message) string {
	c, err := b.st.Contact(ctx, m.TenantID, m.ContactID)
	if err != nil {
		return "Visitor"
	}
	return c.DisplayName()
}

// headerText is the thread's first post: who, on which channel and page, and
// the console link.
func (b *Bridge) headerText(ctx context.Context, m *chat.Message) string {
	s := ":speech_balloon: New conversation with *" + toMrkdwn(b.visitorName(ctx, m)) + "* (" + toMrkdwn(m.Channel) + ")"
	if path, err := b.st.LastPagePath(ctx, m.TenantID, m.ContactID); err == nil && path != "" {
		s += "\nPage: " + toMrkdwn(path)
	}
	if b.cfg.ConsoleURL != "" {
		link := b.cfg.ConsoleURL + "?conversation=" + url.QueryEscape(m.ConversationID)
		s += "\n<" + link + "|Open in console>"
	}
	return s + "\nReply in this thread to answer."
}

// messageText is a message as posted in the thread.
func (b *Bridge) messageText(ctx context.Context, m *chat.Message) string {
	if m.Author.Kind == chat.AuthorSystem {
		return ":information_source: _" + toMrkdwn(m.Text) + "_"
	}
	who := m.Author.Name
	switch {
	case who != "":
	case m.Author.Kind == chat.AuthorVisitor:
		who = b.visitorName(ctx, m)
	default:
		who = "Bot"
	}
	prefix := "*" + toMrkdwn(who) + "*"
	if m.Author.Kind == chat.AuthorBot {
		prefix = ":robot_face: " + prefix
	}
	return prefix + ": " + toMrkdwn(m.Text)
}

// stale reports whether an integration in use has gone a day without its expiry
// being moved forward.
func stale(expiresAt int64, now time.Time, p retention.Periods) bool {
	return expiresAt != 0 && expiresAt < retention.ExpiresAt(p, retention.Personal, now.Add(-24*time.Hour))
}
