// Package zendesk is Zendesk Support's wire format for the handoff of a
// conversation to a tenant's Zendesk: the signature of Zendesk's webhooks
// (Verify, Sign), the ticket event a public agent comment arrives as
// (ParseEvent), and the three Support API calls the bridge makes (Client:
// Me, CreateTicket, AddComment). It holds no storage and no routing: the
// bridge does.
//
// What is safe to log: ticket, comment, user and event ids, HTTP statuses and
// Zendesk's error codes (every error of the package names nothing else).
// Never the API token, the agent's email, the signing secret, a signature,
// a raw body or a comment's text.
package zendesk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// Zendesk's webhook headers, as API Gateway passes them (lower case).
const (
	SignatureHeader    = "x-zendesk-webhook-signature"
	TimestampHeader    = "x-zendesk-webhook-signature-timestamp"
	InvocationIDHeader = "x-zendesk-webhook-invocation-id"
)

// FreshFor is how old a webhook's signature timestamp may be: an older one is
// refused (a replay). Zendesk retries a failed delivery within minutes, each
// try signed anew.
const FreshFor = 5 * time.Minute

// ClockSkew is how far in the future a signature timestamp may be (Zendesk's
// clock ahead of ours).
const ClockSkew = time.Minute

// maxTimestamp bounds the timestamp header Verify reads.
const maxTimestamp = 64

// Verify checks a Zendesk webhook request: the X-Zendesk-Webhook-Signature
// header must be the base64 HMAC-SHA256, keyed with the webhook's signing
// secret, of the X-Zendesk-Webhook-Signature-Timestamp header's text
// followed by the raw body (no separator), compared in constant time; and
// the timestamp (ISO-8601, "2021-03-25T05:09:27Z") must be at most FreshFor
// before now and at most ClockSkew after it. Header names are matched
// whatever their case. An empty secret verifies nothing.
//
// A failure wraps channel.ErrUnverified and names only the reason (never
// the secret, the signature or the body), so it is safe to log.
func Verify(headers map[string]string, body []byte, secret string, now time.Time) error {
	if secret == "" {
		return fmt.Errorf("%w: no Zendesk signing secret configured", channel.ErrUnverified)
	}
	req := channel.Request{Headers: headers}
	sig, ts := req.HeaderFold(SignatureHeader), req.HeaderFold(TimestampHeader)
	switch {
	case sig == "":
		return fmt.Errorf("%w: no X-Zendesk-Webhook-Signature header", channel.ErrUnverified)
	case ts == "":
		return fmt.Errorf("%w: no X-Zendesk-Webhook-Signature-Timestamp header", channel.ErrUnverified)
	case len(ts) > maxTimestamp:
		return fmt.Errorf("%w: signature timestamp of %d bytes", channel.ErrUnverified, len(ts))
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: signature is not a base64 SHA-256 digest", channel.ErrUnverified)
	}
	if !hmac.Equal(got, mac(secret, ts, body)) {
		return fmt.Errorf("%w: signature does not match the timestamp and body", channel.ErrUnverified)
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return fmt.Errorf("%w: signature timestamp is not ISO-8601", channel.ErrUnverified)
	}
	switch age := now.Sub(at); {
	case age > FreshFor:
		return fmt.Errorf("%w: signature timestamp is %s old, over %s", channel.ErrUnverified, age.Truncate(time.Second), FreshFor)
	case -age > ClockSkew:
		return fmt.Errorf("%w: signature timestamp is %s in the future", channel.ErrUnverified, (-age).Truncate(time.Second))
	}
	return nil
}

// Sign is the X-Zendesk-Webhook-Signature Zendesk sends with body at
// timestamp (the X-Zendesk-Webhook-Signature-Timestamp text, used as is):
// base64(HMAC-SHA256(secret, timestamp + body)).
func Sign(secret, timestamp string, body []byte) string {
	return base64.StdEncoding.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return m.Sum(nil)
}

// InvocationID is the X-Zendesk-Webhook-Invocation-Id header: the id of one
// delivery of an event, the same on each of its retries ("" if absent).
func InvocationID(headers map[string]string) string {
	return channel.Request{Headers: headers}.HeaderFold(InvocationIDHeader)
}
