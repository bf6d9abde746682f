package slackkms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

var _ slackbridge.TokenCipher = slackkms.Cipher{}

// A token encrypted for one tenant decrypts for that tenant only, and the
// ciphertext does not hold it in clear (KMS in moto).
func TestCipher_BindsTheTokenToItsTenant(t *testing.T) {
	key := testaws.NewKMSKey(t)
	c := slackkms.New(key.Client, key.KeyID)
	ctx := context.Background()
	const token = "xoxb-1111-2222-secret"
	blob, err := c.Encrypt(ctx, "T01", token)
	if err != nil || len(blob) == 0 || strings.Contains(string(blob), token) {
		t.Fatalf("encrypt: %d bytes, %v", len(blob), err)
	}
	if got, err := c.Decrypt(ctx, "T01", blob); err != nil || got != token {
		t.Fatalf("decrypt for its tenant: %v (matches %v)", err, got == token)
	}
	_, err = c.Decrypt(ctx, "T02", blob)
	if err == nil {
		t.Fatal("another tenant decrypted the token")
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("the error shows the token: %v", err)
	}
	if _, err := slackkms.New(key.Client, "alias/no-such-key").Encrypt(ctx, "T01", token); err == nil {
		t.Error("encrypted under a key that does not exist")
	}
}
