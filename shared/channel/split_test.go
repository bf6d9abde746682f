package channel_test

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/channel"
)

func TestSplitText(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		limit int
		n     int
	}{
		{"empty", "", 10, 0},
		{"short", "hello", 10, 1},
		{"at the limit", strings.Repeat("ж", 10), 10, 1},
		{"one over", strings.Repeat("ж", 11), 10, 2},
		{"emoji count two units", strings.Repeat("😀", 6), 10, 2},
		{"cut after a space in the second half", "aaaaaaa bbbbbbbbbb", 10, 2},
	} {
		parts := channel.SplitText(tc.text, tc.limit)
		if len(parts) != tc.n || strings.Join(parts, "") != tc.text {
			t.Errorf("%s: %q", tc.name, parts)
		}
		for _, p := range parts {
			if p == "" || !utf8.ValidString(p) || len(utf16.Encode([]rune(p))) > tc.limit {
				t.Errorf("%s: part %q", tc.name, p)
			}
		}
	}
	if parts := channel.SplitText("aaaaaaa bbbbbbbbbb", 10); parts[0] != "aaaaaaa " {
		t.Errorf("cut %q, want after the space", parts[0])
	}
}
