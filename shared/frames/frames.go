// Package frames defines the JSON frames of the widget's WebSocket protocol
// (docs/CONTRACT.md, "Widget over WebSocket") that the server sends, and maps
// errors to error frames (codes through shared/apierror). The identified frame
// is defined next to its handler, in package wsmessage.
package frames

import (
	"github.com/livesupportbot/backend/shared/apierror"
	"github.com/livesupportbot/backend/shared/chat"
)

// Ack answers the sender of a message.
type Ack struct {
	Type            string        `json:"type"` // "ack"
	ClientMessageID string        `json:"clientMessageId"`
	Message         *chat.Message `json:"message"`
}

// Message delivers a message to a connection that did not send it.
type Message struct {
	Type    string        `json:"type"` // "message"
	Message *chat.Message `json:"message"`
}

// Typing tells the other side someone is typing. Frames to agents name the
// conversation; frames to the visitor need not.
type Typing struct {
	Type           string      `json:"type"` // "typing"
	ConversationID string      `json:"conversationId,omitempty"`
	Author         chat.Author `json:"author"`
	State          string      `json:"state"`
}

// Presence answers a presence frame: whether an agent is online.
type Presence struct {
	Type         string `json:"type"` // "presence"
	AgentsOnline bool   `json:"agentsOnline"`
}

// AgentPresence tells the agents that one of them set their presence.
type AgentPresence struct {
	Type    string `json:"type"` // "agent"
	AgentID string `json:"agentId"`
	Name    string `json:"name"`
	State   string `json:"state"`
}

// InboxConversation tells the agents a conversation opened or changed.
type InboxConversation struct {
	Type         string             `json:"type"`  // "inbox"
	Event        string             `json:"event"` // "conversation"
	Conversation *chat.Conversation `json:"conversation"`
}

// InboxMessage tells the agents of a new message, with its conversation's
// summary after it.
type InboxMessage struct {
	Type           string               `json:"type"`  // "inbox"
	Event          string               `json:"event"` // "message"
	ConversationID string               `json:"conversationId"`
	Message        *chat.Message        `json:"message"`
	LastMessage    *chat.MessagePreview `json:"lastMessage"`
	Unread         int                  `json:"unread"`
}

// History is a page of a conversation's messages, oldest first.
type History struct {
	Type     string          `json:"type"` // "history"
	Messages []*chat.Message `json:"messages"`
	Next     *string         `json:"next"`
}

// Pong answers a ping.
type Pong struct {
	Type string `json:"type"` // "pong"
}

// Error reports a problem with a frame; the connection stays open.
type Error struct {
	Type            string `json:"type"` // "error"
	Code            string `json:"code"`
	Message         string `json:"message"`
	ClientMessageID string `json:"clientMessageId,omitempty"`
}

// NewAck returns an ack frame.
func NewAck(clientMessageID string, m *chat.Message) Ack {
	return Ack{Type: "ack", ClientMessageID: clientMessageID, Message: m}
}

// NewMessage returns a message frame.
func NewMessage(m *chat.Message) Message { return Message{Type: "message", Message: m} }

// NewError maps err to an error frame, its code from the one map of error
// codes (apierror.FrameCode): an application error keeps its message (even
// under a code the frames do not know), anything else is "internal" with no
// detail.
func NewError(err error, clientMessageID string) Error {
	return Error{Type: "error", Code: apierror.FrameCode(err), Message: chat.ErrorMessage(err), ClientMessageID: clientMessageID}
}
