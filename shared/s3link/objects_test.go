package s3link

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/signcheck"
	"github.com/livesupportbot/backend/local/testaws"
)

// countingClient counts the requests a signer sends, and fails the first
// failFirst of them as a broken connection would.
type countingClient struct {
	mu        sync.Mutex
	n         int
	failFirst int
	next      aws.HTTPClient
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	fail := c.n <= c.failFirst
	c.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return c.next.Do(r)
}

func (c *countingClient) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// motoSigner is a signer of the local S3 (path-style), whose requests are
// counted.
func motoSigner(t *testing.T) (*Signer, *countingClient) {
	t.Helper()
	s := New(testaws.Config(t), func(k string) string { return map[string]string{"S3_FORCE_PATH_STYLE": "true"}[k] })
	c := &countingClient{next: s.http}
	s.http = c
	return s, c
}

func keys(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

// TestSigner_PutsAndGetsInALocalS3 writes objects through signed links and
// reads them back, through the signer and through the S3 client.
func TestSigner_PutsAndGetsInALocalS3(t *testing.T) {
	ctx := context.Background()
	b := testaws.NewBucket(t)
	s, _ := motoSigner(t)
	body := []byte(`{"schemaVersion":1}`)
	if err := s.Put(ctx, b.Name, "exports/t/r.json", "application/json", body); err != nil {
		t.Fatal(err)
	}
	got, ct, err := s.Get(ctx, b.Name, "exports/t/r.json")
	if err != nil || !bytes.Equal(got, body) || ct != "application/json" {
		t.Errorf("get: %q %q %v", got, ct, err)
	}
	res, err := b.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String("exports/t/r.json")})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if aws.ToString(res.ContentType) != "application/json" {
		t.Errorf("the S3 client reads the content type %q", aws.ToString(res.ContentType))
	}

	_, _, err = s.Get(ctx, b.Name, "exports/t/missing.json")
	if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "missing.json") {
		t.Errorf("get of a missing object: %v", err)
	}
	if _, _, err = s.Get(ctx, "no-such-bucket-"+b.Name, "k"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("get from a missing bucket: %v, want an error that is not ErrNotFound", err)
	}
	if err := s.Put(ctx, b.Name, "", "text/plain", body); err == nil {
		t.Error("a put with an empty key succeeded")
	}
}

