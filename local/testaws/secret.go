package testaws

import (
	"errors"
	"sync"
)

// ErrSecretUnreachable is the error a FlakySecret gives first.
var ErrSecretUnreachable = errors.New("secrets manager unreachable")

// FlakySecret plays a secret read that fails at first (Secrets Manager
// unreachable), then gives ShortSecret (too short to be a key), then the
// value for ever after; it counts the reads. Get is safe for concurrent use.
type FlakySecret struct {
	Value string

	mu    sync.Mutex
	reads int
}

// ShortSecret is the too-short value a FlakySecret gives second; it must never
// reach a log or an error.
const ShortSecret = "short-secret-value"

// Get is the read.
func (f *FlakySecret) Get() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	switch f.reads {
	case 1:
		return "", ErrSecretUnreachable
	case 2:
		return ShortSecret, nil
	}
	return f.Value, nil
}

// Reads is how many times the secret was read.
func (f *FlakySecret) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}
