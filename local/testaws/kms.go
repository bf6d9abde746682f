package testaws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KMSKey is a test's own symmetric KMS key in moto.
type KMSKey struct {
	Client *kms.Client
	KeyID  string
}

// NewKMSKey creates a symmetric encryption key in moto and schedules its deletion
// when the test ends.
func NewKMSKey(tb testing.TB) *KMSKey {
	tb.Helper()
	c := kms.NewFromConfig(Config(tb))
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("test key for " + tb.Name())})
	if err != nil {
		tb.Fatalf("create kms key: %v", err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	tb.Cleanup(func() {
		c.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	})
	return &KMSKey{Client: c, KeyID: id}
}
