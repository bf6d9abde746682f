// Package s3link signs S3 requests as links (SigV4 query-string signing, what
// the S3 client's presigner does) and sends the few requests the functions
// make, without linking the S3 client: the admin API hands out download links
// of exports, export writes and reads files, privacy-erase deletes them. A link
// is computed, not an API call; the S3 client and its endpoint rules weigh
// about 1 MB in a function.
//
// Every request the signer sends goes to a link signed as the presigner signs
// the same operation (UNSIGNED-PAYLOAD; the key escaped as the S3 client
// escapes it: every byte but A-Z a-z 0-9 - . _ ~ and /), up to three times
// while S3 answers 5xx or 429 or the connection fails. Errors name the
// operation, the status and S3's error code, never a key or a body.
package s3link

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ErrNotFound is the error of Get on a missing object (S3's NoSuchKey);
// compare with errors.Is.
var ErrNotFound = errors.New("no such object")

// Object is an object of a listing.
type Object struct {
	Key  string
	Size int64
}

// Signer signs links to the objects of S3 buckets, and sends requests to them.
type Signer struct {
	creds     aws.CredentialsProvider
	region    string
	endpoint  string // a custom endpoint (local S3); "" for AWS
	pathStyle bool
	http      aws.HTTPClient
	now       func() time.Time
	maxKeys   int // the page size of List; 0 for S3's (1,000)
}

// New returns the signer of cfg. The endpoint is AWS_ENDPOINT_URL_S3, or the
// configuration's base endpoint (AWS_ENDPOINT_URL); S3_FORCE_PATH_STYLE=true
// selects path-style addressing (a local S3).
func New(cfg aws.Config, getenv func(string) string) *Signer {
	ep := getenv("AWS_ENDPOINT_URL_S3")
	if ep == "" {
		ep = aws.ToString(cfg.BaseEndpoint)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Signer{creds: cfg.Credentials, region: cfg.Region, endpoint: ep,
		pathStyle: getenv("S3_FORCE_PATH_STYLE") == "true", http: hc, now: time.Now}
}

// SignGet returns a link that reads the object until ttl has passed
// (privacy.LinkSigner; s3.PresignClient.PresignGetObject).
func (s *Signer) SignGet(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	return s.presign(ctx, getRequest(bucket, key), ttl)
}

// callTTL is how long the link of a request the signer sends is valid: it is
// used at once.
const callTTL = 15 * time.Minute

// Delete deletes an object; a missing one is no error (S3 answers 204 either
// way).
func (s *Signer) Delete(ctx context.Context, bucket, key string) error {
	_, err := s.send(ctx, deleteRequest(bucket, key))
	return err
}

// Put writes body as the object, with contentType as its Content-Type (signed,
// as the presigner signs PutObject's). The bucket's default encryption
// applies. The body is sent from memory: it is meant for files of a few MiB
// (at most some tens).
func (s *Signer) Put(ctx context.Context, bucket, key, contentType string, body []byte) error {
	_, err := s.send(ctx, putRequest(bucket, key, contentType, body))
	return err
}

// Get reads an object: its bytes and Content-Type. A missing object is an
// error that is ErrNotFound.
func (s *Signer) Get(ctx context.Context, bucket, key string) ([]byte, string, error) {
	a, err := s.send(ctx, getRequest(bucket, key))
	if err != nil {
		return nil, "", err
	}
	return a.body, a.header.Get("Content-Type"), nil
}

// List returns every object whose key starts with prefix ("" for all), in
// S3's order (by key), following ListObjectsV2's continuation tokens.
func (s *Signer) List(ctx context.Context, bucket, prefix string) ([]Object, error) {
	var out []Object
	token := ""
	for {
		a, err := s.send(ctx, s.listRequest(bucket, prefix, token))
		if err != nil {
			return out, err
		}
		var page struct {
			Contents []struct {
				Key  string
				Size int64
			}
			IsTruncated           bool
			NextContinuationToken string
		}
		if err := xml.Unmarshal(a.body, &page); err != nil {
			return out, fmt.Errorf("list objects: decode the answer: %w", err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{Key: o.Key, Size: o.Size})
		}
		if !page.IsTruncated {
			return out, nil
		}
		if page.NextContinuationToken == "" || page.NextContinuationToken == token {
			return out, fmt.Errorf("list objects: a truncated page without a new continuation token")
		}
		token = page.NextContinuationToken
	}
}

// DeletePrefix deletes every object whose key starts with prefix, one Delete
// each, and returns how many it deleted. An empty prefix is refused: it would
// empty the bucket.
func (s *Signer) DeletePrefix(ctx context.Context, bucket, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("delete prefix: an empty prefix is refused (it would empty the bucket)")
	}
	objs, err := s.List(ctx, bucket, prefix)
	if err != nil {
		return 0, fmt.Errorf("delete prefix: %w", err)
	}
	for i, o := range objs {
		if err := s.Delete(ctx, bucket, o.Key); err != nil {
			return i, fmt.Errorf("delete prefix: %w", err)
		}
	}
	return len(objs), nil
}

// request is one S3 request: its signed link's operation, and what is sent.
type request struct {
	what        string // the operation in errors: "put object"
	method, op  string // op is the link's x-id, "" for none (a listing)
	bucket, key string // key "" addresses the bucket (a listing)
	query       url.Values
	header      http.Header // sent and signed
	body        []byte
}

func getRequest(bucket, key string) request {
	return request{what: "get object", method: http.MethodGet, op: "GetObject", bucket: bucket, key: key}
}

func deleteRequest(bucket, key string) request {
	return request{what: "delete object", method: http.MethodDelete, op: "DeleteObject", bucket: bucket, key: key}
}

func putRequest(bucket, key, contentType string, body []byte) request {
	return request{what: "put object", method: http.MethodPut, op: "PutObject", bucket: bucket, key: key,
		header: http.Header{"Content-Type": {contentType}}, body: body}
}

// listRequest is the ListObjectsV2 request of one page: keys are not asked
// url-encoded, so the answer's are the keys.
func (s *Signer) listRequest(bucket, prefix, token string) request {
	q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
	if token != "" {
		q.Set("continuation-token", token)
	}
	if s.maxKeys > 0 {
		q.Set("max-keys", strconv.Itoa(s.maxKeys))
	}
	return request{what: "list objects", method: http.MethodGet, bucket: bucket, query: q}
}

// answer is a 2xx answer.
type answer struct {
	header http.Header
	body   []byte
}

// statusError is an answer that is not 2xx.
type statusError struct {
	what   string
	status int
	code   string // S3's error code, "" when the body names none
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: status %d %s", e.what, e.status, e.code)
}

// Is makes a NoSuchKey answer ErrNotFound.
func (e *statusError) Is(target error) bool {
	return target == ErrNotFound && e.status == http.StatusNotFound && e.code == "NoSuchKey"
}

// send sends r to a freshly signed link, up to three times while S3 answers
// 5xx or 429 or the connection fails (100 then 200 ms apart), and returns the
// first 2xx answer.
func (s *Signer) send(ctx context.Context, r request) (*answer, error) {
	var (
		a   *answer
		err error
	)
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
			}
		}
		var retry bool
		if a, retry, err = s.try(ctx, r); err == nil || !retry {
			break
		}
	}
	return a, err
}

