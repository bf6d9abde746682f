package visitortoken_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/visitortoken"
)

const fuzzSecret = "fuzz-secret-0123456789abcdef-0123456789"

var fuzzNow = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// FuzzVerify feeds the authorizer's token check arbitrary tokens (seeds in
// testdata/fuzz/FuzzVerify: real tokens, truncated, re-signed, with claims of
// the wrong types). Verify is called directly, so a panic fails the run. A
// token is accepted only if this deployment's key signed it: anything accepted
// names a tenant and a visitor, is not expired, and is exactly the token the
// signer issues for those claims (one token per claims, no second encoding);
// and another deployment's key, or the clock past the expiry, refuses it.
func FuzzVerify(f *testing.F) {
	s := signer(fuzzSecret)
	f.Add(s.Issue("t06h2jr6gxdgdf9p4m9gzfqpd84", "c06h2jr6gxdgdf9p4m9gzfqpd84", time.Hour))
	f.Add("eyJ0IjoidDEiLCJ2IjoiYzEiLCJleHAiOjF9.AAAA")
	f.Add("replace-with-a-visitor-token")
	other := signer("another deployment's secret, 32 bytes or more")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token)
		if err != nil {
			if !errors.Is(err, visitortoken.ErrInvalid) || c != (visitortoken.Claims{}) {
				t.Fatalf("refused with %v and claims %+v", err, c)
			}
			return
		}
		if c.TenantID == "" || c.VisitorID == "" || c.ExpiresAt <= fuzzNow.Unix() {
			t.Fatalf("accepted %q with claims %+v", token, c)
		}
		if _, err := other.Verify(token); err == nil {
			t.Fatalf("another deployment's key accepted %q", token)
		}
		if _, err := s.WithClock(func() time.Time { return time.Unix(c.ExpiresAt, 0) }).Verify(token); err == nil {
			t.Fatalf("%q accepted at its expiry", token)
		}
		// The signature covers the payload exactly as sent: a token the signer
		// did not produce byte for byte would be a forgery.
		payload, _, _ := strings.Cut(token, ".")
		body, _ := base64.RawURLEncoding.DecodeString(payload)
		if base64.RawURLEncoding.EncodeToString(body) != payload {
			t.Fatalf("accepted a payload in a non-canonical encoding: %q", token)
		}
	})
}

// FuzzIssueVerify issues tokens for arbitrary claims and checks that each
// verifies as exactly what was issued (a token for tenant A never names tenant
// B), that its time limit holds, and that changing any byte of it gets it
// refused.
func FuzzIssueVerify(f *testing.F) {
	f.Add("t06h2jr6gxdgdf9p4m9gzfqpd84", "c06h2jr6gxdgdf9p4m9gzfqpd84", int64(86400), 10, byte(1))
	f.Add("t1", "c\"1", int64(1), 0, byte(0x80))
	f.Add("t", "c", int64(-5), 3, byte(2))
	s := signer(fuzzSecret)
	f.Fuzz(func(t *testing.T, tenant, visitor string, ttlSeconds int64, at int, flip byte) {
		if !utf8.ValidString(tenant) || !utf8.ValidString(visitor) {
			return // ids are ASCII; JSON would carry invalid UTF-8 as U+FFFD
		}
		ttlSeconds %= 400 * 86400
		tok := s.Issue(tenant, visitor, time.Duration(ttlSeconds)*time.Second)
		c, err := s.Verify(tok)
		valid := tenant != "" && visitor != "" && ttlSeconds > 0 && len(tok) <= 1024
		if valid != (err == nil) {
			t.Fatalf("Issue(%q, %q, %ds) = %q: verify %v", tenant, visitor, ttlSeconds, tok, err)
		}
		if err != nil {
			return
		}
		if c.TenantID != tenant || c.VisitorID != visitor || c.ExpiresAt != fuzzNow.Unix()+ttlSeconds {
			t.Fatalf("issued for %q/%q, verified as %+v", tenant, visitor, c)
		}
		b := []byte(tok)
		i := at & 0x7fffffff % len(b)
		b[i] ^= flip | 1
		if c2, err := s.Verify(string(b)); err == nil && c2 != c {
			t.Fatalf("changed byte %d of %q: accepted as %+v", i, tok, c2)
		} else if err == nil && string(b) != tok {
			// base64 ignores the unused low bits of a final character; any
			// other change must fail the signature.
			if i != len(b)-1 && b[i] != '.' && i != strings.IndexByte(tok, '.')-1 {
				t.Fatalf("changed byte %d of %q: still accepted", i, tok)
			}
		}
	})
}

func signer(secret string) *visitortoken.Signer {
	s, err := visitortoken.New(secret)
	if err != nil {
		panic(err)
	}
	return s.WithClock(func() time.Time { return fuzzNow })
}

// FuzzVerifyAgent feeds the agent check and IsAgentToken arbitrary tokens
// (seeds in testdata/fuzz/FuzzVerifyAgent: agent and visitor tokens,
// truncated, with claims of the wrong types). A token is accepted as an
// agent's only if this key signed it, it names a tenant and an agent and no
// visitor, and it is not expired; and no token passes both checks.
func FuzzVerifyAgent(f *testing.F) {
	s := signer(fuzzSecret)
	agent, _ := s.IssueAgent("t06h2jr6gxdgdf9p4m9gzfqpd84", "k06h2jr6gxdgdf9p4m9gzfqpd84", "Ana")
	f.Add(agent)
	f.Add(s.Issue("t06h2jr6gxdgdf9p4m9gzfqpd84", "c06h2jr6gxdgdf9p4m9gzfqpd84", time.Hour))
	f.Add("eyJ0IjoidDEiLCJhIjoiazEiLCJleHAiOjF9.AAAA")
	other := signer("another deployment's secret, 32 bytes or more")
	f.Fuzz(func(t *testing.T, token string) {
		_ = visitortoken.IsAgentToken(token) // must not panic on anything
		c, err := s.VerifyAgent(token)
		if err != nil {
			if !errors.Is(err, visitortoken.ErrInvalid) || c != (visitortoken.Claims{}) {
				t.Fatalf("refused with %v and claims %+v", err, c)
			}
			return
		}
		if c.TenantID == "" || c.AgentID == "" || c.VisitorID != "" || c.ExpiresAt <= fuzzNow.Unix() || !visitortoken.IsAgentToken(token) {
			t.Fatalf("accepted %q with claims %+v", token, c)
		}
		if _, err := s.Verify(token); err == nil {
			t.Fatalf("%q passed both checks", token)
		}
		if _, err := other.VerifyAgent(token); err == nil {
			t.Fatalf("another deployment's key accepted %q", token)
		}
	})
}
