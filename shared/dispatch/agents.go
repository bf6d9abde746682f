package dispatch

import (
	"context"

	"github.com/livesupportbot/backend/shared/agentfeed"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/store"
)

// Agents keeps the inbox live: it records each message as its conversation's
// last (the inbox's preview and unread count), and pushes inbox events (new
// messages, conversations opened or changed) to every live console
// connection of the tenant's agents. It is retried by the stream, like the
// widget: an event may repeat, and consoles show each message once.
type Agents struct {
	Store  AgentStore
	Pusher *pusher.Pusher
}

// AgentStore is what Agents needs of the store (*store.Store).
type AgentStore interface {
	agentfeed.Store
	RecordLastMessage(ctx context.Context, m *chat.Message) (*store.Summary, error)
}

// Deliver records m as its conversation's last message and tells the agents.
func (a *Agents) Deliver(ctx context.Context, m *chat.Message) error {
	sum, err := a.Store.RecordLastMessage(ctx, m)
	if err != nil {
		return err
	}
	return a.push(ctx, m.TenantID, frames.InboxMessage{Type: "inbox", Event: "message", ConversationID: m.ConversationID,
		Message: m, LastMessage: sum.LastMessage, Unread: sum.Unread})
}

// conversation tells the agents that a conversation opened or changed (none
// for a nil one, or without Agents).
func (a *Agents) conversation(ctx context.Context, cv *chat.Conversation) error {
	if a == nil || cv == nil {
		return nil
	}
	return a.push(ctx, cv.TenantID, frames.InboxConversation{Type: "inbox", Event: "conversation", Conversation: cv})
}

func (a *Agents) push(ctx context.Context, tenantID string, frame any) error {
	conns, err := batchAgentConnections(ctx, tenantID, func() ([]chat.AgentConnection, error) {
		return a.Store.AgentConnections(ctx, tenantID)
	})
	if err != nil || len(conns) == 0 {
		return err
	}
	gone, err := agentfeed.Send(ctx, a.Store, a.Pusher, tenantID, conns, "", frame)
	if gone {
		forgetAgentConnections(ctx, tenantID) // the next event reads them again
	}
	return err
}