// try makes one attempt, and reports whether a failure is worth another.
func (s *Signer) try(ctx context.Context, r request) (*answer, bool, error) {
	link, err := s.presign(ctx, r, callTTL)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", r.what, err)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, link, bytes.NewReader(r.body))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", r.what, err)
	}
	for h, v := range r.header {
		req.Header[h] = v
	}
	res, err := s.http.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("%s: %w", r.what, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 2 {
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return nil, ctx.Err() == nil, fmt.Errorf("%s: read the answer: %w", r.what, err)
		}
		return &answer{header: res.Header, body: body}, false, nil
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	code := ""
	if _, rest, ok := strings.Cut(string(body), "<Code>"); ok {
		code, _, _ = strings.Cut(rest, "</Code>")
	}
	return nil, res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests,
		&statusError{what: r.what, status: res.StatusCode, code: code}
}

// presign signs r for ttl, as the S3 client's presigner signs the operation
// r.op: its headers (and Content-Length when there is a body) are signed, the
// payload is not (UNSIGNED-PAYLOAD).
func (s *Signer) presign(ctx context.Context, r request, ttl time.Duration) (string, error) {
	if s.creds == nil {
		return "", fmt.Errorf("sign link: no credentials")
	}
	if r.op != "" && r.key == "" {
		return "", fmt.Errorf("sign link: an object's key is empty")
	}
	u, err := s.objectURL(r.bucket, r.key)
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if r.op != "" {
		q.Set("x-id", r.op)
	}
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(ttl/time.Second), 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), bytes.NewReader(r.body))
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	for h, v := range r.header {
		req.Header[h] = v
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("sign link: credentials: %w", err)
	}
	// The path is escaped already (objectURL): S3 wants it signed as sent,
	// not escaped a second time.
	link, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", s.region, s.now().UTC(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	return link, nil
}

// objectURL is the address of an object: virtual-hosted
// (https://<bucket>.s3.<region>.amazonaws.com/<key>, or <bucket>.<endpoint host>)
// or path-style (<endpoint>/<bucket>/<key>); key "" addresses the bucket
// (<endpoint>/<bucket> or <bucket>.<host>/). The key is escaped as the S3
// client escapes it.
func (s *Signer) objectURL(bucket, key string) (*url.URL, error) {
	base := "https://s3." + s.region + ".amazonaws.com"
	if s.endpoint != "" {
		base = strings.TrimRight(s.endpoint, "/")
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	path, raw := u.Path, u.EscapedPath()
	// Path-style when asked, and, as the S3 client's endpoint rules do, on an
	// endpoint that is an IP address (a local S3 on 127.0.0.1).
	if s.pathStyle || net.ParseIP(u.Hostname()) != nil {
		path += "/" + bucket
		raw += "/" + escapePath(bucket)
		if key != "" {
			path += "/" + key
			raw += "/" + escapePath(key)
		}
	} else {
		u.Host = bucket + "." + u.Host
		path += "/" + key
		raw += "/" + escapePath(key)
	}
	u.Path, u.RawPath = path, raw
	return u, nil
}

// escapePath escapes every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~)
// and '/', as the S3 client does (smithy-go's httpbinding.EscapePath).
func escapePath(p string) string {
	var b strings.Builder
	for i := range len(p) {
		c := p[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
