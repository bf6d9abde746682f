package channel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxBody is the largest webhook body a channel's Parse reads (1 MiB).
const MaxBody = 1 << 20

// CheckJSONObject refuses, wrapping ErrMalformed, a body over MaxBody or one
// that is not a JSON object: what every provider's webhook body must be
// before it is decoded.
func CheckJSONObject(body []byte) error {
	if len(body) > MaxBody {
		return fmt.Errorf("%w: body of %d bytes is over %d", ErrMalformed, len(body), MaxBody)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	return nil
}

// JSONReason names what json.Unmarshal found wrong with a body without
// quoting it (an offset, a field and its type), so it is safe to log.
func JSONReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q is not a %s", Truncate(te.Field, 80), te.Type)
	}
	return "invalid JSON"
}

// Truncate cuts s to at most n bytes, on a rune boundary, marking the cut:
// provider-given names and ids in errors and keys stay short and valid UTF-8.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
