package visitortoken_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// The signer is built from the secret on first use; a failure is that call's
// error, never carries the secret, and the next call tries again; once built,
// the secret is not read again.
func TestLazy_BuildsOnFirstUseAndRetriesFailures(t *testing.T) {
	key := strings.Repeat("k", 32)
	secret := &testaws.FlakySecret{Value: key}
	lazy := visitortoken.FromSecret(secret.Get)
	if _, err := lazy.Signer(); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("first call: %v, want the read error", err)
	}
	if _, err := lazy.Signer(); err == nil || strings.Contains(err.Error(), testaws.ShortSecret) {
		t.Fatalf("too short a secret: %v, want an error without the value", err)
	}
	var wg sync.WaitGroup
	got := make([]*visitortoken.Signer, 8)
	for i := range got {
		wg.Go(func() {
			s, err := lazy.Signer()
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for _, s := range got {
		if s != got[0] {
			t.Fatal("concurrent first uses built more than one signer")
		}
	}
	if reads := secret.Reads(); reads != 3 {
		t.Errorf("the secret was read %d times, want 3 (two failures, one success)", reads)
	}
	fixed, _ := visitortoken.New(key)
	if _, err := got[0].Verify(fixed.Issue("t1", "c1", time.Hour)); err != nil {
		t.Errorf("the built signer does not use the secret: %v", err)
	}
	if s, err := fixed.Signer(); s != fixed || err != nil {
		t.Errorf("a fixed signer is not its own source: %v %v", s, err)
	}
}