// TestSigner_KeysRoundTripInALocalS3 puts, lists, reads and deletes keys with
// spaces, '+', '=' and other characters that need escaping, and checks that
// the S3 client sees the same keys.
func TestSigner_KeysRoundTripInALocalS3(t *testing.T) {
	ctx := context.Background()
	b := testaws.NewBucket(t)
	s, _ := motoSigner(t)
	ks := []string{specialKey, "attachments/t 1/plus+minus-", "attachments/t 1/a=b&c=d; e,f"}
	for i, k := range ks {
		if err := s.Put(ctx, b.Name, k, "image/png", []byte(k)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	objs, err := s.List(ctx, b.Name, "attachments/t 1/")
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(ks)); !slices.Equal(keys(objs), want) {
		t.Errorf("listed %q, want %q", keys(objs), want)
	}
	for _, o := range objs {
		if o.Size != int64(len(o.Key)) {
			t.Errorf("%q: size %d, want %d", o.Key, o.Size, len(o.Key))
		}
	}
	seen := b.Objects(t)
	for i, k := range ks {
		if !bytes.Equal(seen[k], []byte(k)) {
			t.Errorf("key %d: the S3 client reads %q under %q (objects %q)", i, seen[k], k, keys(objs))
		}
		got, _, err := s.Get(ctx, b.Name, k)
		if err != nil || !bytes.Equal(got, []byte(k)) {
			t.Errorf("get %d: %q %v", i, got, err)
		}
		if err := s.Delete(ctx, b.Name, k); err != nil {
			t.Errorf("delete %d: %v", i, err)
		}
	}
	if left := b.Objects(t); len(left) != 0 {
		t.Errorf("objects left after deleting each: %q", left)
	}
}

// TestSigner_ListsAndDeletesAPrefixInALocalS3 lists across pages (of two
// objects) and deletes only what is under the prefix.
func TestSigner_ListsAndDeletesAPrefixInALocalS3(t *testing.T) {
	ctx := context.Background()
	b := testaws.NewBucket(t)
	s, calls := motoSigner(t)
	s.maxKeys = 2
	var under []string
	for i := range 5 {
		under = append(under, fmt.Sprintf("exports/t_1/r_%d.json", i))
	}
	others := []string{"exports/t_10/r.json", "exports/t_1", "exports/t_2/r.json"}
	for _, k := range append(slices.Clone(under), others...) {
		if err := s.Put(ctx, b.Name, k, "application/json", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}

	before := calls.count()
	objs, err := s.List(ctx, b.Name, "exports/t_1/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys(objs), under) {
		t.Errorf("listed %q, want %q", keys(objs), under)
	}
	if n := calls.count() - before; n != 3 {
		t.Errorf("%d list requests for 5 objects in pages of 2, want 3", n)
	}
	if objs, err := s.List(ctx, b.Name, "nothing/"); err != nil || len(objs) != 0 {
		t.Errorf("list of an empty prefix: %v %v", objs, err)
	}

	if n, err := s.DeletePrefix(ctx, b.Name, ""); err == nil || n != 0 {
		t.Errorf("an empty prefix: %d deleted, err %v", n, err)
	}
	n, err := s.DeletePrefix(ctx, b.Name, "exports/t_1/")
	if err != nil || n != len(under) {
		t.Errorf("delete prefix: %d, %v; want %d", n, err, len(under))
	}
	var left []string
	for k := range b.Objects(t) {
		left = append(left, k)
	}
	if slices.Sort(left); !slices.Equal(left, slices.Sorted(slices.Values(others))) {
		t.Errorf("left %q, want %q", left, others)
	}
	if n, err := s.DeletePrefix(ctx, b.Name, "exports/t_1/"); err != nil || n != 0 {
		t.Errorf("second delete prefix: %d, %v", n, err)
	}
	if _, err := s.List(ctx, "no-such-bucket-"+b.Name, "x/"); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("list of a missing bucket: %v", err)
	}
}

// unsigned is a request's URI without the link's signature parameters: what
// the S3 client's own request has.
func unsigned(r signcheck.Request) signcheck.Request {
	path, query, _ := strings.Cut(r.URI, "?")
	var kept []string
	for p := range strings.SplitSeq(query, "&") {
		if !strings.HasPrefix(p, "X-Amz-") {
			kept = append(kept, p)
		}
	}
	r.URI = path + "?" + strings.Join(kept, "&")
	return r
}

// TestSigner_PutSendsWhatTheS3ClientSends checks the signature of a put and
// holds its path, query, body and content type to the S3 client's PutObject.
func TestSigner_PutSendsWhatTheS3ClientSends(t *testing.T) {
	ctx := context.Background()
	rec := &signcheck.Recorder{Statuses: []int{200}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := signcheck.Config(srv.URL)
	s := New(cfg, func(string) string { return "" })
	body := []byte(`{"a":1}`)
	if err := s.Put(ctx, "bucket", specialKey, "application/json", body); err != nil {
		t.Fatal(err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(specialKey),
		ContentType: aws.String("application/json"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	signcheck.VerifyLink(t, reqs[0], "s3", cfg.Region)
	signcheck.Same(t, unsigned(reqs[0]), reqs[1], "Content-Type", "Content-Length")
	q, _ := url.ParseQuery(strings.SplitN(reqs[0].URI, "?", 2)[1])
	if h := q.Get("X-Amz-SignedHeaders"); h != "content-length;content-type;host" {
		t.Errorf("signed headers %q", h)
	}
	if q.Get("X-Amz-Security-Token") != signcheck.Creds.SessionToken {
		t.Errorf("no session token in the link")
	}
}

// TestSigner_ListSendsWhatTheS3ClientSends follows a continuation token, checks
// each page's signature and holds the second to the S3 client's
// ListObjectsV2 of the same page.
func TestSigner_ListSendsWhatTheS3ClientSends(t *testing.T) {
	ctx := context.Background()
	const prefix, token = "attachments/t 1/a+b=", "1/tok+en= x"
	var (
		mu   sync.Mutex
		reqs []signcheck.Request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, signcheck.Request{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()})
		mu.Unlock()
		if r.URL.Query().Get("continuation-token") == "" {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix>attachments/t 1/a+b=</Prefix>
<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>1/tok+en= x</NextContinuationToken>
<Contents><Key>attachments/t 1/a+b=1 &amp; 2.png</Key><Size>10</Size></Contents>
<Contents><Key>attachments/t 1/a+b=3</Key><Size>0</Size></Contents></ListBucketResult>`)
			return
		}
		io.WriteString(w, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>
<Contents><Key>attachments/t 1/a+b=4</Key><Size>4096</Size></Contents></ListBucketResult>`)
	}))
	defer srv.Close()
	cfg := signcheck.Config(srv.URL)
	s := New(cfg, func(string) string { return "" })
	s.maxKeys = 2
	objs, err := s.List(ctx, "bucket", prefix)
	if err != nil {
		t.Fatal(err)
	}
	want := []Object{{"attachments/t 1/a+b=1 & 2.png", 10}, {"attachments/t 1/a+b=3", 0}, {"attachments/t 1/a+b=4", 4096}}
	if !slices.Equal(objs, want) {
		t.Errorf("listed %v, want %v", objs, want)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket"), Prefix: aws.String(prefix),
		ContinuationToken: aws.String(token), MaxKeys: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs[:2] {
		signcheck.VerifyLink(t, r, "s3", cfg.Region)
	}
	signcheck.Same(t, unsigned(reqs[1]), reqs[2])
}

// TestSigner_RetriesOnlyWhatIsWorthIt sends puts and gets to a server that
// answers as told: 5xx, 429 and broken connections are tried again (three
// attempts in all), a refusal or a missing object is not.
func TestSigner_RetriesOnlyWhatIsWorthIt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int
		code      string
		failFirst int // connections broken before the server is reached
		get       bool
		attempts  int // the server's
		wantErr   string
		notFound  bool
	}{
		{name: "503 then 200", statuses: []int{503, 200}, code: "SlowDown", attempts: 2},
		{name: "broken connection then 200", statuses: []int{200}, failFirst: 1, attempts: 1},
		{name: "500 three times", statuses: []int{500}, code: "InternalError", attempts: 3, wantErr: "put object: status 500 InternalError"},
		{name: "broken twice, then throttled", statuses: []int{429}, code: "SlowDown", failFirst: 2, attempts: 1,
			wantErr: "put object: status 429 SlowDown"},
		{name: "broken three times", statuses: []int{200}, failFirst: 3, attempts: 0, wantErr: "connection reset"},
		{name: "refused", statuses: []int{403, 200}, code: "AccessDenied", attempts: 1, wantErr: "put object: status 403 AccessDenied"},
		{name: "missing object", statuses: []int{404, 200}, code: "NoSuchKey", get: true, attempts: 1,
			wantErr: "get object: status 404 NoSuchKey", notFound: true},
		{name: "missing bucket", statuses: []int{404, 200}, code: "NoSuchBucket", get: true, attempts: 1,
			wantErr: "get object: status 404 NoSuchBucket"},
		{name: "get after 502", statuses: []int{502, 200}, get: true, attempts: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rec := &signcheck.Recorder{Statuses: tc.statuses}
			if tc.code != "" {
				rec.Body = "<Error><Code>" + tc.code + "</Code><Message>secret body</Message></Error>"
			}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			cfg := signcheck.Config(srv.URL)
			s := New(cfg, func(string) string { return "" })
			s.http = &countingClient{failFirst: tc.failFirst, next: s.http}
			const key = "exports/private name.json"
			var err error
			if tc.get {
				_, _, err = s.Get(ctx, "bucket", key)
			} else {
				err = s.Put(ctx, "bucket", key, "application/json", []byte("object contents"))
			}
			reqs := rec.Requests()
			if len(reqs) != tc.attempts {
				t.Errorf("%d attempts reached the server, want %d", len(reqs), tc.attempts)
			}
			for _, r := range reqs {
				signcheck.VerifyLink(t, r, "s3", cfg.Region)
				if !tc.get && (string(r.Body) != "object contents" || r.Header.Get("Content-Type") != "application/json") {
					t.Errorf("attempt sent %q as %q", r.Body, r.Header.Get("Content-Type"))
				}
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("err %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrNotFound) != tc.notFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v", err, !tc.notFound)
			}
			for _, secret := range []string{"private", "contents", "secret body"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q tells %q", err, secret)
				}
			}
		})
	}
}
