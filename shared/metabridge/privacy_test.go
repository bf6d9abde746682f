package metabridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/privacytest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/meta"
)

var png = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 2048)...)

// attachmentBody is a Messenger message with an image on the fake CDN.
func attachmentBody(h *harness, account, user, m string) []byte {
	url := h.graph.CDN("photo-"+m, "image/png", png)
	b, _ := json.Marshal(map[string]any{"object": "page", "entry": []any{map[string]any{"id": account, "time": time.Now().UnixMilli(),
		"messaging": []any{map[string]any{"sender": map[string]string{"id": user}, "recipient": map[string]string{"id": account},
			"timestamp": time.Now().UnixMilli(), "message": map[string]any{"mid": m,
				"attachments": []any{map[string]any{"type": "image", "payload": map[string]string{"url": url}}}}}}}}})
	return b
}

// whatsAppImage is a WhatsApp image message (a media id, fetched with the token).
func whatsAppImage(phone, from, wamid, mediaID string) []byte {
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "WABA1",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]string{"display_phone_number": "15550000000", "phone_number_id": phone},
			"contacts": []any{map[string]any{"profile": map[string]string{"name": "Ana"}, "wa_id": from}},
			"messages": []any{map[string]any{"from": from, "id": wamid, "timestamp": "1767000000", "type": "image",
				"image": map[string]string{"id": mediaID, "mime_type": "image/jpeg", "caption": "my receipt"}}}}}}}}})
	return b
}

// An attachment is copied into our bucket at ingest (never linked at the
// provider's URL); agents read it through a short-lived link to our copy; a
// privacy export carries the file itself and the channel identity; an
// erasure deletes the files, the channel user and everything else, and the
// identity cannot come back.
func TestAttachmentCopiedExportedAndErased(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	h.connect(t, ten, meta.ChannelWhatsApp, "3003", false)
	h.post(t, attachmentBody(h, "1001", "psid-photo", mid()))
	m := h.only(t, ten.ID)
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	a := m.Attachments[0]
	if a.ContentType != "image/png" || a.Size != int64(len(png)) || !strings.HasPrefix(a.Key, "attachments/"+ten.ID+"/"+m.ContactID+"/") {
		t.Errorf("attachment %+v", a)
	}
	if err := h.files.Links(ctx, []*chat.Message{m}); err != nil {
		t.Fatal(err)
	}
	link := m.Attachments[0].URL
	if strings.Contains(link, "cdn") || !strings.Contains(link, "X-Amz-Expires=900") {
		t.Errorf("link %s: want a 15-minute link to our copy", link)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(got, png) {
		t.Errorf("the link serves %d bytes, want the image", len(got))
	}
	// A WhatsApp image: the media id is resolved and fetched with the token.
	h.graph.AddMedia("media-77", "image/jpeg", []byte("jpeg bytes"))
	h.post(t, whatsAppImage("3003", "15550004444", "wamid."+mid(), "media-77"))
	var wa *chat.Message
	for _, x := range h.messages(t, ten.ID) {
		if x.Channel == meta.ChannelWhatsApp {
			wa = x
		}
	}
	if wa == nil || wa.Text != "my receipt" || len(wa.Attachments) != 1 || wa.Attachments[0].Size != int64(len("jpeg bytes")) {
		t.Fatalf("whatsapp image message %+v", wa)
	}

	// Export: the file itself, and the channel identity.
	doc := privacytest.Export(t, h.st, h.bucket, h.files, ten.ID, m.ContactID)
	if len(doc.Files) != 1 || !bytes.Equal(doc.Files[0].Data, png) || doc.Files[0].Key != a.Key {
		t.Errorf("export files %+v, want the image", doc.Files)
	}
	entities := map[string]bool{}
	for _, p := range doc.Parts {
		entities[p.Entity] = true
	}
	for _, e := range []string{"channelUser", "contactChannelUser", "message", "inboundMarker"} {
		if !entities[e] {
			t.Errorf("export has no %s: %v", e, entities)
		}
	}

	// Erase: files, lookup, contact, conversation; the identity is suppressed.
	privacytest.Erase(t, h.st, h.bucket, ten.ID, m.ContactID, h.files)
	left, err := h.st.SubjectHoldings(ctx, ten.ID, []string{m.ContactID}, false)
	if err != nil {
		t.Fatal(err)
	}
	if rows := left.ExportRows(); len(rows) != 0 {
		t.Errorf("%d items of the erased contact are left (dedupe markers, identity, provider refs...): %+v", len(rows), rows)
	}
	if fs, err := h.files.SubjectFiles(ctx, ten.ID, m.ContactID); err != nil || len(fs) != 0 {
		t.Errorf("files after erasure: %d %v", len(fs), err)
	}
	if _, err := h.st.ChannelUser(ctx, ten.ID, meta.ChannelMessenger, "1001", "psid-photo"); err == nil {
		t.Error("the channel user's lookup outlived the erasure")
	}
	if fs, _ := h.files.SubjectFiles(ctx, ten.ID, wa.ContactID); len(fs) != 1 {
		t.Errorf("another contact's files: %d, want 1", len(fs))
	}
	for _, x := range h.messages(t, ten.ID) {
		if x.ContactID == m.ContactID {
			t.Errorf("message %s of the erased contact is left", x.ID)
		}
	}
	before := h.items(t)
	h.post(t, metafake.MessengerPayload("1001", "psid-photo", mid(), "it's me again"))
	if after := h.items(t); after != before {
		t.Errorf("the erased identity was stored again: %d -> %d items", before, after)
	}
}
