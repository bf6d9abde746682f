package chanbridge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/local/viberfake"
	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/shared/chat"
)

// FuzzSignedWebhook posts arbitrary bodies, correctly signed for the channel
// ch picks (0 Telegram, 1 LINE, 2 Viber, 3 X, 4 WeChat: sealed in its safe
// mode's envelope), to a connected integration's
// webhook (moto, the fakes; seeds below and in
// testdata/fuzz/FuzzSignedWebhook). The handler is called directly, so a
// panic fails the run. A signed body gets 200 or 400, never 401, and a 500
// only when a file the body names cannot be fetched (the provider retries);
// with one byte changed under the old signature it is 401 (not for
// Telegram, whose secret header signs no body).
func FuzzSignedWebhook(f *testing.F) {
	f.Add(byte(0), telegramfake.TextUpdate(1, 42, "Ana", "hello"), 3, byte(1))
	f.Add(byte(0), telegramfake.PhotoUpdate(2, 42, "file-unknown"), 5, byte(2))
	f.Add(byte(1), linefake.TextEvent("Ubot", "Uuser", "01HFUZZ000000000000000000A", "rt", "hi"), 7, byte(4))
	f.Add(byte(1), linefake.Events("Ubot"), 1, byte(8))
	f.Add(byte(2), viberfake.TextMessage(viberfake.FirstMessageToken, "vUser==", "Ana", "hola"), 9, byte(16))
	f.Add(byte(2), viberfake.Event("unsubscribed", "vUser==", viberfake.FirstMessageToken+1), 2, byte(32))
	f.Add(byte(3), xfake.DM("1", "1853241553271119999", "44", "Ana", "hi", time.Unix(1700000000, 0)), 4, byte(1))
	f.Add(byte(3), xfake.MediaDM("1", "1853241553271119998", "44", "Ana", "look", "photo", time.Unix(1700000000, 0)), 6, byte(2))
	f.Add(byte(4), wechatfake.TextMessage(wechatAccount, "oUser", 1, "hi", time.Unix(1700000000, 0)), 11, byte(4))
	f.Add(byte(4), wechatfake.Event("oUser", "subscribe", time.Unix(1700000000, 0)), 3, byte(64))
	h := newHarness(f)
	ten := h.tenant(f)
	conns := make([]struct {
		d  driver
		c  chat.ChannelConnect
		in *chat.ChannelIntegration
	}, len(drivers))
	for i, d := range drivers {
		c, in := h.connect(f, ten, d)
		conns[i].d, conns[i].c, conns[i].in = d, c, in
	}
	f.Fuzz(func(t *testing.T, ch byte, body []byte, at int, flip byte) {
		k := conns[int(ch)%len(conns)]
		logged := len(h.logs.String())
		plain := body
		body = k.d.sealed(k.c, body)
		res := h.do(t, request(k.d.name, k.in.WebhookID, body, k.d.sign(h, k.c, k.in, body)))
		switch res.StatusCode {
		case http.StatusOK, http.StatusBadRequest:
		case http.StatusInternalServerError:
			if !strings.Contains(h.logs.String()[logged:], "copy attachment") {
				t.Fatalf("%s %q answered 500: %s", k.d.name, body, h.logs.String()[logged:])
			}
		default:
			t.Fatalf("%s signed %q answered %d %s", k.d.name, body, res.StatusCode, res.Body)
		}
		if len(plain) == 0 || flip == 0 || k.d.name == "telegram" {
			return
		}
		changed := append([]byte(nil), plain...)
		changed[abs(at)%len(changed)] ^= flip
		changed = k.d.sealed(k.c, changed)
		if res := h.do(t, request(k.d.name, k.in.WebhookID, changed, k.d.sign(h, k.c, k.in, body))); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s changed body answered %d, want 401", k.d.name, res.StatusCode)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
