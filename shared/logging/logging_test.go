package logging_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/logging"
)

func TestMasking(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "fn")
	log.Info("x", "email", logging.Email("ada.lovelace@example.com"), "ip4", logging.IP("203.0.113.77"), "ip6", logging.IP("2001:db8:1234:5678::1"))
	out := buf.String()
	for _, leak := range []string{"ada.lovelace", "203.0.113.77", "5678"} {
		if strings.Contains(out, leak) {
			t.Errorf("log %s leaks %q", out, leak)
		}
	}
	for _, want := range []string{`"a***@example.com"`, `"203.0.113.0/24"`, `"2001:db8:1234::/48"`, `"function":"fn"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
}
