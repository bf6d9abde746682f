// Package ids makes the identifiers of the store: a one-letter kind, then a
// time-ordered, random, lower-case base32 body with no separators, so ids sort by
// creation and never contain the characters the keys use ('#', '_', '.').
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns kind followed by 6 bytes of milliseconds and 10 random bytes.
func New(kind string) string {
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(b[:6], ms[2:])
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return kind + enc.EncodeToString(b[:])
}

// Derived returns the id of kind that parts name at time at: 6 bytes of at's
// milliseconds, then 10 bytes of a hash of parts. The same parts and time
// always give the same id, in the same form as New's.
func Derived(kind string, at time.Time, parts ...string) string {
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(b[:6], ms[2:])
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	copy(b[6:], h.Sum(nil))
	return kind + enc.EncodeToString(b[:])
}

// Secret returns n random bytes as a lower-case base32 string.
func Secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return enc.EncodeToString(b)
}

// Valid reports whether id looks like an id of the given kind.
func Valid(kind, id string) bool {
	if !strings.HasPrefix(id, kind) || len(id) != len(kind)+26 {
		return false
	}
	for _, r := range id[len(kind):] {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", r) {
			return false
		}
	}
	return true
}

// Kinds of id.
const (
	Tenant       = "t"
	Contact      = "c"
	Conversation = "cv"
	Message      = "m"
	APIKey       = "k"
	Request      = "r"
	Event        = "e"
)
