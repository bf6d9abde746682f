package chat

import "time"

// ChannelUser is a contact's identity on a messaging channel (a Messenger
// PSID on one Page, a WhatsApp wa_id on one business phone number...): the
// same person on the same channel account is always the same contact.
type ChannelUser struct {
	Channel string `json:"channel"`
	// Account is the tenant's account on the channel the user wrote to (a
	// Page id, an Instagram account id, a WhatsApp phone_number_id).
	Account string `json:"account"`
	UserID  string `json:"userId"`
	// DisplayName is the name the provider gave, if any (personal data).
	DisplayName string `json:"displayName,omitempty"`
	ContactID   string `json:"contactId"`
	// LastInboundAt is when the user last wrote: the channel's reply window
	// counts from it.
	LastInboundAt time.Time `json:"lastInboundAt"`
	// ReplyToken is LINE's reply token of the user's last message (used once,
	// within about a minute of ReplyTokenAt).
	ReplyToken   string    `json:"-"`
	ReplyTokenAt time.Time `json:"-"`
	// Unsubscribed says the user stopped the channel's messages (Viber's
	// unsubscribed, a Telegram user who blocked the bot): nothing is sent.
	Unsubscribed bool `json:"unsubscribed,omitempty"`
	// QuotaOf and QuotaParts are the count of sends against the quota of one
	// message of the user (WeChat: 5 within 48 hours of it): the message's
	// time and the message parts counted.
	QuotaOf    time.Time `json:"-"`
	QuotaParts []string  `json:"-"`
}

// QuotaUsed is how many sends counted against the quota of the user's last
// message.
func (u ChannelUser) QuotaUsed() int {
	if u.QuotaOf.IsZero() || !u.QuotaOf.Equal(u.LastInboundAt) {
		return 0
	}
	return len(u.QuotaParts)
}

// ExternalID is the user's id as suppression entries and exports name it:
// "<account>:<user id>" (a user id is unique only within its account).
func (u ChannelUser) ExternalID() string { return u.Account + ":" + u.UserID }

// ChannelIntegration is a tenant's connection of one messaging channel
// account (a Page, an Instagram account, a WhatsApp number). The access token
// is only ever held encrypted (KMS, encryption context {"tenantId": <id>})
// and never leaves as JSON.
type ChannelIntegration struct {
	TenantID string `json:"-"`
	Channel  string `json:"channel"`
	// AccountID is what the provider's webhooks name (Page id, Instagram
	// account id, phone_number_id); BusinessID the WhatsApp business account
	// (WABA) id, when given.
	AccountID      string `json:"accountId"`
	BusinessID     string `json:"businessId,omitempty"`
	TokenEncrypted []byte `json:"-"`
	HumanAgent     bool   `json:"humanAgent,omitempty"`
	// WebhookID is the unguessable id in the webhook URL of a channel whose
	// credentials are the tenant's (/webhooks/<channel>/<webhookId>).
	WebhookID string `json:"webhookId,omitempty"`
	// WebhookURL is the URL registered with the provider (the owner's to
	// check in the provider's console, or to post test messages to).
	WebhookURL  string    `json:"webhookUrl,omitempty"`
	AccountName string    `json:"accountName,omitempty"`
	InstalledAt time.Time `json:"installedAt"`
	// Broken, when set, says why sends stopped (the token was refused).
	Broken string `json:"broken,omitempty"`
	// Settings are an integration's plain (not secret) settings (the
	// Dialogflow agent: edition, project, location, agent, environment,
	// language, the channels it answers, handoff phrases).
	Settings map[string]string `json:"settings,omitempty"`
}

// Delivery statuses of a message sent to a channel, in the order they
// happen; failed ends it.
const (
	DeliverySending   = "sending"
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryRead      = "read"
	DeliveryFailed    = "failed"
)

// DeliveryRank orders delivery statuses: a status never moves back to a
// lower one (a late "sent" after "read" changes nothing). 0 is unknown.
func DeliveryRank(status string) int {
	switch status {
	case DeliverySending:
		return 1
	case DeliverySent:
		return 2
	case DeliveryDelivered:
		return 3
	case DeliveryRead:
		return 4
	case DeliveryFailed:
		return 5
	}
	return 0
}

// Delivery is where a message sent to a channel stands: its status, the
// provider's error code when it failed, and the provider's message ids.
type Delivery struct {
	Status     string   `json:"status"`
	Error      string   `json:"error,omitempty"`
	ProviderID []string `json:"-"`
}

