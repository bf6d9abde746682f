package submit

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// LinkSigner signs S3 GET links (privacy.LinkSigner).
type LinkSigner struct{ p *s3.PresignClient }

// NewLinkSigner returns the link signer of cfg; S3_FORCE_PATH_STYLE=true selects
// path-style addressing (a local S3).
func NewLinkSigner(cfg aws.Config, getenv func(string) string) LinkSigner {
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_FORCE_PATH_STYLE") == "true" })
	return LinkSigner{p: s3.NewPresignClient(c)}
}

// SignGet returns a link that reads the object until ttl has passed.
func (l LinkSigner) SignGet(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	req, err := l.p.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}
