// Package slackkms is the Slack bridge's TokenCipher over KMS: a bot token is
// encrypted under the Slack key with the encryption context
// {"tenantId": <tenant>}, so one tenant's ciphertext never decrypts for
// another. It makes KMS's Encrypt and Decrypt as signed JSON 1.1 calls
// (awscall) rather than through the KMS SDK client, whose package inits would
// cost every cold start of the functions that post to Slack (webhook-slack,
// dispatch, privacy-erase).
package slackkms

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livesupportbot/backend/shared/awscall"
)

// Cipher encrypts and decrypts bot tokens with one key.
type Cipher struct {
	c     *awscall.Client
	keyID string
}

// New returns the cipher of the key keyID (SLACK_KMS_KEY_ID) in cfg's region.
// The endpoint is AWS_ENDPOINT_URL_KMS, else the base endpoint
// (AWS_ENDPOINT_URL), else KMS's in the region; a nil getenv reads no variable.
func New(cfg aws.Config, getenv func(string) string, keyID string) Cipher {
	return Cipher{c: awscall.New(cfg, getenv, "kms", "KMS"), keyID: keyID}
}

// The bodies of the two calls, fields in the order the SDK writes them; []byte
// is base64 in JSON, as KMS wants its blobs.
type (
	encryptInput struct {
		EncryptionContext map[string]string
		KeyId             string
		Plaintext         []byte
	}
	encryptOutput struct{ CiphertextBlob []byte }
	decryptInput  struct {
		CiphertextBlob    []byte
		EncryptionContext map[string]string
		KeyId             string
	}
	decryptOutput struct{ Plaintext []byte }
)

func encryptionContext(tenantID string) map[string]string {
	return map[string]string{"tenantId": tenantID}
}

// request is the JSON 1.1 call of op (TrentService.<op>) with the body in.
func request(op string, in any) (awscall.Request, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return awscall.Request{}, err
	}
	return awscall.Request{Method: http.MethodPost, EscapedURI: "/", Body: body, Header: http.Header{
		"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {"TrentService." + op}}}, nil
}

// call sends op with in and decodes the answer into out. Its errors carry
// KMS's error code and status, never a body (which holds the token).
func (c Cipher) call(ctx context.Context, op string, in, out any) error {
	req, err := request(op, in)
	if err != nil {
		return err
	}
	res, err := c.c.Do(ctx, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(res.Body, out); err != nil {
		return fmt.Errorf("%s answer: not JSON", op)
	}
	return nil
}

// Encrypt encrypts a bot token under the key, bound to the tenant.
func (c Cipher) Encrypt(ctx context.Context, tenantID, token string) ([]byte, error) {
	var out encryptOutput
	in := encryptInput{KeyId: c.keyID, Plaintext: []byte(token), EncryptionContext: encryptionContext(tenantID)}
	if err := c.call(ctx, "Encrypt", in, &out); err != nil {
		return nil, fmt.Errorf("encrypt slack token: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Decrypt decrypts a tenant's bot token; the ciphertext of another tenant
// does not decrypt.
func (c Cipher) Decrypt(ctx context.Context, tenantID string, blob []byte) (string, error) {
	var out decryptOutput
	in := decryptInput{KeyId: c.keyID, CiphertextBlob: blob, EncryptionContext: encryptionContext(tenantID)}
	if err := c.call(ctx, "Decrypt", in, &out); err != nil {
		return "", fmt.Errorf("decrypt slack token: %w", err)
	}
	return string(out.Plaintext), nil
}
