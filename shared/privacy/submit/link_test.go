package submit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/testaws"
)

// fixedTime is the S3 client's SigV4 presigner, at a fixed signing time.
type fixedTime struct{ at time.Time }

func (f fixedTime) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, opts ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return v4.NewSigner().PresignHTTP(ctx, creds, r, payloadHash, service, region, f.at, opts...)
}

// TestLinkSigner_SignsWhatTheS3PresignerSigns holds the link signer to the S3
// client's presigned GetObject link, byte for byte, at the same signing time.
func TestLinkSigner_SignsWhatTheS3PresignerSigns(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		cfg    aws.Config
		env    map[string]string
		s3opts func(*s3.Options)
	}{
		{name: "aws, virtual-hosted", cfg: aws.Config{Region: "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}},
		{name: "aws, role credentials", cfg: aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("ASIAEXAMPLE", "secret", "session-token")}},
		{name: "local, path-style", cfg: aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:5000"),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
			env: map[string]string{"S3_FORCE_PATH_STYLE": "true"}, s3opts: func(o *s3.Options) { o.UsePathStyle = true }},
		{name: "local, S3 endpoint", cfg: aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
			env:    map[string]string{"S3_FORCE_PATH_STYLE": "true", "AWS_ENDPOINT_URL_S3": "http://localhost:4566"},
			s3opts: func(o *s3.Options) { o.UsePathStyle = true; o.BaseEndpoint = aws.String("http://localhost:4566") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			const bucket, key, ttl = "exports-bucket", "exports/t_1/r_2.json", 6 * 24 * time.Hour
			l := NewLinkSigner(tc.cfg, func(k string) string { return tc.env[k] })
			l.now = func() time.Time { return at }
			got, err := l.SignGet(ctx, bucket, key, ttl)
			if err != nil {
				t.Fatal(err)
			}
			opts := []func(*s3.Options){}
			if tc.s3opts != nil {
				opts = append(opts, tc.s3opts)
			}
			p := s3.NewPresignClient(s3.NewFromConfig(tc.cfg, opts...), func(o *s3.PresignOptions) { o.Presigner = fixedTime{at} })
			want, err := p.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
				s3.WithPresignExpires(ttl))
			if err != nil {
				t.Fatal(err)
			}
			if got != want.URL {
				t.Errorf("link\n got %s\nwant %s", got, want.URL)
			}
		})
	}
}

// TestLinkSigner_LinkReadsTheObject downloads an object through a signed link
// from a local S3.
func TestLinkSigner_LinkReadsTheObject(t *testing.T) {
	ctx := context.Background()
	b := testaws.NewBucket(t)
	body := []byte(`{"schemaVersion":1}`)
	if _, err := b.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.Name), Key: aws.String("exports/t/r.json"),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	cfg := testaws.Config(t)
	l := NewLinkSigner(cfg, func(k string) string {
		if k == "S3_FORCE_PATH_STYLE" {
			return "true"
		}
		return ""
	})
	link, err := l.SignGet(ctx, b.Name, "exports/t/r.json", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Errorf("GET link: %d %s", res.StatusCode, got)
	}
}
