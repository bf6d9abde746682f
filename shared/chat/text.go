package chat

import (
	"strings"
	"unicode/utf8"
)

// DefaultMaxTextChars is the longest message text accepted (in characters)
// unless a deployment sets its own limit (MAX_MESSAGE_CHARS).
const DefaultMaxTextChars = 4000

// TextLimit is the limit in force for a configured limit: max itself, or
// DefaultMaxTextChars when max is not positive.
func TextLimit(max int) int {
	if max <= 0 {
		return DefaultMaxTextChars
	}
	return max
}

// TextIssue is what is wrong with a message text ("" when nothing is). Each
// surface words it for its own clients.
type TextIssue string

// The issues TextProblem reports, in the order it checks them.
const (
	TextEmpty   TextIssue = "empty"    // nothing but white space
	TextNotUTF8 TextIssue = "not_utf8" // not valid UTF-8
	TextTooLong TextIssue = "too_long" // more characters than the limit
)

// TextProblem is the one rule for the text of a message, whoever writes it
// (a visitor, an agent): it must hold more than white space, be valid UTF-8
// and have at most TextLimit(max) characters (runes).
func TextProblem(text string, max int) TextIssue {
	switch {
	case strings.TrimSpace(text) == "":
		return TextEmpty
	case !utf8.ValidString(text):
		return TextNotUTF8
	case utf8.RuneCountInString(text) > TextLimit(max):
		return TextTooLong
	}
	return ""
}
