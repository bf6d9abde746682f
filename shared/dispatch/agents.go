package dispatch

import (
	"context"
	"sync"
	"time"

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

	consoles consoles
}

// AgentsCacheTTL is how long an instance keeps a tenant's live consoles: a
// busy tenant's messages would otherwise read its agents' one partition with
// each batch of every instance (docs/ARCHITECTURE.md, "The agents' live
// inbox"). A console that connects gets
// events at most this much later; it reads the inbox again after it, so
// nothing falls between (docs/CONTRACT.md).
const AgentsCacheTTL = time.Second

// consoles is each tenant's live consoles, read at most once per
// AgentsCacheTTL by the instance; callers of one tenant share a read.
type consoles struct {
	mu   sync.Mutex
	memo memo[[]chat.AgentConnection]
	at   map[string]time.Time
}

func (c *consoles) get(tenantID string, load func() ([]chat.AgentConnection, error)) ([]chat.AgentConnection, error) {
	now := time.Now()
	c.mu.Lock()
	if c.at == nil {
		c.at = map[string]time.Time{}
	}
	if at, ok := c.at[tenantID]; !ok || now.Sub(at) >= AgentsCacheTTL {
		c.memo.forget(tenantID)
		c.at[tenantID] = now
	}
	c.mu.Unlock()
	return c.memo.get(tenantID, load)
}

func (c *consoles) forget(tenantID string) {
	c.mu.Lock()
	delete(c.at, tenantID)
	c.mu.Unlock()
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
	conns, err := a.consoles.get(tenantID, func() ([]chat.AgentConnection, error) {
		return a.Store.AgentConnections(ctx, tenantID)
	})
	if err != nil || len(conns) == 0 {
		return err
	}
	gone, err := agentfeed.Send(ctx, a.Store, a.Pusher, tenantID, conns, "", frame)
	if gone {
		a.consoles.forget(tenantID) // the next event reads them again
	}
	return err
}
