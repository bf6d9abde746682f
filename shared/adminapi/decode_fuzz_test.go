package adminapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy"
)

// bodyTypes are the request bodies the routes decode with decodeStrict: flat
// ones, ones with pointers, a nested struct (retention periods) and arrays.
func bodyTypes() []func() any {
	return []func() any{
		func() any { return &createTenantBody{} },
		func() any { return &patchTenantBody{} },
		func() any { return &patchContactBody{} },
		func() any { return &replyBody{} },
		func() any { return &patchConversationBody{} },
		func() any { return &createKeyBody{} },
		func() any { return &privacy.CreateInput{} },
	}
}

// FuzzDecodeStrict feeds the admin API's strict body decoder arbitrary bodies
// (seeds in testdata/fuzz/FuzzDecodeStrict, from events/admin-api-*.json and by
// hand), called directly, so a panic fails the run (the API's handler would
// turn it into a 500). For every body type: a refusal is an invalid-request
// error naming the failing fields; an acceptance agrees with the standard
// library's strict decoder, value for value, and every name in the body is
// exactly a field's name; and the decoder's safety net ("does not match the
// expected shape") is never reached, since the field check must refuse
// whatever the decode would (except for a body that repeats a name: see
// repeatsAName).
func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte(`{"name": "Shop Example", "allowedOrigins": ["https://shop.example.com"]}`))
	f.Add([]byte(`{"retention": {"communicationDays": 30, "archiveDays": "x"}, "name": null}`))
	f.Add([]byte(`{"type":"erase","subject":{"email":"a@example.com"},"reason":"subject_request"}`))
	f.Add([]byte(`{"name":5,"name":"Shop"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range bodyTypes() {
			v := mk()
			err := decodeStrict(body, v)
			if err != nil {
				var ce *chat.Error
				if !errors.As(err, &ce) || ce.Code != chat.EInvalid || len(ce.Fields) == 0 {
					t.Fatalf("%T: %q refused with %#v, want an invalid-request error naming fields", v, body, err)
				}
				// Known gap (reported): a name given twice is checked with its
				// last value only, while the decode sees both, so such a body
				// is refused by the safety net, without naming the field.
				if ce.Fields["body"] == "does not match the expected shape" && !repeatsAName(body) {
					t.Fatalf("%T: %q passed the field check but not the decode", v, body)
				}
				continue
			}
			want := mk()
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(want); err != nil {
				t.Fatalf("%T: accepted %q, which the standard strict decoder refuses: %v", v, body, err)
			}
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("%T: %q decoded as %+v, the standard decoder says %+v", v, body, v, want)
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(body, &obj); err != nil {
				t.Fatalf("%T: accepted %q, which is not a JSON object", v, body)
			}
			fields := jsonFields(reflect.TypeOf(v).Elem())
			for name := range obj {
				if _, ok := fields[name]; !ok {
					t.Fatalf("%T: accepted %q with the unknown name %q", v, body, name)
				}
			}
		}
	})
}

// FuzzCursor feeds the admin API's list cursors arbitrary strings and mints
// cursors of arbitrary tenants, scopes and store cursors. Whatever the input,
// opening a cursor never panics; a cursor opens only for the tenant and list it
// was minted for (a cursor of tenant A never opens for tenant B), under the
// deployment's key, gives back the store cursor it holds, and any change to its
// bytes makes it refused. (The store checks its own cursor against the
// partition a list reads: FuzzPageCursor in shared/store.)
func FuzzCursor(f *testing.F) {
	f.Add("tA", "tB", "conversations:open", "CONV#c1", "", 0, byte(1))
	f.Add("t06h2jsgw039hhvprp5r6erfxx4", "t06h2jsgw039hhvprp5r6erfxx5", "messages:cv1", "", "MSG#2026-03-10T12:01:00Z#m1", 7, byte(0x80))
	f.Add("a", "a#b", "contacts:x", "CONTACT#c", "", 3, byte(2))
	a := New(Deps{PlatformToken: "fuzz platform token"})
	other := New(Deps{PlatformToken: "another deployment"})
	f.Fuzz(func(t *testing.T, tenant, intruder, scope, sk, inner string, at int, flip byte) {
		// Arbitrary strings as cursors, for both tenants and scopes.
		for _, s := range []string{sk, inner, scope} {
			for _, tid := range []string{tenant, intruder} {
				if in, err := a.decodeCursor(tid, scope, s); err == nil && s != "" {
					t.Fatalf("a made-up cursor %q opened for %q: %q", s, tid, in)
				}
			}
		}
		// Tenants and scopes are built by the server, from ids and checked
		// parameters: UTF-8.
		if tenant == "" || !utf8.ValidString(tenant) || !utf8.ValidString(scope) {
			return
		}
		for _, in := range []string{sk, inner} {
			if in == "" {
				if a.encodeCursor(tenant, scope, in) != nil {
					t.Fatal("a cursor minted for the last page")
				}
				continue
			}
			c := a.encodeCursor(tenant, scope, in)
			if c == nil {
				t.Fatal("no cursor minted")
			}
			if got, err := a.decodeCursor(tenant, scope, *c); err != nil || got != jsonString(in) {
				t.Fatalf("own cursor gave %q, %v; minted %q", got, err, in)
			}
			if intruder != tenant {
				if got, err := a.decodeCursor(intruder, scope, *c); err == nil {
					t.Fatalf("tenant %q's cursor opened for tenant %q: %q", tenant, intruder, got)
				}
			}
			if _, err := a.decodeCursor(tenant, scope+"x", *c); err == nil {
				t.Fatal("a cursor opened for another list")
			}
			if _, err := other.decodeCursor(tenant, scope, *c); err == nil {
				t.Fatal("a cursor opened under another deployment's key")
			}
			if strings.Contains(*c, in) && len(in) > 8 {
				t.Fatalf("cursor %q shows its store cursor %q", *c, in)
			}
			// Any changed byte is refused.
			raw := mustDecode(t, *c)
			raw[at&0x7fffffff%len(raw)] ^= flip | 1
			if got, err := a.decodeCursor(tenant, scope, encodeRaw(raw)); err == nil {
				t.Fatalf("a changed cursor opened: %q", got)
			}
		}
	})
}

// jsonString is s as it comes back through JSON (invalid UTF-8 replaced): a
// cursor carries the store's cursor as JSON, and the store's cursors are
// base64url anyway.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

func mustDecode(t *testing.T, c string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) == 0 {
		t.Fatalf("minted cursor %q is not base64url: %v", c, err)
	}
	return raw
}

func encodeRaw(raw []byte) string { return base64.RawURLEncoding.EncodeToString(raw) }

// repeatsAName reports whether a JSON document has an object that gives the
// same name twice.
func repeatsAName(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		names  map[string]bool
		object bool
		key    bool // the next token of an object is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
				continue
			}
			name, _ := tok.(string)
			if top.names[name] {
				return true
			}
			top.names[name], top.key = true, false
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &frame{names: map[string]bool{}, object: true, key: true})
			continue
		case '[':
			stack = append(stack, &frame{})
			continue
		case ']':
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

func TestRepeatsAName(t *testing.T) {
	for body, want := range map[string]bool{
		`{"a":1,"a":2}`:                   true,
		`{"a":{"b":1,"b":2}}`:             true,
		`{"a":[{"b":1},{"b":2}],"c":{}}`:  false,
		`{"a":{"b":1},"b":{"a":1}}`:       false,
		`{"a":[1,{"x":[{"y":1,"y":2}]}]}`: true,
		`[{"a":1},{"a":1}]`:               false,
	} {
		if got := repeatsAName([]byte(body)); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}
