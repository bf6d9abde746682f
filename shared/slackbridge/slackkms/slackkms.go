// Package slackkms is the Slack bridge's TokenCipher over KMS: a bot token is
// encrypted under the Slack key with the encryption context
// {"tenantId": <tenant>}, so one tenant's ciphertext never decrypts for
// another. It is its own package so that only the functions that post to Slack
// (webhook-slack, dispatch, privacy-erase) link the KMS client.
package slackkms

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KMS is the subset of the KMS API the cipher uses (*kms.Client is one).
type KMS interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Cipher encrypts and decrypts bot tokens with the key KeyID.
type Cipher struct {
	Client KMS
	KeyID  string
}

// New returns the cipher of the key keyID (SLACK_KMS_KEY_ID).
func New(client KMS, keyID string) Cipher { return Cipher{Client: client, KeyID: keyID} }

func encryptionContext(tenantID string) map[string]string {
	return map[string]string{"tenantId": tenantID}
}

// Encrypt encrypts a bot token under the key, bound to the tenant.
func (c Cipher) Encrypt(ctx context.Context, tenantID, token string) ([]byte, error) {
	out, err := c.Client.Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String(c.KeyID), Plaintext: []byte(token), EncryptionContext: encryptionContext(tenantID),
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt slack token: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Decrypt decrypts a tenant's bot token; the ciphertext of another tenant
// does not decrypt.
func (c Cipher) Decrypt(ctx context.Context, tenantID string, blob []byte) (string, error) {
	out, err := c.Client.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(c.KeyID), CiphertextBlob: blob, EncryptionContext: encryptionContext(tenantID),
	})
	if err != nil {
		return "", fmt.Errorf("decrypt slack token: %w", err)
	}
	return string(out.Plaintext), nil
}
