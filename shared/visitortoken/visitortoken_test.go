package visitortoken_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/visitortoken"
)

func TestIssueVerify(t *testing.T) {
	if _, err := visitortoken.New("short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	s, _ := visitortoken.New(strings.Repeat("x", 32))
	s = s.WithClock(func() time.Time { return now })
	tok := s.Issue("t1", "c1", time.Hour)
	c, err := s.Verify(tok)
	if err != nil || c.TenantID != "t1" || c.VisitorID != "c1" {
		t.Fatalf("verify: %+v %v", c, err)
	}
	late := s.WithClock(func() time.Time { return now.Add(time.Hour) })
	if _, err := late.Verify(tok); !errors.Is(err, visitortoken.ErrInvalid) {
		t.Fatalf("expired token: %v", err)
	}
	payload, sig, _ := strings.Cut(tok, ".")
	forged := s.Issue("t2", "c1", time.Hour)
	forgedPayload, _, _ := strings.Cut(forged, ".")
	for name, bad := range map[string]string{
		"swapped payload": forgedPayload + "." + sig,
		"no signature":    payload,
		"empty":           "",
		"huge":            strings.Repeat("a", 2000) + "." + sig,
	} {
		if _, err := s.Verify(bad); !errors.Is(err, visitortoken.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
