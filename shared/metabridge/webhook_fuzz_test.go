package metabridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/shared/meta"
)

// FuzzSignedWebhook posts arbitrary bodies, correctly signed, to the webhook of
// a tenant with a Messenger Page and a WhatsApp number connected (moto, the
// fake Graph API; seeds in testdata/fuzz/FuzzSignedWebhook and below). The
// handler is called directly (no recover), so a panic fails the run. A signed
// body gets 200 or 400, never a 5xx (with moto and the fake healthy, that
// would be our failure), and never a 401; the same body with a byte changed
// under the original signature is refused (401).
func FuzzSignedWebhook(f *testing.F) {
	f.Add(metafake.MessengerPayload("1001", "psid-f", "m_fuzz1", "hello"), 0, byte(1))
	f.Add(metafake.InstagramPayload("1001", "igsid-f", "m_fuzz2", "hey"), 3, byte(2))
	f.Add(metafake.WhatsAppPayload("3003", "15550001234", "Ana", "wamid.fuzz3", "hola"), 10, byte(0x20))
	f.Add(metafake.WhatsAppStatusPayload("3003", "15550001234", "wamid.fuzz3", "failed", 131047), 7, byte(4))
	f.Add([]byte(`{"object":"page","entry":[{"id":"1001","messaging":[{"sender":{"id":"p"},"recipient":{"id":"1001"},"message":{"mid":"m","attachments":[{"type":"image","payload":{"url":"http://127.0.0.1:1/x"}}]}}]}]}`), 5, byte(8))
	h := newHarness(f)
	ten := h.tenant(f)
	h.connect(f, ten, meta.ChannelMessenger, "1001", false)
	h.connect(f, ten, meta.ChannelWhatsApp, "3003", false)
	f.Fuzz(func(t *testing.T, body []byte, at int, flip byte) {
		logged := len(h.logs.String())
		res := h.do(t, request(body, appSecret))
		switch res.StatusCode {
		case http.StatusOK, http.StatusBadRequest:
		default:
			// An attachment URL the fuzzer made up that cannot be fetched is
			// a 500 Meta retries: the message is not stored without its file.
			if res.StatusCode != http.StatusInternalServerError || !strings.Contains(h.logs.String()[logged:], "copy attachment") {
				t.Fatalf("signed %q answered %d %s", body, res.StatusCode, res.Body)
			}
		}
		if len(body) == 0 || flip == 0 {
			return
		}
		req := request(body, appSecret)
		b := []byte(req.Body)
		b[abs(at)%len(b)] ^= flip
		req.Body = string(b)
		if res := h.do(t, req); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("changed body answered %d, want 401", res.StatusCode)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
