package slackkms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/livesupportbot/backend/local/signcheck"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

var _ slackbridge.TokenCipher = slackkms.Cipher{}

const token = "xoxb-1111-2222-secret"

// A token encrypted for one tenant decrypts for that tenant only, and the
// ciphertext does not hold it in clear (KMS in moto).
func TestCipher_BindsTheTokenToItsTenant(t *testing.T) {
	key := testaws.NewKMSKey(t)
	c := slackkms.New(testaws.Config(t), nil, key.KeyID)
	ctx := context.Background()
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
	if !strings.Contains(err.Error(), "InvalidCiphertextException") || strings.Contains(err.Error(), token) {
		t.Errorf("the error of another tenant: %v", err)
	}
	_, err = slackkms.New(testaws.Config(t), nil, "alias/no-such-key").Encrypt(ctx, "T01", token)
	if err == nil || !strings.Contains(err.Error(), "NotFoundException") || strings.Contains(err.Error(), token) {
		t.Errorf("encrypt under a key that does not exist: %v", err)
	}
}

// What the cipher encrypts the SDK client decrypts, and the other way round
// (KMS in moto): the same key, the same encryption context.
func TestCipher_InteroperatesWithTheSDKClient(t *testing.T) {
	key := testaws.NewKMSKey(t)
	c := slackkms.New(testaws.Config(t), nil, key.KeyID)
	ctx := context.Background()
	tenant := map[string]string{"tenantId": "T01"}

	blob, err := c.Encrypt(ctx, "T01", token)
	if err != nil {
		t.Fatal(err)
	}
	out, err := key.Client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(key.KeyID), CiphertextBlob: blob, EncryptionContext: tenant})
	if err != nil || string(out.Plaintext) != token {
		t.Fatalf("the SDK decrypts ours: %v (matches %v)", err, err == nil && string(out.Plaintext) == token)
	}
	if _, err := key.Client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(key.KeyID), CiphertextBlob: blob}); err == nil {
		t.Error("the SDK decrypted ours without the encryption context")
	}

	enc, err := key.Client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key.KeyID), Plaintext: []byte(token), EncryptionContext: tenant})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(ctx, "T01", enc.CiphertextBlob); err != nil || got != token {
		t.Fatalf("ours decrypts the SDK's: %v (matches %v)", err, got == token)
	}
	if _, err := c.Decrypt(ctx, "T02", enc.CiphertextBlob); err == nil {
		t.Error("ours decrypted the SDK's under another tenant")
	}
}

// Encrypt and Decrypt send the SDK client's requests (JSON 1.1: target,
// content type, body), signed for kms, to AWS_ENDPOINT_URL_KMS when set.
func TestCipher_SendsWhatTheSDKSends(t *testing.T) {
	rec := &signcheck.Recorder{Statuses: []int{http.StatusOK}, Body: `{"CiphertextBlob":"AAECAw==","Plaintext":"eG94Yi0x","KeyId":"k"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx := context.Background()
	const keyID = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tenant := map[string]string{"tenantId": "T01"}
	sdk := kms.NewFromConfig(signcheck.Config(srv.URL), func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	getenv := func(k string) string { return map[string]string{"AWS_ENDPOINT_URL_KMS": srv.URL}[k] }
	c := slackkms.New(signcheck.Config("http://127.0.0.1:1"), getenv, keyID)

	if _, err := sdk.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(token), EncryptionContext: tenant}); err != nil {
		t.Fatal(err)
	}
	if blob, err := c.Encrypt(ctx, "T01", token); err != nil || string(blob) != "\x00\x01\x02\x03" {
		t.Fatalf("encrypt: %q, %v", blob, err)
	}
	if _, err := sdk.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(keyID), CiphertextBlob: []byte{0, 1, 2, 3}, EncryptionContext: tenant}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(ctx, "T01", []byte{0, 1, 2, 3}); err != nil || got != "xoxb-1" {
		t.Fatalf("decrypt: %q, %v", got, err)
	}
	reqs := rec.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, op := range []string{"Encrypt", "Decrypt"} {
		sdkReq, ours := reqs[2*i], reqs[2*i+1]
		signcheck.Same(t, ours, sdkReq, "X-Amz-Target", "Content-Type", "Content-Length", "X-Amz-Security-Token")
		if ours.Header.Get("X-Amz-Target") != "TrentService."+op {
			t.Errorf("%s: target %q", op, ours.Header.Get("X-Amz-Target"))
		}
		signcheck.Verify(t, ours, "kms", "eu-west-1")
	}
}

// Throttling is tried three times, and the error carries KMS's code, not the
// token.
func TestCipher_RetriesThrottling(t *testing.T) {
	rec := &signcheck.Recorder{Statuses: []int{http.StatusBadRequest}, Body: `{"__type":"ThrottlingException","message":"slow down"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	_, err := slackkms.New(signcheck.Config(srv.URL), nil, "k").Encrypt(context.Background(), "T01", token)
	if n := len(rec.Requests()); n != 3 || err == nil || !strings.Contains(err.Error(), "status 400 ThrottlingException") ||
		strings.Contains(err.Error(), token) {
		t.Fatalf("%d requests, %v", n, err)
	}
}
