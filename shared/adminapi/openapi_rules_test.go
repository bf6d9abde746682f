package adminapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/ids"
)

// The rules the handlers enforce on names, emails, phones, the Idempotency-Key
// header and the suppression lift are stated in openapi.yaml as JSON Schema. These
// tests keep the two in step: sample values go through the document's schemas
// (evaluated below, patterns compiled with Go's regexp) and through the handlers,
// and the verdicts must agree. Where the schema cannot say what the API does
// (it trims surrounding white space, and counts an email's length in bytes), a
// sample names the difference; otherwise the schema is never looser than the API.

// schemas evaluates the JSON Schema keywords openapi.yaml uses on request values.
// A keyword it does not know fails the test rather than pass unchecked.
type schemas struct {
	t   testing.TB
	doc map[string]any
	res map[string]*regexp.Regexp
}

func newSchemas(t *testing.T) *schemas {
	return &schemas{t: t, doc: loadOpenAPI(t), res: map[string]*regexp.Regexp{}}
}

// dig follows keys from v; a missing one fails the test.
func dig(t testing.TB, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("openapi.yaml: %s is not an object", strings.Join(keys[:i], " / "))
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("openapi.yaml: no %s", strings.Join(keys[:i+1], " / "))
		}
	}
	return v
}

func (s *schemas) ref(ref string) any {
	s.t.Helper()
	return dig(s.t, s.doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
}

// body is the JSON request body schema of an operation.
func (s *schemas) body(method, path string) any {
	s.t.Helper()
	return dig(s.t, s.doc, "paths", path, strings.ToLower(method), "requestBody", "content", "application/json", "schema")
}

// param is the schema of an operation's parameter (its own or a referenced one).
func (s *schemas) param(method, path, in, name string) any {
	s.t.Helper()
	ps, _ := dig(s.t, s.doc, "paths", path, strings.ToLower(method), "parameters").([]any)
	for _, p := range ps {
		m := p.(map[string]any)
		if r, ok := m["$ref"].(string); ok {
			m = s.ref(r).(map[string]any)
		}
		if m["in"] == in && m["name"] == name {
			return m["schema"]
		}
	}
	s.t.Fatalf("openapi.yaml: %s %s documents no %s parameter %s", method, path, in, name)
	return nil
}

// regexp compiles a pattern after checking it keeps to the syntax ECMA-262 (what
// JSON Schema means) and Go read alike.
func (s *schemas) regexp(p string) *regexp.Regexp {
	s.t.Helper()
	if re, ok := s.res[p]; ok {
		return re
	}
	if err := portablePattern(p); err != nil {
		s.t.Fatalf("pattern %q: %v", p, err)
	}
	re, err := regexp.Compile(p)
	if err != nil {
		s.t.Fatalf("pattern %q: %v", p, err)
	}
	s.res[p] = re
	return re
}

// portablePattern allows the escapes \xHH, \d and escaped punctuation, and the
// group (?:...): \s, \b, \p, \u, \x{...}, \z, (?i), (?P<...>) and POSIX classes
// differ or do not exist in one of the two.
func portablePattern(p string) error {
	hex := func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			switch {
			case i+1 >= len(p):
				return fmt.Errorf("ends in a backslash")
			case p[i+1] == 'x':
				if i+3 >= len(p) || !hex(p[i+2]) || !hex(p[i+3]) {
					return fmt.Errorf(`\x at %d is not \xHH`, i)
				}
				i += 3
			case strings.IndexByte(`\.[]()-+*?^$/{}|d`, p[i+1]) >= 0:
				i++
			default:
				return fmt.Errorf(`escape \%c at %d`, p[i+1], i)
			}
		case '(':
			if strings.HasPrefix(p[i+1:], "?") && !strings.HasPrefix(p[i+1:], "?:") {
				return fmt.Errorf("group (%s at %d", p[i+1:min(len(p), i+4)], i)
			}
		case '[':
			if strings.HasPrefix(p[i+1:], ":") || strings.HasPrefix(p[i+1:], "^:") {
				return fmt.Errorf("POSIX class at %d", i)
			}
		}
	}
	return nil
}

