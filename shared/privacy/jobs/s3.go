package jobs

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewS3Client returns the S3 client of the processors. S3_FORCE_PATH_STYLE=true
// selects path-style addressing, which a local S3 (moto) on 127.0.0.1 needs.
func NewS3Client(cfg aws.Config, getenv func(string) string) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_FORCE_PATH_STYLE") == "true" })
}

// NewPresigner returns the presign client of c.
func NewPresigner(c *s3.Client) *s3.PresignClient { return s3.NewPresignClient(c) }
