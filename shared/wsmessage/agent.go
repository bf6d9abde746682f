package wsmessage

import (
	"context"
	"errors"

	"github.com/livesupportbot/backend/shared/agentfeed"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/wsconn"
)

// agentFrame handles a frame of an agent's console: presence, typing in a
// conversation, ping. An agent's connection may do nothing a visitor's does.
func (h *Handler) agentFrame(ctx context.Context, p *pusher.Pusher, id wsconn.Identity, connID string, f frame) any {
	switch f.Action {
	case "presence":
		return h.agentPresence(ctx, p, id, connID, f.State)
	case "typing":
		return h.agentTyping(ctx, p, id, f)
	case "ping":
		return frames.Pong{Type: "pong"}
	}
	return chat.Errorf(chat.EInvalid, "unknown action")
}

// agentPresence sets the connection online or away, tells the other agents,
// and answers whether any agent is online now.
func (h *Handler) agentPresence(ctx context.Context, p *pusher.Pusher, id wsconn.Identity, connID, state string) any {
	if state != chat.AgentOnline && state != chat.AgentAway {
		return chat.Errorf(chat.EInvalid, `state must be "online" or "away"`)
	}
	if err := h.Store.SetAgentAway(ctx, id.TenantID, connID, state == chat.AgentAway); err != nil {
		return err
	}
	conns, err := h.Store.AgentConnections(ctx, id.TenantID)
	if err != nil {
		return err
	}
	if _, err := agentfeed.Send(ctx, h.Store, p, id.TenantID, conns, connID,
		frames.AgentPresence{Type: "agent", AgentID: id.AgentID, Name: id.AgentName, State: state}); err != nil {
		return err
	}
	online := false
	for _, c := range conns {
		// The list may have been read before this connection's own change.
		online = online || (c.ID == connID && state == chat.AgentOnline) || (c.ID != connID && !c.Away)
	}
	return frames.Presence{Type: "presence", AgentsOnline: online}
}

// agentTyping shows the agent's typing to the conversation's visitor: every
// live widget connection of the contact. Messaging channels show no typing.
func (h *Handler) agentTyping(ctx context.Context, p *pusher.Pusher, id wsconn.Identity, f frame) any {
	if f.State != "start" && f.State != "stop" {
		return chat.Errorf(chat.EInvalid, `state must be "start" or "stop"`)
	}
	if !ids.Valid(ids.Conversation, f.ConversationID) {
		return chat.ErrNotFound
	}
	cv, err := h.Store.Conversation(ctx, id.TenantID, f.ConversationID)
	if err != nil {
		return err
	}
	if cv.Channel != chat.ChannelWidget {
		return nil
	}
	conns, err := h.Store.Connections(ctx, id.TenantID, cv.ContactID)
	if err != nil {
		return err
	}
	if err := sendAll(ctx, p, conns, "", frames.Typing{Type: "typing", Author: chat.Author{Kind: chat.AuthorAgent, Name: id.AgentName}, State: f.State}); err != nil {
		return err
	}
	return nil
}

// typingToAgents shows a visitor's typing to the agents' consoles, in the
// visitor's open conversation (none: nothing to show).
func (h *Handler) typingToAgents(ctx context.Context, p *pusher.Pusher, id wsconn.Identity, frame frames.Typing) any {
	c, err := h.Store.Contact(ctx, id.TenantID, id.VisitorID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && c.OpenConversationID == "") {
		return nil
	}
	if err != nil {
		return err
	}
	conns, err := h.Store.AgentConnections(ctx, id.TenantID)
	if err != nil {
		return err
	}
	frame.ConversationID, frame.Author.Name = c.OpenConversationID, c.Name
	if _, err := agentfeed.Send(ctx, h.Store, p, id.TenantID, conns, "", frame); err != nil {
		return err
	}
	return nil
}

// agentsOnline answers a visitor's presence frame.
func (h *Handler) agentsOnline(ctx context.Context, tenantID string) any {
	conns, err := h.Store.AgentConnections(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if !c.Away {
			return frames.Presence{Type: "presence", AgentsOnline: true}
		}
	}
	return frames.Presence{Type: "presence", AgentsOnline: false}
}
