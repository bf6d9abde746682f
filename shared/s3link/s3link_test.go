package s3link

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/testaws"
)

// fixedTime is the S3 client's SigV4 presigner, at a fixed signing time. It
// is made as the client makes its own (s3's newDefaultV4Signer): S3 signs the
// path as sent, not escaped a second time, which a key with a space, '+' or
// '(' shows.
type fixedTime struct{ at time.Time }

func (f fixedTime) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, opts ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		PresignHTTP(ctx, creds, r, payloadHash, service, region, f.at, opts...)
}

// specialKey has characters that S3 wants escaped in a path, and that some
// escapers leave alone ('+', '=', '(' ...).
const specialKey = "attachments/t 1/a+b=c/été ~!'()*&$,;:@?#%.png"

// TestSigner_SignsWhatTheS3PresignerSigns holds the signer to the S3 client's
// presigned GetObject, DeleteObject and PutObject links, byte for byte, at the
// same signing time.
func TestSigner_SignsWhatTheS3PresignerSigns(t *testing.T) {
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
		{name: "local IP endpoint, path-style not asked", cfg: aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:5000"),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}},
		{name: "custom host endpoint, virtual-hosted", cfg: aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String("https://s3.example.test"),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}},
		{name: "local, S3 endpoint", cfg: aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
			env:    map[string]string{"S3_FORCE_PATH_STYLE": "true", "AWS_ENDPOINT_URL_S3": "http://localhost:4566"},
			s3opts: func(o *s3.Options) { o.UsePathStyle = true; o.BaseEndpoint = aws.String("http://localhost:4566") }},
	} {
		for i, key := range []string{"exports/t_1/r_2.json", specialKey} {
			t.Run(fmt.Sprintf("%s, key %d", tc.name, i), func(t *testing.T) {
				ctx := context.Background()
				const bucket, ttl = "exports-bucket", 6 * 24 * time.Hour
				l := New(tc.cfg, func(k string) string { return tc.env[k] })
				l.now = func() time.Time { return at }
				opts := []func(*s3.Options){}
				if tc.s3opts != nil {
					opts = append(opts, tc.s3opts)
				}
				p := s3.NewPresignClient(s3.NewFromConfig(tc.cfg, opts...), func(o *s3.PresignOptions) { o.Presigner = fixedTime{at} })

				got, err := l.SignGet(ctx, bucket, key, ttl)
				if err != nil {
					t.Fatal(err)
				}
				want, err := p.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
					s3.WithPresignExpires(ttl))
				if err != nil {
					t.Fatal(err)
				}
				if got != want.URL {
					t.Errorf("link\n got %s\nwant %s", got, want.URL)
				}

				got, err = l.presign(ctx, deleteRequest(bucket, key), callTTL)
				if err != nil {
					t.Fatal(err)
				}
				want, err = p.PresignDeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
					s3.WithPresignExpires(callTTL))
				if err != nil {
					t.Fatal(err)
				}
				if got != want.URL || want.Method != http.MethodDelete {
					t.Errorf("delete link\n got %s\nwant %s %s", got, want.Method, want.URL)
				}

				body := []byte(`{"schemaVersion":1}`)
				got, err = l.presign(ctx, putRequest(bucket, key, "application/json", body), callTTL)
				if err != nil {
					t.Fatal(err)
				}
				want, err = p.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
					ContentType: aws.String("application/json"), Body: bytes.NewReader(body)}, s3.WithPresignExpires(callTTL))
				if err != nil {
					t.Fatal(err)
				}
				if got != want.URL || want.Method != http.MethodPut {
					t.Errorf("put link\n got %s\nwant %s %s", got, want.Method, want.URL)
				}
				if h := want.SignedHeader; h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != strconv.Itoa(len(body)) {
					t.Errorf("the presigner signs the headers %v", h)
				}
			})
		}
	}
}

// TestSigner_ReadsAndDeletesInALocalS3 downloads an object through a signed
// link, then deletes it, from a local S3.
func TestSigner_ReadsAndDeletesInALocalS3(t *testing.T) {
	ctx := context.Background()
	b := testaws.NewBucket(t)
	body := []byte(`{"schemaVersion":1}`)
	if _, err := b.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.Name), Key: aws.String("exports/t/r.json"),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	cfg := testaws.Config(t)
	l := New(cfg, func(k string) string {
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
	for range 2 { // a missing object is no error
		if err := l.Delete(ctx, b.Name, "exports/t/r.json"); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Objects(t); len(got) != 0 {
		t.Errorf("objects after delete: %v", got)
	}
	if err := l.Delete(ctx, "no-such-bucket-"+b.Name, "k"); err == nil {
		t.Error("deleting from a missing bucket succeeded")
	}
}

func TestSigner_DeleteRetriesOnlyWhatIsWorthIt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []int
		wantErr  bool
		attempts int
	}{
		{"5xx then done", []int{500, 503, 204}, false, 3},
		{"throttled three times", []int{429, 429, 429, 204}, true, 3},
		{"refused", []int{403, 204}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodDelete || r.URL.Path != "/b/exports/k.json" || r.URL.Query().Get("X-Amz-Signature") == "" {
					t.Errorf("request %s %s", r.Method, r.URL)
				}
				w.WriteHeader(tc.answers[n])
				if tc.answers[n] >= 400 {
					io.WriteString(w, "<Error><Code>Nope</Code></Error>")
				}
				n++
			}))
			defer srv.Close()
			s := New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
				func(k string) string { return map[string]string{"S3_FORCE_PATH_STYLE": "true"}[k] })
			err := s.Delete(context.Background(), "b", "exports/k.json")
			if (err != nil) != tc.wantErr || n != tc.attempts {
				t.Errorf("err %v after %d attempts", err, n)
			}
			if err != nil && !strings.Contains(err.Error(), "Nope") {
				t.Errorf("error %v does not name the S3 error code", err)
			}
		})
	}
}
