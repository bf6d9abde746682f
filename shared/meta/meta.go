// Package meta is Meta's three messaging products on the channel seam:
// Messenger, Instagram and WhatsApp (Cloud API). They share one webhook URL,
// one app secret and the Graph API, so one Inbound receives all three and one
// Graph client sends to all three; each event's identity names its product
// (ChannelMessenger, ChannelInstagram, ChannelWhatsApp).
//
// Inbound: a GET to the webhook URL is the subscription handshake (Handshake);
// a POST is signed with the app secret (Verify) and carries batched entries
// that Parse turns into events. Outbound: Graph.Send posts a text or (WhatsApp)
// a template, Graph.Parts splits a long text at the product's limit, and
// Graph.Media and Graph.Download fetch attachments.
//
// The package does no AWS or store work and logs nothing. Its errors name
// products, account and message ids, HTTP statuses and Graph error codes;
// never a token, a secret, a signature, a message's text or a URL.
package meta

import (
	"crypto/subtle"

	"github.com/livesupportbot/backend/shared/channel"
)

// Names of Meta's products as channels (Identity.Channel of the events).
const (
	ChannelMessenger = "messenger"
	ChannelInstagram = "instagram"
	ChannelWhatsApp  = "whatsapp"
)

// Channels lists the products, Messenger, Instagram, WhatsApp.
var Channels = []string{ChannelMessenger, ChannelInstagram, ChannelWhatsApp}

// InboundName is the Inbound's channel name: the one webhook of the three
// products. Stores prefix dedupe keys with it ("meta:<mid>"); events' own
// identities name the product.
const InboundName = "meta"

// SignatureHeader is the request header with the body's signature, as API
// Gateway passes it (lower case): "sha256=<hex HMAC-SHA256(app secret, body)>".
const SignatureHeader = "x-hub-signature-256"

// Inbound is Meta's webhook (Messenger, Instagram and WhatsApp) as a
// channel.Inbound: the app secret's HMAC-SHA256 over the raw body, batched
// entries, one event per contact message or WhatsApp status. It holds nothing
// and is safe for concurrent use.
type Inbound struct{}

var _ channel.Inbound = Inbound{}

// Channel is "meta" (InboundName); events name their product in From.Channel.
func (Inbound) Channel() string { return InboundName }

// Verify checks the x-hub-signature-256 header against HMAC-SHA256 of the raw
// body with the app secret, in constant time. Meta's signature carries no
// timestamp, so there is no replay window: redeliveries are absorbed by the
// dedupe keys. An empty secret verifies nothing. Failures wrap
// channel.ErrUnverified and name only the reason.
func (Inbound) Verify(req channel.Request, appSecret string) error {
	return channel.VerifyHMAC(req, SignatureHeader, "sha256=", channel.Hex, "app secret", appSecret)
}

// Handshake answers the webhook's subscription check (a GET with hub.mode,
// hub.verify_token and hub.challenge in query): ok when the mode is
// "subscribe" and the token equals verifyToken (compared in constant time);
// then answer 200 with the bare challenge, else 403. An empty verifyToken
// never matches.
func Handshake(query map[string]string, verifyToken string) (challenge string, ok bool) {
	if verifyToken == "" || query["hub.mode"] != "subscribe" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(query["hub.verify_token"]), []byte(verifyToken)) != 1 {
		return "", false
	}
	return query["hub.challenge"], true
}
