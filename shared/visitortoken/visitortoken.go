// Package visitortoken issues and verifies the signed, expiring tokens that name
// a widget visitor or a console agent: base64url(JSON claims) "."
// base64url(HMAC-SHA256(secret, claims)). A visitor's token names a visitor and
// no agent, an agent's an agent and no visitor, so neither passes for the other.
package visitortoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultTTL is how long a token is valid; the widget renews it on every session.
const DefaultTTL = 24 * time.Hour

// AgentTTL is how long an agent token is valid: it is only used to connect,
// and the console asks for a new one on every reconnect.
const AgentTTL = 15 * time.Minute

// ErrInvalid is returned for a token that is malformed, tampered with or expired.
var ErrInvalid = errors.New("invalid or expired visitor token")

// Claims are what a token says.
type Claims struct {
	TenantID  string `json:"t"`
	VisitorID string `json:"v,omitempty"`
	ExpiresAt int64  `json:"exp"`
	// TenantVersion is the tenant's settings version when the session was
	// made (chat.Tenant.Version; 0 in tokens from before it was kept).
	TenantVersion int64 `json:"tv,omitempty"`
	// AgentID and AgentName name the agent of an agent token.
	AgentID   string `json:"a,omitempty"`
	AgentName string `json:"n,omitempty"`
}

// Signer signs and verifies tokens with one secret.
type Signer struct {
	secret []byte
	now    func() time.Time
}

// New returns a Signer; the secret must be at least 32 bytes.
func New(secret string) (*Signer, error) {
	if len(secret) < 32 {
		return nil, errors.New("visitor token secret must be at least 32 bytes")
	}
	return &Signer{secret: []byte(secret), now: time.Now}, nil
}

// Signer returns s itself: a signer whose key is known is its own source, for
// the handlers that take a source of signers (tests pass a fixed one).
func (s *Signer) Signer() (*Signer, error) { return s, nil }

// Lazy builds the Signer from a secret the first time it is needed, so a
// function's cold start does not wait for its secrets. A failure (the secret
// could not be read, or is too short) is returned to that caller and tried
// again by the next one; once built, the Signer is kept. It is safe for
// concurrent use.
type Lazy struct {
	secret func() (string, error)
	mu     sync.Mutex
	signer *Signer
}

// FromSecret returns a Lazy signer whose secret comes from secret (for example
// the function's pending secrets' Get).
func FromSecret(secret func() (string, error)) *Lazy { return &Lazy{secret: secret} }

// Signer returns the Signer, building it on first use. Its errors never carry
// the secret's value.
func (l *Lazy) Signer() (*Signer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.signer != nil {
		return l.signer, nil
	}
	key, err := l.secret()
	if err != nil {
		return nil, fmt.Errorf("visitor token secret: %w", err)
	}
	s, err := New(key)
	if err != nil {
		return nil, err
	}
	l.signer = s
	return s, nil
}

// WithClock returns a copy of s that reads the time from now (for tests).
func (s *Signer) WithClock(now func() time.Time) *Signer {
	c := *s
	c.now = now
	return &c
}

// Issue returns a token for the visitor, valid for ttl.
func (s *Signer) Issue(tenantID, visitorID string, ttl time.Duration) string {
	return s.IssueVersioned(tenantID, 0, visitorID, ttl)
}

// IssueVersioned is Issue for a session that saw the tenant at tenantVersion.
func (s *Signer) IssueVersioned(tenantID string, tenantVersion int64, visitorID string, ttl time.Duration) string {
	return s.sign(Claims{TenantID: tenantID, VisitorID: visitorID, ExpiresAt: s.now().Add(ttl).Unix(), TenantVersion: tenantVersion})
}

// IssueAgent returns an agent token, valid for AgentTTL, and its expiry.
func (s *Signer) IssueAgent(tenantID, agentID, name string) (string, time.Time) {
	exp := s.now().Add(AgentTTL).Truncate(time.Second)
	return s.sign(Claims{TenantID: tenantID, AgentID: agentID, AgentName: name, ExpiresAt: exp.Unix()}), exp
}

func (s *Signer) sign(c Claims) string {
	body, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(body)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

// Verify checks the signature and expiry of a visitor's token and returns its
// claims; an agent token is ErrInvalid.
func (s *Signer) Verify(token string) (Claims, error) {
	c, err := s.verify(token)
	if err != nil || c.VisitorID == "" || c.AgentID != "" {
		return Claims{}, ErrInvalid
	}
	return c, nil
}

// VerifyAgent checks the signature and expiry of an agent token and returns
// its claims; a visitor's token is ErrInvalid.
func (s *Signer) VerifyAgent(token string) (Claims, error) {
	c, err := s.verify(token)
	if err != nil || c.AgentID == "" || c.VisitorID != "" {
		return Claims{}, ErrInvalid
	}
	return c, nil
}

// IsAgentToken reports whether token claims to be an agent's (it is not
// verified): the authorizer's choice of which check to run.
func IsAgentToken(token string) bool {
	p, _, _ := strings.Cut(token, ".")
	body, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || len(body) > 1024 {
		return false
	}
	var c Claims
	return json.Unmarshal(body, &c) == nil && c.AgentID != ""
}

func (s *Signer) verify(token string) (Claims, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 1024 {
		return Claims{}, ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return Claims{}, ErrInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil || c.TenantID == "" {
		return Claims{}, ErrInvalid
	}
	if s.now().Unix() >= c.ExpiresAt {
		return Claims{}, ErrInvalid
	}
	return c, nil
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}