// valid reports whether v (as json.Unmarshal makes it) is valid under sch.
func (s *schemas) valid(sch, v any) bool {
	s.t.Helper()
	if b, ok := sch.(bool); ok {
		return b
	}
	m, ok := sch.(map[string]any)
	if !ok {
		s.t.Fatalf("schema %v is not an object", sch)
	}
	obj, isObj := v.(map[string]any)
	str, isStr := v.(string)
	ok = true
	for k, kw := range m {
		switch k {
		case "$ref":
			ok = s.valid(s.ref(kw.(string)), v)
		case "type":
			ok = hasType(kw, v)
		case "minLength":
			ok = !isStr || utf8.RuneCountInString(str) >= toInt(kw)
		case "maxLength":
			ok = !isStr || utf8.RuneCountInString(str) <= toInt(kw)
		case "pattern":
			ok = !isStr || s.regexp(kw.(string)).MatchString(str)
		case "enum":
			ok = false
			for _, e := range kw.([]any) {
				ok = ok || equalJSON(e, v)
			}
		case "const":
			ok = equalJSON(kw, v)
		case "required":
			for _, name := range kw.([]any) {
				if _, has := obj[name.(string)]; isObj && !has {
					ok = false
				}
			}
		case "properties":
			for name, ps := range kw.(map[string]any) {
				if x, has := obj[name]; isObj && has && !s.valid(ps, x) {
					ok = false
				}
			}
		case "additionalProperties":
			props, _ := m["properties"].(map[string]any)
			for name, x := range obj {
				if _, declared := props[name]; isObj && !declared && !s.valid(kw, x) {
					ok = false
				}
			}
		case "minimum":
			n, isNum := v.(float64)
			ok = !isNum || n >= float64(toInt(kw))
		case "maximum":
			n, isNum := v.(float64)
			ok = !isNum || n <= float64(toInt(kw))
		case "minProperties":
			ok = !isObj || len(obj) >= toInt(kw)
		case "oneOf", "anyOf", "allOf":
			n := 0
			for _, sub := range kw.([]any) {
				if s.valid(sub, v) {
					n++
				}
			}
			subs := len(kw.([]any))
			ok = map[string]bool{"oneOf": n == 1, "anyOf": n >= 1, "allOf": n == subs}[k]
		case "description", "title", "format", "examples", "default":
			// Annotations ("format" asserts nothing in JSON Schema 2020-12).
		default:
			if strings.HasPrefix(k, "x-") { // OpenAPI extensions
				continue
			}
			s.t.Fatalf("the test's schema evaluator does not know the keyword %q: teach it, or the rule goes unchecked", k)
		}
		if !ok {
			return false
		}
	}
	return true
}

func hasType(kw, v any) bool {
	if list, ok := kw.([]any); ok {
		for _, k := range list {
			if hasType(k, v) {
				return true
			}
		}
		return false
	}
	switch kw {
	case "string":
		_, ok := v.(string)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "null":
		return v == nil
	}
	return false
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	panic(fmt.Sprintf("not a number: %v", v))
}

func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("sample %s: %v", s, err)
	}
	return v
}

