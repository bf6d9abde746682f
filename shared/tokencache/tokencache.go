// Package tokencache keeps decrypted integration secrets in a warm Lambda for
// a few minutes, keyed by their ciphertext: a reconnect (new ciphertext) is
// decrypted again at once, and no secret outlives TTL in memory.
package tokencache

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// TTL is how long a decrypted secret is kept.
const TTL = 5 * time.Minute

// Cache holds decrypted secrets by a caller's key (tenant and channel).
type Cache struct {
	mu sync.Mutex
	m  map[string]entry
}

type entry struct {
	sum   [32]byte
	value string
	exp   time.Time
}

// Get returns the secret of key whose ciphertext is blob: from memory when
// the same ciphertext was decrypted less than TTL before now, else through
// decrypt.
func (c *Cache) Get(ctx context.Context, key string, blob []byte, now time.Time, decrypt func(context.Context) (string, error)) (string, error) {
	sum := sha256.Sum256(blob)
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && e.sum == sum && now.Before(e.exp) {
		return e.value, nil
	}
	v, err := decrypt(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]entry{}
	}
	c.m[key] = entry{sum: sum, value: v, exp: now.Add(TTL)}
	c.mu.Unlock()
	return v, nil
}

// Forget drops key's secret.
func (c *Cache) Forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
