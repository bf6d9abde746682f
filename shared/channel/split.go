package channel

import (
	"unicode"
	"unicode/utf16"
)

// SplitText cuts text into the messages a provider takes: each at most limit
// characters, counted as UTF-16 units (never fewer than runes, so a limit in
// either holds), cut on a rune boundary, after a whitespace when one lies in
// the second half of the part. Joined, the parts are text; none is empty, and
// an empty text has none.
func SplitText(text string, limit int) []string {
	if limit <= 0 {
		limit = 1
	}
	var parts []string
	for text != "" {
		units, cut, space := 0, len(text), 0
		for i, r := range text {
			n := utf16.RuneLen(r)
			if n < 0 {
				n = 1
			}
			if units+n > limit && i > 0 {
				cut = i
				break
			}
			units += n
			if unicode.IsSpace(r) && units >= limit/2 {
				space = i + len(string(r))
			}
		}
		if cut < len(text) && space > 0 {
			cut = space
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	return parts
}
