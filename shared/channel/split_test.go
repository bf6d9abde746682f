package channel_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
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

// VerifyHMAC takes the digest in the header's encoding after its prefix, and
// refuses an empty secret, a missing or malformed header and another body.
func TestVerifyHMAC(t *testing.T) {
	body := []byte(`{"a":1}`)
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(body)
	sum := mac.Sum(nil)
	req := func(h string) channel.Request {
		return channel.Request{Body: body, Headers: map[string]string{"X-Sig": h}}
	}
	if err := channel.VerifyHMAC(req("sha256="+hex.EncodeToString(sum)), "x-sig", "sha256=", channel.Hex, "secret", "s3cret"); err != nil {
		t.Errorf("hex with prefix, header in another case: %v", err)
	}
	if err := channel.VerifyHMAC(req(base64.StdEncoding.EncodeToString(sum)), "x-sig", "", channel.Base64, "secret", "s3cret"); err != nil {
		t.Errorf("base64: %v", err)
	}
	for name, err := range map[string]error{
		"empty secret": channel.VerifyHMAC(req(hex.EncodeToString(sum)), "x-sig", "", channel.Hex, "secret", ""),
		"no prefix":    channel.VerifyHMAC(req(hex.EncodeToString(sum)), "x-sig", "sha256=", channel.Hex, "secret", "s3cret"),
		"wrong secret": channel.VerifyHMAC(req(hex.EncodeToString(sum)), "x-sig", "", channel.Hex, "secret", "other"),
		"not hex":      channel.VerifyHMAC(req("zz"), "x-sig", "", channel.Hex, "secret", "s3cret"),
		"no header":    channel.VerifyHMAC(channel.Request{Body: body}, "x-sig", "", channel.Hex, "secret", "s3cret"),
		"changed body": channel.VerifyHMAC(channel.Request{Body: []byte(`{"a":2}`), Headers: map[string]string{"x-sig": hex.EncodeToString(sum)}}, "x-sig", "", channel.Hex, "secret", "s3cret"),
	} {
		if !errors.Is(err, channel.ErrUnverified) {
			t.Errorf("%s: %v, want ErrUnverified", name, err)
		}
	}
}

// The body checks every provider's Parse starts with, and Truncate's cut.
func TestCheckJSONObjectAndTruncate(t *testing.T) {
	for body, ok := range map[string]bool{`{"a":1}`: true, ` {`: true, `[]`: false, ``: false, `"x"`: false,
		`{"a":"` + strings.Repeat("x", channel.MaxBody) + `"}`: false} {
		if err := channel.CheckJSONObject([]byte(body)); (err == nil) != ok || (err != nil && !errors.Is(err, channel.ErrMalformed)) {
			t.Errorf("%.20q: %v", body, err)
		}
	}
	if got := channel.Truncate("ééé", 3); got != "é..." || !utf8.ValidString(got) {
		t.Errorf("Truncate = %q", got)
	}
}
