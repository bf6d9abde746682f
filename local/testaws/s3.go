package testaws

import (
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/livesupportbot/backend/shared/ids"
)

// Bucket is a test's own S3 bucket in moto.
type Bucket struct {
	S3   *s3.Client
	Name string
}

// S3Client returns an S3 client for moto (path-style addressing).
func S3Client(tb testing.TB) *s3.Client {
	tb.Helper()
	return s3.NewFromConfig(Config(tb), func(o *s3.Options) { o.UsePathStyle = true })
}

// NewBucket creates a bucket under a fresh name and empties and deletes it when
// the test ends.
func NewBucket(tb testing.TB) *Bucket {
	tb.Helper()
	b := &Bucket{S3: S3Client(tb), Name: "test-" + ids.New("b")}
	if _, err := b.S3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b.Name)}); err != nil {
		tb.Fatalf("create bucket: %v", err)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		for _, o := range b.objects(ctx) {
			b.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.Name), Key: o.Key})
		}
		b.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.Name)})
	})
	return b
}

func (b *Bucket) objects(ctx context.Context) []s3types.Object {
	var out []s3types.Object
	p := s3.NewListObjectsV2Paginator(b.S3, &s3.ListObjectsV2Input{Bucket: aws.String(b.Name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out
		}
		out = append(out, page.Contents...)
	}
	return out
}

// Objects returns every object of the bucket: key and content.
func (b *Bucket) Objects(tb testing.TB) map[string][]byte {
	tb.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	for _, o := range b.objects(ctx) {
		res, err := b.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: o.Key})
		if err != nil {
			tb.Fatalf("get object %s: %v", aws.ToString(o.Key), err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			tb.Fatal(err)
		}
		out[aws.ToString(o.Key)] = body
	}
	return out
}

// Presigner returns a presign client of the bucket's S3 client.
func (b *Bucket) Presigner() *s3.PresignClient { return s3.NewPresignClient(b.S3) }
