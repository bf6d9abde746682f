package chat

import (
	"time"
	"unicode/utf8"
)

// Agent presence states.
const (
	AgentOnline  = "online"
	AgentAway    = "away"
	AgentOffline = "offline"
)

// PreviewChars is how much of a message's text an inbox preview keeps.
const PreviewChars = 140

// Agent is a person who answers in the console: the API key that asked for an
// agent token, under the name given then.
type Agent struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	State      string    `json:"state"` // AgentOnline, AgentAway or AgentOffline
	LastSeenAt time.Time `json:"lastSeenAt"`
}

// AgentConnection is a live console connection of an agent.
type AgentConnection struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"-"`
	AgentID     string    `json:"agentId"`
	AgentName   string    `json:"agentName"`
	Away        bool      `json:"away"`
	ConnectedAt time.Time `json:"connectedAt"`
}

// Presence is the state shown for an agent (or a tenant's agents) with
// these live console connections: online when one is not set away, away
// when all are, offline with none.
func Presence(conns []AgentConnection) string {
	if len(conns) == 0 {
		return AgentOffline
	}
	for _, c := range conns {
		if !c.Away {
			return AgentOnline
		}
	}
	return AgentAway
}

// MessagePreview is the start of a conversation's last message, for the inbox.
type MessagePreview struct {
	ID         string    `json:"id"`
	AuthorKind string    `json:"authorKind"`
	AuthorName string    `json:"authorName,omitempty"`
	Text       string    `json:"text"`
	CreatedAt  time.Time `json:"createdAt"`
}

// PreviewOf is the preview of m: its text cut to PreviewChars characters.
func PreviewOf(m *Message) *MessagePreview {
	text := m.Text
	if utf8.RuneCountInString(text) > PreviewChars {
		r := []rune(text)
		text = string(r[:PreviewChars-1]) + "…"
	}
	return &MessagePreview{ID: m.ID, AuthorKind: m.Author.Kind, AuthorName: m.Author.Name, Text: text, CreatedAt: m.CreatedAt}
}
