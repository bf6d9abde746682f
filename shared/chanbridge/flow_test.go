package chanbridge_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/privacytest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

// For each channel: a request with a bad signature (or to an unknown webhook
// id, or another channel's) writes nothing; a signed message is stored once,
// however often it is delivered; the tenant's secret stays out of the logs.
func TestVerifiedAndStoredOnce(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			h := newHarness(t)
			ten := h.tenant(t)
			c, in := h.connect(t, ten, d)
			body := d.sealed(c, d.text(in, 1, d.user(1), "Is the shop open?"))
			before := h.items(t)
			forged := d.sign(h, c, in, []byte(`{"not":"this body"}`))
			for name, req := range map[string]struct {
				ch, id  string
				headers map[string]string
				want    int
			}{
				"wrong signature":    {d.name, in.WebhookID, forged, http.StatusUnauthorized},
				"no signature":       {d.name, in.WebhookID, nil, http.StatusUnauthorized},
				"unknown webhook id": {d.name, ids.Secret(32), d.sign(h, c, in, body), http.StatusNotFound},
				"another channel":    {otherChannel(d.name), in.WebhookID, d.sign(h, c, in, body), http.StatusNotFound},
			} {
				if d.name == "telegram" && name == "wrong signature" {
					req.headers = map[string]string{"x-telegram-bot-api-secret-token": "guess"}
				}
				if res := h.do(t, request(req.ch, req.id, body, req.headers)); res.StatusCode != req.want {
					t.Errorf("%s: %d %s, want %d", name, res.StatusCode, res.Body, req.want)
				}
			}
			if after := h.items(t); after != before {
				t.Fatalf("items %d -> %d: a refused request wrote", before, after)
			}
			h.post(t, d, c, in, body)
			h.post(t, d, c, in, body)
			msgs := h.messages(t, ten.ID)
			if len(msgs) != 1 || msgs[0].Text != "Is the shop open?" || msgs[0].Channel != d.name || msgs[0].Author.Kind != chat.AuthorVisitor {
				t.Fatalf("stored %+v, want the one message", msgs)
			}
			u, err := h.st.ContactChannelUser(context.Background(), ten.ID, msgs[0].ContactID, d.name)
			if err != nil || u.Account != in.AccountID || u.UserID != d.user(1) {
				t.Errorf("channel user %+v %v", u, err)
			}
			for _, s := range []string{c.BotToken, c.AccessToken, c.ChannelSecret, c.AuthToken, c.ConsumerSecret, c.ClientSecret,
				c.RefreshToken, c.AppSecret, c.Token, c.EncodingAESKey, "Is the shop open?"} {
				if s != "" && strings.Contains(h.logs.String(), s) {
					t.Errorf("the logs hold %q", s)
				}
			}
		})
	}
}

func otherChannel(ch string) string {
	if ch == "telegram" {
		return "viber"
	}
	return "telegram"
}

// For each channel: an agent's reply is sent once, to the contact, also when
// the first attempt fails in a way worth a retry (parked, sent by the retry
// run, not sent again by a second run or a redelivered stream record).
func TestReplySentOnceUnderRetry(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			h := newHarness(t)
			ten := h.tenant(t)
			c, in := h.connect(t, ten, d)
			m := h.inbound(t, d, c, in, d.text(in, 2, d.user(2), "hello"))
			d.failNext(h)
			r := h.reply(t, m, "Yes, until 6 pm.")
			h.pump(t)
			if n := d.sends(h); n != 0 {
				t.Fatalf("%d sends after a failed attempt", n)
			}
			ctx := context.Background()
			if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Delivered != 1 {
				t.Fatalf("retry run: %+v %v", sum, err)
			}
			if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Delivered != 0 {
				t.Fatalf("second retry run: %+v %v", sum, err)
			}
			if err := h.bridge.Deliver(ctx, r); err != nil {
				t.Fatal(err)
			}
			if n := d.sends(h); n != 1 {
				t.Errorf("%d sends, want 1", n)
			}
			if dl := h.message(t, r).Delivery; dl == nil || dl.Status != chat.DeliverySent {
				t.Errorf("delivery %+v, want sent", dl)
			}
		})
	}
}

// For each channel: a file of a message is copied into our bucket (fetched
// with the tenant's credentials where the provider needs them), read through
// a link to our copy, exported with its bytes, and erased with its contact;
// the erased identity is then refused.
func TestAttachmentCopiedExportedAndErased(t *testing.T) {
	data := append([]byte("\xff\xd8\xff\xe0JFIF"), bytes.Repeat([]byte{9}, 1500)...)
	for _, d := range drivers {
		if d.file == nil {
			continue // no files copied: TestXMediaShownNotCopied
		}
		t.Run(d.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			ten := h.tenant(t)
			c, in := h.connect(t, ten, d)
			h.post(t, d, c, in, d.file(h, in, 3, d.user(3), data))
			msgs := h.messages(t, ten.ID)
			if len(msgs) != 1 || len(msgs[0].Attachments) != 1 {
				t.Fatalf("stored %+v, want one message with a file", msgs)
			}
			m, a := msgs[0], msgs[0].Attachments[0]
			if a.Size != int64(len(data)) || !strings.HasPrefix(a.Key, "attachments/"+ten.ID+"/"+m.ContactID+"/") {
				t.Errorf("attachment %+v", a)
			}
			if err := h.files.Links(ctx, []*chat.Message{m}); err != nil {
				t.Fatal(err)
			}
			res, err := http.Get(m.Attachments[0].URL)
			if err != nil {
				t.Fatal(err)
			}
			got := new(bytes.Buffer)
			got.ReadFrom(res.Body)
			res.Body.Close()
			if !bytes.Equal(got.Bytes(), data) {
				t.Errorf("the link serves %d bytes", got.Len())
			}
			for _, s := range []string{c.BotToken, c.AccessToken, c.AuthToken} {
				if s != "" && strings.Contains(m.Attachments[0].URL, s) {
					t.Error("the link carries the tenant's token")
				}
			}
			doc := privacytest.Export(t, h.st, h.bucket, h.files, ten.ID, m.ContactID)
			if len(doc.Files) != 1 || !bytes.Equal(doc.Files[0].Data, data) {
				t.Errorf("export files: %d", len(doc.Files))
			}
			privacytest.Erase(t, h.st, h.bucket, ten.ID, m.ContactID, h.files)
			if fs, err := h.files.SubjectFiles(ctx, ten.ID, m.ContactID); err != nil || len(fs) != 0 {
				t.Errorf("files after erasure: %d %v", len(fs), err)
			}
			left, err := h.st.SubjectHoldings(ctx, ten.ID, []string{m.ContactID}, false)
			if err != nil || len(left.ExportRows()) != 0 {
				t.Errorf("items left after erasure: %v", err)
			}
			before := h.items(t)
			h.post(t, d, c, in, d.text(in, 4, d.user(3), "me again"))
			if after := h.items(t); after != before {
				t.Errorf("the erased identity was stored again: %d -> %d", before, after)
			}
		})
	}
}