// TestOpenAPI_PatternsArePortable compiles every pattern of the document with
// Go's regexp after checking it uses only syntax that ECMA-262 reads the same way.
func TestOpenAPI_PatternsArePortable(t *testing.T) {
	s := newSchemas(t)
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if p, ok := e.(string); ok && k == "pattern" {
					s.regexp(p)
					n++
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(s.doc)
	if n == 0 {
		t.Fatal("openapi.yaml has no patterns")
	}
}

// TestOpenAPI_CharacterRulesHoldForEveryCharacter checks the character classes of
// the patterns against the handlers' rules, code point by code point: names
// take no control character (unicode.IsControl) and must not be blank after
// trimming (unicode.IsSpace, what strings.TrimSpace removes); an Idempotency-Key
// is printable ASCII. TestOpenAPI_RulesAgreeWithTheHandlers checks the handlers
// themselves at the edges of these classes.
func TestOpenAPI_CharacterRulesHoldForEveryCharacter(t *testing.T) {
	s := newSchemas(t)
	name := s.ref("#/components/schemas/Name")
	agentName := s.ref("#/components/schemas/AgentName")
	display := s.ref("#/components/schemas/DisplayName")
	notBlank := s.ref("#/components/schemas/NotBlank")
	idem := s.param(http.MethodPost, "/v1/conversations/{id}/messages", "header", "Idempotency-Key")
	// Every code point of the Basic Multilingual Plane, where the classes draw
	// their lines, and a sample of the planes above it.
	for r := rune(0); r <= unicode.MaxRune; r = next(r) {
		if utf8.RuneLen(r) < 0 { // surrogates: no Go string holds one
			continue
		}
		c := string(r)
		checks := []struct {
			what   string
			sch    any
			v      string
			handle bool
		}{
			{"DisplayName", display, "a" + c + "a", !unicode.IsControl(r)},
			{"Name", name, "a" + c + "a", !unicode.IsControl(r)},
			{"Name", name, c, !unicode.IsControl(r) && !unicode.IsSpace(r)},
			{"AgentName", agentName, c, !unicode.IsControl(r) && !unicode.IsSpace(r)},
			{"NotBlank", notBlank, c, !unicode.IsSpace(r)},
			{"Idempotency-Key", idem, c, r <= unicode.MaxASCII && !unicode.IsControl(r)},
		}
		for _, ck := range checks {
			if got := s.valid(ck.sch, ck.v); got != ck.handle {
				t.Errorf("%s %q (U+%04X): schema says valid=%v, the API's rule %v", ck.what, ck.v, r, got, ck.handle)
			}
		}
	}
}

// next steps by one through the Basic Multilingual Plane, then by 0x101, ending
// on unicode.MaxRune.
func next(r rune) rune {
	switch {
	case r < 0xFFFF:
		return r + 1
	case r < unicode.MaxRune:
		return min(r+0x101, unicode.MaxRune)
	}
	return unicode.MaxRune + 1
}

// sample is a value and the API's verdict on it. differs says why the schema's
// verdict is the opposite; it is empty when the two agree.
type sample struct {
	v       string
	ok      bool
	differs string
}

// Reasons the schema and the API may disagree.
const (
	trimmed   = "the API trims surrounding white space first"
	ipLiteral = "the API also takes an IP literal as the domain"
	utf8Bytes = "maxLength counts characters, the API counts UTF-8 bytes"
	noLimit   = "the lift checks no length (an identity that long is never suppressed: 404)"
	emptyIsNo = "the API takes an empty or null field as absent"
)

// rule sends one sample through the schema and through the API.
type rule struct {
	name     string
	schema   any                // the schema of the value, found in openapi.yaml
	instance func(v string) any // the value as the schema sees it (the JSON of the body, ...)
	handler  func(v string) response
	accept   int    // the status of an accepted sample (a rejected one is 400)
	field    string // the field a 400 names ("" to not check)
	samples  []sample
}

// TestOpenAPI_RulesAgreeWithTheHandlers sends sample values to the handlers and
// evaluates them against the document's schemas: the verdicts must agree, or the
// sample says why not, and the schema never accepts what the API refuses except
// for the one length it cannot state.
func TestOpenAPI_RulesAgreeWithTheHandlers(t *testing.T) {
	s := newSchemas(t)
	e := newEnv(t)
	f := e.newFixture("Rules")
	// Hundreds of requests a second with the same keys: out of the limiter's way.
	wantStatus(t, "raise the key limit", e.call("PATCH", "/v1/tenant", f.OwnerKey, `{"rateLimits":{"apiKey":{"burst":10000,"perMinute":60000}}}`), 200)
	noConv := "/v1/conversations/" + ids.New(ids.Conversation) + "/messages" // validation comes before the lookup: 404 when valid
	noContact := "/v1/contacts/" + ids.New(ids.Contact)

	long := func(n int) string { return strings.Repeat("a", n-len("@example.com")) + "@example.com" }
	emails := []sample{
		{"ann@example.com", true, ""},
		{"Ann.Lee+tag@Sub.Example.co", true, ""},
		{"a@b", true, ""},
		{"o'brien@example.ie", true, ""},
		{"!#$%&'*+-/=?^_`{|}~@example.com", true, ""},
		{"josé@exämple.de", true, ""},
		{"用户@例子.广告", true, ""},
		{"a\u00a0b@example.com", true, ""}, // UTF-8 is atext to Go's parser, even a no-break space
		{long(254), true, ""},
		{long(255), false, ""},
		{strings.Repeat("é", 130) + "@example.com", false, utf8Bytes},
		{" ann@example.com ", true, trimmed},
		{"ann@[192.0.2.1]", true, ipLiteral},
		{"ann@[2001:db8::1]", true, ipLiteral},
		{"ann@[192.0.2.256]", false, ""},
		{"", false, ""},
		{"not an email", false, ""},
		{"ann", false, ""},
		{"ann@", false, ""},
		{"@example.com", false, ""},
		{"ann@@example.com", false, ""},
		{"a@b@example.com", false, ""},
		{".ann@example.com", false, ""},
		{"ann.@example.com", false, ""},
		{"an..n@example.com", false, ""},
		{"ann@.example.com", false, ""},
		{"ann@example..com", false, ""},
		{"ann@example.com.", false, ""},
		{"ann @example.com", false, ""},
		{"ann@exa mple.com", false, ""},
		{"ann\t@example.com", false, ""},
		{"ann\x00@example.com", false, ""},
		{"ann\x7f@example.com", false, ""},
		{"Ann <ann@example.com>", false, ""},
		{"<ann@example.com>", false, ""},
		{"ann@example.com (Ann)", false, ""},
		{"(Ann) ann@example.com", false, ""},
		{`"ann"@example.com`, false, ""},
		{`"a b"@example.com`, false, ""},
		{"ann,bob@example.com", false, ""},
		{"ann@example.com, bob@example.com", false, ""},
		{"ann;x@example.com", false, ""},
		{`a\b@example.com`, false, ""},
	}
	// The contact patch takes "" (and white space) to clear the email.
	patchEmails := append([]sample{{"", true, ""}, {"   ", true, trimmed}}, without(emails, "")...)
	// The lift checks no length, so there is no byte count to disagree on.
	liftEmails := []sample{}
	for _, sm := range emails {
		switch sm.v {
		case long(255):
			sm = sample{sm.v, true, noLimit}
		case strings.Repeat("é", 130) + "@example.com":
			sm = sample{sm.v, true, ""}
		}
		liftEmails = append(liftEmails, sm)
	}

	names := []sample{
		{"Ann", true, ""},
		{"Zoë Ångström-Ødegaard", true, ""},
		{" Ann ", true, ""},
		{"Ann\u00a0Lee", true, ""},
		{"Ann\u2028Lee", true, ""}, // a line separator is white space, not a control
		{"\u200b", true, ""},       // a zero-width space is neither
		{"\ufeff", true, ""},
		{"🙂", true, ""},
		{strings.Repeat("é", 200), true, ""},
		{strings.Repeat("🙂", 200), true, ""},
		{strings.Repeat("é", 201), false, ""},
		{"Ann\x00", false, ""},
		{"A\tB", false, ""},
		{"A\nB", false, ""},
		{"A\rB", false, ""},
		{"A\x1fB", false, ""},
		{"A\x7fB", false, ""},
		{"A\u0080B", false, ""},
		{"A\u0085B", false, ""},
		{"A\u009fB", false, ""},
		{"\tAnn\n", true, trimmed},
		{" " + strings.Repeat("a", 200), true, trimmed},
	}
	// Required names (tenant, API key): blank is missing.
	required := append([]sample{
		{"", false, ""},
		{" ", false, ""},
		{"\u3000", false, ""},
		{"\u00a0\u2028", false, ""},
		{"\t", false, ""},
	}, names...)
	optional := append([]sample{{"", true, ""}, {" ", true, ""}, {"\u3000", true, ""}, {"\t", true, trimmed}}, names...)
	// Agent names: required names of at most 100 characters.
	agentNames := []sample{
		{strings.Repeat("é", 100), true, ""},
		{strings.Repeat("🙂", 100), true, ""},
		{strings.Repeat("é", 101), false, ""},
		{" " + strings.Repeat("a", 100), true, trimmed},
	}
	for _, sm := range required {
		if utf8.RuneCountInString(sm.v) <= 100 {
			agentNames = append(agentNames, sm)
		}
	}

	rules := []rule{
		{
			name:     "agentName of POST /v1/conversations/{id}/messages",
			schema:   s.body("POST", "/v1/conversations/{id}/messages"),
			instance: func(v string) any { return obj("text", "hi", "agentName", v) },
			handler:  func(v string) response { return e.call("POST", noConv, f.AgentKey, js("text", "hi", "agentName", v)) },
			accept:   http.StatusNotFound, field: "agentName", samples: optional,
		},
		{
			name:     "name of PATCH /v1/contacts/{id}",
			schema:   s.body("PATCH", "/v1/contacts/{id}"),
			instance: func(v string) any { return obj("name", v) },
			handler:  func(v string) response { return e.call("PATCH", noContact, f.OwnerKey, js("name", v)) },
			accept:   http.StatusNotFound, field: "name", samples: optional,
		},
		{
			name:     "name of PATCH /v1/tenant",
			schema:   s.body("PATCH", "/v1/tenant"),
			instance: func(v string) any { return obj("name", v) },
			handler:  func(v string) response { return e.call("PATCH", "/v1/tenant", f.OwnerKey, js("name", v)) },
			accept:   http.StatusOK, field: "name", samples: required,
		},
		{
			name:     "name of POST /v1/api-keys",
			schema:   s.body("POST", "/v1/api-keys"),
			instance: func(v string) any { return obj("name", v, "role", "agent") },
			handler: func(v string) response {
				return e.call("POST", "/v1/api-keys", f.OwnerKey, js("name", v, "role", "agent"))
			},
			accept: http.StatusCreated, field: "name", samples: required,
		},
		{
			name:     "name of POST /v1/agent-tokens",
			schema:   s.body("POST", "/v1/agent-tokens"),
			instance: func(v string) any { return obj("name", v) },
			handler:  func(v string) response { return e.call("POST", "/v1/agent-tokens", f.AgentKey, js("name", v)) },
			accept:   http.StatusCreated, field: "name", samples: agentNames,
		},
		{
			name:     "Idempotency-Key of POST /v1/conversations/{id}/messages",
			schema:   s.param("POST", "/v1/conversations/{id}/messages", "header", "Idempotency-Key"),
			instance: func(v string) any { return v },
			handler: func(v string) response {
				return e.request("POST", noConv, f.AgentKey, `{"text":"hi"}`, map[string]string{"idempotency-key": v})
			},
			accept: http.StatusNotFound, field: "Idempotency-Key",
			samples: []sample{
				{"", true, ""}, // no key
				{"retry-0001", true, ""},
				{"9f1c2a8e-5b7d-4e1a-9c3f-1a2b3c4d5e6f", true, ""},
				{" ", true, ""},
				{"a b~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", true, ""},
				{strings.Repeat("k", 100), true, ""},
				{strings.Repeat("k", 101), false, ""},
				{"é", false, ""},
				{"\u00a0", false, ""},
				{"a\x7f", false, ""},
				{"a\x00", false, ""},
				{"a\tb", false, ""},
				{"a\x1f", false, ""},
			},
		},
		{
			name:     "email of PATCH /v1/contacts/{id}",
			schema:   s.body("PATCH", "/v1/contacts/{id}"),
			instance: func(v string) any { return obj("email", v) },
			handler:  func(v string) response { return e.call("PATCH", noContact, f.OwnerKey, js("email", v)) },
			accept:   http.StatusNotFound, field: "email", samples: patchEmails,
		},
		{
			name:     "email of GET /v1/contacts",
			schema:   s.param("GET", "/v1/contacts", "query", "email"),
			instance: func(v string) any { return v },
			handler: func(v string) response {
				return e.call("GET", "/v1/contacts?email="+url.QueryEscape(v), f.OwnerKey, "")
			},
			accept: http.StatusOK, field: "email", samples: emails,
		},
		{
			name:   "subject email of POST /v1/privacy-requests",
			schema: s.body("POST", "/v1/privacy-requests"),
			instance: func(v string) any {
				return map[string]any{"type": "export", "reason": "legal", "subject": obj("email", v)}
			},
			handler: func(v string) response {
				return e.call("POST", "/v1/privacy-requests", f.OwnerKey, `{"type":"export","reason":"legal","subject":`+js("email", v)+`}`)
			},
			accept: http.StatusAccepted, samples: emails,
		},
		{
			name:     "email of POST /v1/suppressions/lift",
			schema:   s.body("POST", "/v1/suppressions/lift"),
			instance: func(v string) any { return obj("email", v) },
			handler:  func(v string) response { return e.call("POST", "/v1/suppressions/lift", f.OwnerKey, js("email", v)) },
			accept:   http.StatusNotFound, samples: liftEmails,
		},
		{
			name:     "phone of PATCH /v1/contacts/{id}",
			schema:   s.body("PATCH", "/v1/contacts/{id}"),
			instance: func(v string) any { return obj("phone", v) },
			handler:  func(v string) response { return e.call("PATCH", noContact, f.OwnerKey, js("phone", v)) },
			accept:   http.StatusNotFound, field: "phone",
			samples: []sample{
				{"", true, ""},
				{"1234", true, ""},
				{" 1234 ", true, ""},
				{"+1 (555) 010-0199", true, ""},
				{"+44 20 7946 0958", true, ""},
				{"12.34", true, ""},
				{"((+1234))", true, ""},
				{strings.Repeat("1", 20), true, ""},
				{strings.Repeat("1-", 20), true, ""}, // 40 characters
				{strings.Repeat("1-", 20) + "-", false, ""},
				{strings.Repeat("1", 21), false, ""},
				{"123", false, ""},
				{"1-2-3", false, ""},
				{"+-() .", false, ""},
				{"12a4", false, ""},
				{"1234 ext 5", false, ""},
				{"1234/5", false, ""},
				{"1234#", false, ""},
				{"１２３４", false, ""}, // full-width digits
				{"١٢٣٤", false, ""}, // Arabic-Indic digits
				{"1234\x00", false, ""},
				{"12\t34", false, ""},
				{"   ", true, trimmed},
				{"\t1234\n", true, trimmed},
			},
		},
		{
			name:     "body of POST /v1/suppressions/lift",
			schema:   s.body("POST", "/v1/suppressions/lift"),
			instance: func(v string) any { return decodeJSON(t, v) },
			handler:  func(v string) response { return e.call("POST", "/v1/suppressions/lift", f.OwnerKey, v) },
			accept:   http.StatusNotFound,
			samples: []sample{
				{`{"email":"ann@example.com"}`, true, ""},
				{`{"contactId":"` + ids.New(ids.Contact) + `"}`, true, ""},
				{`{"contactId":"any text"}`, true, ""},
				{`{"contactId":"\u200b"}`, true, ""},
				{`{"channel":"slack","externalId":"U0123ABC"}`, true, ""},
				{`{"channel":" ","externalId":" "}`, true, ""}, // not trimmed
				{`{}`, false, ""},
				{`{"email":"ann@example.com","contactId":"c1"}`, false, ""},
				{`{"email":"ann@example.com","channel":"slack","externalId":"U1"}`, false, ""},
				{`{"contactId":"c1","channel":"slack","externalId":"U1"}`, false, ""},
				{`{"email":"ann@example.com","contactId":"c1","channel":"slack","externalId":"U1"}`, false, ""},
				{`{"channel":"slack"}`, false, ""},
				{`{"externalId":"U1"}`, false, ""},
				{`{"channel":"","externalId":"U1"}`, false, ""},
				{`{"channel":"slack","externalId":""}`, false, ""},
				{`{"email":""}`, false, ""},
				{`{"email":"not an email"}`, false, ""},
				{`{"contactId":""}`, false, ""},
				{`{"contactId":"   "}`, false, ""},
				{`{"contactId":"\u3000\t"}`, false, ""},
				{`{"email":5}`, false, ""},
				{`{"bogus":"x"}`, false, ""},
				{`{"contactId":"c1","bogus":"x"}`, false, ""},
				{`[]`, false, ""},
				{`{"email":" ann@example.com "}`, true, trimmed},
				{`{"contactId":" c1 "}`, true, ""},
				{`{"email":"","contactId":"c1"}`, true, emptyIsNo},
				{`{"email":null,"contactId":"c1"}`, true, emptyIsNo},
				{`{"channel":"slack","externalId":"U1","contactId":"  "}`, true, emptyIsNo},
			},
		},
	}
	// A limit of the tenant's rate limits; each body keeps this test's own key
	// limit raised, as the whole rateLimits object is replaced.
	limitBody := func(v string) string {
		return `{"rateLimits":{"apiKey":{"burst":10000,"perMinute":60000},"sendMessage":` + v + `}}`
	}
	rules = append(rules, rule{
		name:     "rateLimits.sendMessage of PATCH /v1/tenant",
		schema:   s.body("PATCH", "/v1/tenant"),
		instance: func(v string) any { return decodeJSON(t, limitBody(v)) },
		handler:  func(v string) response { return e.call("PATCH", "/v1/tenant", f.OwnerKey, limitBody(v)) },
		accept:   http.StatusOK,
		samples: []sample{
			{`{}`, true, ""},
			{`{"burst":0,"perMinute":0}`, true, ""},
			{`{"burst":2}`, true, ""},
			{`{"burst":10000,"perMinute":60000}`, true, ""},
			{`{"perMinute":1}`, true, ""},
			{`{"burst":1}`, false, ""},
			{`{"burst":-1}`, false, ""},
			{`{"burst":10001}`, false, ""},
			{`{"perMinute":-5}`, false, ""},
			{`{"perMinute":60001}`, false, ""},
			{`{"burst":2.5}`, false, ""},
			{`{"burst":"20"}`, false, ""},
			{`{"rate":20}`, false, ""},
			{`[]`, false, ""},
		},
	})
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			s := &schemas{t: t, doc: s.doc, res: s.res}
			seen := map[string]bool{}
			for _, sm := range r.samples {
				if seen[sm.v] {
					t.Fatalf("sample %q twice", sm.v)
				}
				seen[sm.v] = true
				res := r.handler(sm.v)
				var api bool
				switch res.Status {
				case r.accept:
					api = true
				case http.StatusBadRequest:
					if p := res.json(t); r.field != "" && !slices.Contains(fields(t, p), r.field) {
						t.Errorf("%q: the 400 does not name %s: %s", sm.v, r.field, res.Body)
					}
				default:
					t.Fatalf("%q: status %d: %s", sm.v, res.Status, res.Body)
				}
				sch := s.valid(r.schema, r.instance(sm.v))
				switch {
				case api != sm.ok:
					t.Errorf("%q: the API says valid=%v (%d), the sample says %v", sm.v, api, res.Status, sm.ok)
				case sm.differs == "" && sch != api:
					t.Errorf("%q: the schema says valid=%v, the API %v", sm.v, sch, api)
				case sm.differs != "" && sch == api:
					t.Errorf("%q: the schema and the API agree (valid=%v); the sample says they differ: %s", sm.v, api, sm.differs)
				case sch && !api && sm.differs != utf8Bytes:
					t.Errorf("%q: the schema accepts what the API refuses", sm.v)
				}
			}
		})
	}
}

// obj builds a JSON object from key, value pairs.
func obj(kv ...string) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// js is obj as JSON text.
func js(kv ...string) string {
	b, _ := json.Marshal(obj(kv...))
	return string(b)
}

func without(ss []sample, v string) []sample {
	var out []sample
	for _, s := range ss {
		if s.v != v {
			out = append(out, s)
		}
	}
	return out
}
