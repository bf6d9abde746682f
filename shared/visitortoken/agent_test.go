package visitortoken_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/visitortoken"
)

// TestAgentTokens_NeverPassForVisitorsOrTheOtherWay: an agent token names its
// agent, expires after AgentTTL, and neither kind of token passes the other's
// check, even with a valid signature.
func TestAgentTokens_NeverPassForVisitorsOrTheOtherWay(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	s, _ := visitortoken.New(strings.Repeat("k", 32))
	s = s.WithClock(func() time.Time { return now })
	agent, exp := s.IssueAgent("t1", "key1", "Ana")
	if want := now.Add(visitortoken.AgentTTL); !exp.Equal(want) {
		t.Fatalf("agent token expires %v, want %v", exp, want)
	}
	c, err := s.VerifyAgent(agent)
	if err != nil || c.TenantID != "t1" || c.AgentID != "key1" || c.AgentName != "Ana" || c.VisitorID != "" {
		t.Fatalf("VerifyAgent: %+v %v", c, err)
	}
	if !visitortoken.IsAgentToken(agent) {
		t.Fatal("IsAgentToken(agent token) is false")
	}
	if _, err := s.Verify(agent); !errors.Is(err, visitortoken.ErrInvalid) {
		t.Fatalf("an agent token passed as a visitor's: %v", err)
	}
	visitor := s.Issue("t1", "v1", time.Hour)
	if visitortoken.IsAgentToken(visitor) {
		t.Fatal("IsAgentToken(visitor token) is true")
	}
	if _, err := s.VerifyAgent(visitor); !errors.Is(err, visitortoken.ErrInvalid) {
		t.Fatalf("a visitor's token passed as an agent's: %v", err)
	}
	late := s.WithClock(func() time.Time { return exp })
	if _, err := late.VerifyAgent(agent); !errors.Is(err, visitortoken.ErrInvalid) {
		t.Fatalf("an expired agent token passed: %v", err)
	}
	other, _ := visitortoken.New(strings.Repeat("o", 32))
	if _, err := other.VerifyAgent(agent); !errors.Is(err, visitortoken.ErrInvalid) {
		t.Fatalf("an agent token signed with another key passed: %v", err)
	}
}
