package chat_test

import (
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/chat"
)

func TestTextProblem(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		max        int
		want       chat.TextIssue
	}{
		{"plain", "hello", 0, ""},
		{"empty", "", 0, chat.TextEmpty},
		{"white space only", " \t\n ", 0, chat.TextEmpty},
		{"invalid UTF-8", "ok \xff", 0, chat.TextNotUTF8},
		{"default limit, exactly", strings.Repeat("é", chat.DefaultMaxTextChars), 0, ""},
		{"default limit, one more", strings.Repeat("é", chat.DefaultMaxTextChars+1), 0, chat.TextTooLong},
		{"limit counts characters, not bytes", strings.Repeat("é", 5), 5, ""},
		{"own limit", "123456", 5, chat.TextTooLong},
		{"negative limit is the default", strings.Repeat("a", chat.DefaultMaxTextChars+1), -1, chat.TextTooLong},
		{"emptiness before length", strings.Repeat(" ", 10), 5, chat.TextEmpty},
	} {
		if got := chat.TextProblem(tc.text, tc.max); got != tc.want {
			t.Errorf("%s: TextProblem = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTextLimit(t *testing.T) {
	if chat.TextLimit(0) != chat.DefaultMaxTextChars || chat.TextLimit(-3) != chat.DefaultMaxTextChars || chat.TextLimit(10) != 10 {
		t.Fatalf("TextLimit: %d %d %d", chat.TextLimit(0), chat.TextLimit(-3), chat.TextLimit(10))
	}
}
