package frames_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
)

// decodeFrame decodes a frame as a client does: one JSON object.
func decodeFrame(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("frame %+v does not encode: %v", v, err)
	}
	if !utf8.Valid(b) {
		t.Fatalf("frame is not UTF-8: %q", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame %s does not decode: %v", b, err)
	}
	return m
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// FuzzErrorFrame maps arbitrary errors (application errors of any code, plain
// and wrapped errors) to error frames: the code is always one of the
// contract's codes, an error that is not an application error says nothing but
// "internal error" (its text may hold table names or keys), the frame names
// the clientMessageId it answers, and it holds no other fields.
func FuzzErrorFrame(f *testing.F) {
	f.Add("invalid", "text is required", "cm-1", false)
	f.Add("forbidden", "no", "", false)
	f.Add("", "operation error DynamoDB: PutItem, T#t1#CONV#cv1", "cm-2", true)
	f.Add("not_found", "not found", "x\xff", false)
	codes := []string{chat.EInvalid, chat.ETooLarge, chat.ERateLimited, chat.EUnauthorized, chat.EInternal}
	f.Fuzz(func(t *testing.T, code, message, cmid string, plain bool) {
		var err error = chat.Errorf(code, "%s", message)
		if plain {
			err = errors.New(message)
		}
		for _, e := range []error{err, fmt.Errorf("context: %w", err)} {
			fr := frames.NewError(e, cmid)
			if fr.Type != "error" || !slices.Contains(codes, fr.Code) {
				t.Fatalf("%v became %+v: not a contract code", e, fr)
			}
			if plain && (fr.Code != chat.EInternal || fr.Message != "internal error") {
				t.Fatalf("a plain error %q became %+v", message, fr)
			}
			if !plain && fr.Message != message {
				t.Fatalf("application error %q became %+v", message, fr)
			}
			m := decodeFrame(t, fr)
			want := []string{"clientMessageId", "code", "message", "type"}
			if cmid == "" {
				want = want[1:]
			}
			if got := keys(m); !slices.Equal(got, want) {
				t.Fatalf("error frame has fields %v, want %v", got, want)
			}
		}
	})
}

// FuzzMessageFrame encodes message and ack frames of arbitrary messages: they
// always encode, give the client back the text and author as stored (texts are
// UTF-8, wsmessage refuses anything else), and never carry the fields the
// contract keeps internal (tenant, contact, clientMessageId and origin
// connection of the message).
func FuzzMessageFrame(f *testing.F) {
	f.Add("m1", "Hello, is anyone there?", "visitor", "", "cm-1", int64(1795860001))
	f.Add("m2", "<script>&amp;\u2028\x00", "agent", "Ana", "", int64(0))
	f.Add("m3", "\xff\xfe", "bot", "Bot \"x\"", "slack:Ev1", int64(-62135596800))
	f.Fuzz(func(t *testing.T, id, text, kind, name, cmid string, at int64) {
		if !utf8.ValidString(text) || !utf8.ValidString(name) || !utf8.ValidString(kind) {
			return
		}
		created := time.Unix(at%(250000*86400), 0).UTC() // years 1 to 9999 and on: the server's clock
		m := &chat.Message{ID: id, ConversationID: "cv1", Author: chat.Author{Kind: kind, Name: name}, Text: text,
			Channel: chat.ChannelWidget, CreatedAt: created, TenantID: "t-secret-tenant", ContactID: "c-secret-contact",
			ClientMessageID: cmid, OriginConnectionID: "conn-secret"}
		if created.Year() < 0 || created.Year() > 9999 {
			return // outside what RFC 3339 can write; no clock is there
		}
		for _, fr := range []any{frames.NewMessage(m), frames.NewAck(cmid, m)} {
			got := decodeFrame(t, fr)
			msg, ok := got["message"].(map[string]any)
			if !ok {
				t.Fatalf("frame %v has no message", got)
			}
			if k := keys(msg); !slices.Equal(k, []string{"author", "channel", "conversationId", "createdAt", "id", "text"}) {
				t.Fatalf("message fields %v", k)
			}
			if msg["text"] != text || msg["author"].(map[string]any)["kind"] != kind {
				t.Fatalf("message %v, want text %q by %q", msg, text, kind)
			}
		}
	})
}
