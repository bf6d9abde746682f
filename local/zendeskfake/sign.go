package zendeskfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// sign is Zendesk's webhook signature: base64(HMAC-SHA256(secret,
// timestamp + body)). It is written out here, not taken from shared/zendesk,
// so the fake checks the package rather than agreeing with it by
// construction.
func sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
