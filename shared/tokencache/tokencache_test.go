package tokencache_test

import (
	"context"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/tokencache"
)

// A secret is decrypted once per ciphertext and TTL: a new ciphertext (a
// reconnect) or an expired entry is decrypted again, Forget drops it.
func TestCache(t *testing.T) {
	var c tokencache.Cache
	calls := 0
	get := func(blob string, now time.Time) string {
		v, err := c.Get(context.Background(), "t/telegram", []byte(blob), now, func(context.Context) (string, error) {
			calls++
			return "secret-of-" + blob, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t0 := time.Now()
	if get("A", t0) != "secret-of-A" || get("A", t0.Add(time.Minute)) != "secret-of-A" || calls != 1 {
		t.Fatalf("calls %d, want 1 within the TTL", calls)
	}
	if get("B", t0.Add(time.Minute)) != "secret-of-B" || calls != 2 {
		t.Errorf("a new ciphertext: calls %d", calls)
	}
	get("B", t0.Add(tokencache.TTL+2*time.Minute))
	c.Forget("t/telegram")
	get("B", t0.Add(tokencache.TTL+2*time.Minute))
	if calls != 4 {
		t.Errorf("after the TTL and after Forget: calls %d, want 4", calls)
	}
}
