package channel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// HeaderFold returns a header's value whatever the case of its name (API
// Gateway lower-cases names; a test or another front may not).
func (r Request) HeaderFold(name string) string {
	if v, ok := r.Headers[name]; ok {
		return v
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Encodings of a signature header's digest.
const (
	Hex    = "hex"
	Base64 = "base64"
)

// VerifyHMAC checks that header carries HMAC-SHA256(secret, raw body), after
// prefix ("sha256=" for Meta, "" otherwise), encoded as encoding (Hex or
// Base64), compared in constant time. An empty secret (secretName says
// which) verifies nothing. Failures wrap ErrUnverified and name only the
// reason.
func VerifyHMAC(req Request, header, prefix, encoding, secretName, secret string) error {
	if secret == "" {
		return fmt.Errorf("%w: no %s configured", ErrUnverified, secretName)
	}
	sig := req.HeaderFold(header)
	if sig == "" {
		return fmt.Errorf("%w: no %s header", ErrUnverified, header)
	}
	digest, ok := strings.CutPrefix(sig, prefix)
	if !ok {
		return fmt.Errorf("%w: signature is not %s<%s>", ErrUnverified, prefix, encoding)
	}
	var got []byte
	var err error
	if encoding == Base64 {
		got, err = base64.StdEncoding.DecodeString(digest)
	} else {
		got, err = hex.DecodeString(digest)
	}
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: signature is not a %s SHA-256 digest", ErrUnverified, encoding)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(req.Body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: signature does not match the body", ErrUnverified)
	}
	return nil
}