// Attachment is a file of a message, copied into our storage: agents read it
// through a short-lived link (URL, set when it is read), never the provider's.
type Attachment struct {
	Name        string `json:"name,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Size        int64  `json:"size"`
	URL         string `json:"url,omitempty"`
	// Key is the object's key in the attachment bucket.
	Key string `json:"-"`
	// Omitted says why the file was not copied ("too_large"): the message
	// shows that it had one.
	Omitted string `json:"omitted,omitempty"`
}

// Template is an approved message template (WhatsApp) an agent sends when the
// contact's reply window has closed.
type Template struct {
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Params   []string `json:"params,omitempty"`
}

// EWindowClosed is the error code of a reply refused because the contact's
// reply window on the channel has closed.
const EWindowClosed = "window_closed"

// ChannelConnect is what a tenant owner gives to connect a channel account:
// the account's ids and its access token (write-only: it is encrypted at once
// and never returned).
type ChannelConnect struct {
	// Meta: the account's ids, its access token, the HUMAN_AGENT tag.
	AccountID   string `json:"accountId,omitempty"`
	BusinessID  string `json:"businessId,omitempty"`
	AccessToken string `json:"accessToken,omitempty"`
	HumanAgent  bool   `json:"humanAgent,omitempty"`
	// Telegram: the bot token. LINE: the channel secret and, as
	// accessToken, the channel access token. Viber: the auth token and the
	// sender name (at most 28 characters).
	BotToken      string `json:"botToken,omitempty"`
	ChannelSecret string `json:"channelSecret,omitempty"`
	AuthToken     string `json:"authToken,omitempty"`
	SenderName    string `json:"senderName,omitempty"`
	// WeChat: the official account's app id and secret, the URL token and
	// the EncodingAESKey set in its console (empty: plain mode).
	AppID          string `json:"appId,omitempty"`
	AppSecret      string `json:"appSecret,omitempty"`
	Token          string `json:"token,omitempty"`
	EncodingAESKey string `json:"encodingAesKey,omitempty"`
	// X: the app's consumer key and secret, its OAuth 2.0 client id and
	// secret, and the account's refresh token (offline.access).
	ConsumerKey    string `json:"consumerKey,omitempty"`
	ConsumerSecret string `json:"consumerSecret,omitempty"`
	ClientID       string `json:"clientId,omitempty"`
	ClientSecret   string `json:"clientSecret,omitempty"`
	RefreshToken   string `json:"refreshToken,omitempty"`
	// Zendesk: the Support subdomain, an agent's email and API token, and
	// the signing secret of the webhook the owner creates.
	Subdomain     string `json:"subdomain,omitempty"`
	Email         string `json:"email,omitempty"`
	APIToken      string `json:"apiToken,omitempty"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
	// WebhookBase is the public base URL of the HTTP API (set by the admin
	// API, not the owner): the channel's webhook is registered under it.
	WebhookBase string `json:"-"`
}

// ReplyWindow says until when an agent may answer a channel conversation:
// free-form until ClosesAt; then, with Tag (Messenger's HUMAN_AGENT), until
// TagClosesAt; after that only a template (TemplateOnly) or nothing.
type ReplyWindow struct {
	ClosesAt     time.Time  `json:"closesAt"`
	Tag          string     `json:"tag,omitempty"`
	TagClosesAt  *time.Time `json:"tagClosesAt,omitempty"`
	Open         bool       `json:"open"`
	TemplateOnly bool       `json:"templateOnly,omitempty"`
	// Blocked says why nothing can be sent at all ("unsubscribed": the
	// contact stopped the channel's messages).
	Blocked string `json:"blocked,omitempty"`
	// SendsLeft is how many more messages may be sent until the contact
	// writes again, on a channel that counts them (WeChat: 5 per message).
	SendsLeft *int `json:"sendsLeft,omitempty"`
}

// Handoff is a conversation handed to a tenant's help desk (Zendesk
// Support): the ticket it became, whose comments by the desk's agents come
// back as agent messages and to which the contact's later messages are
// added.
type Handoff struct {
	TenantID       string    `json:"-"`
	ConversationID string    `json:"conversationId"`
	To             string    `json:"to"`
	TicketID       string    `json:"ticketId"`
	TicketURL      string    `json:"ticketUrl,omitempty"`
	RequesterID    string    `json:"-"`
	By             string    `json:"by"`
	At             time.Time `json:"at"`
}

// BotState says who answers a conversation: the bot until it is handed to
// people (People true: the bot handed off, a visitor asked for a person, the
// bot failed, or an agent answered), and why.
type BotState struct {
	People bool      `json:"people"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}
