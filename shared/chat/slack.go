package chat

import "time"

// SlackIntegration is a tenant's installation of the Slack app. The bot token is
// only ever held encrypted (KMS, encryption context {"tenantId": <id>}), and
// never leaves as JSON.
type SlackIntegration struct {
	TenantID       string    `json:"tenantId"`
	TeamID         string    `json:"teamId"`
	TeamName       string    `json:"teamName,omitempty"`
	ChannelID      string    `json:"channelId"`
	ChannelName    string    `json:"channelName,omitempty"`
	BotUserID      string    `json:"botUserId"`
	AppID          string    `json:"appId,omitempty"`
	InstalledBy    string    `json:"installedBy,omitempty"`
	InstalledAt    time.Time `json:"installedAt"`
	TokenEncrypted []byte    `json:"-"`
	// ExpiresAt is the stored installation's expiry (Unix seconds) as read; it
	// is never written from here.
	ExpiresAt int64 `json:"expiresAt,omitempty"`
}

// SlackMember is what the Slack bridge keeps of a workspace member: only of a
// member who replied as an agent in a thread, and only the name those replies
// show (personal data). No email, image or other profile field is kept.
type SlackMember struct {
	TeamID string `json:"teamId"`
	UserID string `json:"userId"`
	// DisplayName is the name Slack shows for the member (the profile's
	// display name, else its real name); empty when Slack did not say.
	DisplayName string `json:"displayName,omitempty"`
	// ExpiresAt is the stored item's expiry (Unix seconds) as read; it is
	// never written from here.
	ExpiresAt int64 `json:"-"`
}

// AgentName is the name an agent reply shows: the display name, else "Agent".
func (m *SlackMember) AgentName() string {
	if m.DisplayName != "" {
		return m.DisplayName
	}
	return "Agent"
}

// SlackThread is the Slack thread a conversation is mirrored to.
type SlackThread struct {
	TenantID       string `json:"tenantId"`
	ConversationID string `json:"conversationId"`
	ContactID      string `json:"contactId"`
	Channel        string `json:"channel"` // the conversation's channel (widget, ...)
	TeamID         string `json:"teamId"`
	ChannelID      string `json:"channelId"`
	ThreadTS       string `json:"threadTs"`
}

// SlackPost records one message our bot posted (or is posting) to Slack, so a
// retry does not post it again and an erasure can delete it.
type SlackPost struct {
	MessageID string `json:"messageId"`
	ContactID string `json:"contactId"`
	ChannelID string `json:"channelId"`
	ThreadTS  string `json:"threadTs,omitempty"`
	TS        string `json:"ts,omitempty"` // empty while the post is in flight
}

// SlackConversationItems is what the Slack bridge recorded about one
// conversation: its thread (nil if none) and the posts of our bot.
type SlackConversationItems struct {
	ConversationID string       `json:"conversationId"`
	Thread         *SlackThread `json:"thread,omitempty"`
	Posts          []SlackPost  `json:"posts,omitempty"`
}

// ParkedDelivery is a message that an outbound destination with its own
// retries (the Slack thread) did not take, waiting for dispatch's retry run.
// It names the message by reference and holds no text: MessageSK is the
// store's opaque reference of the message within its conversation.
type ParkedDelivery struct {
	Destination    string    `json:"destination"`
	TenantID       string    `json:"tenantId"`
	ConversationID string    `json:"conversationId"`
	MessageSK      string    `json:"messageSk"`
	ParkedAt       time.Time `json:"parkedAt"`
}
