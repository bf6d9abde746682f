// Package s3link signs S3 requests as links (SigV4 query-string signing, what
// the S3 client's presigner does) and sends the one request the erase function
// makes, without linking the S3 client: the admin API hands out download links
// of exports, and privacy-erase deletes export files. A link is computed, not an
// API call; the S3 client and its endpoint rules weigh about 1 MB in a function.
package s3link

import (
	"context"
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

// Signer signs links to the objects of S3 buckets.
type Signer struct {
	creds     aws.CredentialsProvider
	region    string
	endpoint  string // a custom endpoint (local S3); "" for AWS
	pathStyle bool
	http      aws.HTTPClient
	now       func() time.Time
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
	return s.link(ctx, http.MethodGet, "GetObject", bucket, key, ttl)
}

// deleteTTL is how long the link of a delete is valid: it is used at once.
const deleteTTL = 15 * time.Minute

// Delete deletes an object; a missing one is no error (S3 answers 204 either
// way). It sends DELETE to a signed link, up to three times while S3 answers 5xx
// or 429 or the connection fails.
func (s *Signer) Delete(ctx context.Context, bucket, key string) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
			}
		}
		var retry bool
		if retry, err = s.delete(ctx, bucket, key); err == nil || !retry {
			break
		}
	}
	return err
}

// delete makes one attempt, and reports whether a failure is worth another.
func (s *Signer) delete(ctx context.Context, bucket, key string) (bool, error) {
	link, err := s.link(ctx, http.MethodDelete, "DeleteObject", bucket, key, deleteTTL)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, link, nil)
	if err != nil {
		return false, fmt.Errorf("delete object: %w", err)
	}
	res, err := s.http.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("delete object: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 == 2 {
		return false, nil
	}
	code := ""
	if _, rest, ok := strings.Cut(string(body), "<Code>"); ok {
		code, _, _ = strings.Cut(rest, "</Code>")
	}
	return res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests,
		fmt.Errorf("delete object: status %d %s", res.StatusCode, code)
}

// link signs method on the object for ttl, as the S3 client's presigner signs
// the operation op.
func (s *Signer) link(ctx context.Context, method, op, bucket, key string, ttl time.Duration) (string, error) {
	if s.creds == nil {
		return "", fmt.Errorf("sign link: no credentials")
	}
	u, err := s.objectURL(bucket, key)
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	q := u.Query()
	q.Set("x-id", op)
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(ttl/time.Second), 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("sign link: credentials: %w", err)
	}
	link, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", s.region, s.now().UTC(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	return link, nil
}

// objectURL is the address of an object: virtual-hosted
// (https://<bucket>.s3.<region>.amazonaws.com/<key>, or <bucket>.<endpoint host>)
// or path-style (<endpoint>/<bucket>/<key>).
func (s *Signer) objectURL(bucket, key string) (*url.URL, error) {
	base := "https://s3." + s.region + ".amazonaws.com"
	if s.endpoint != "" {
		base = strings.TrimRight(s.endpoint, "/")
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	// Path-style when asked, and, as the S3 client's endpoint rules do, on an
	// endpoint that is an IP address (a local S3 on 127.0.0.1).
	if s.pathStyle || net.ParseIP(u.Hostname()) != nil {
		u.Path += "/" + bucket + "/" + key
	} else {
		u.Host = bucket + "." + u.Host
		u.Path += "/" + key
	}
	return u, nil
}
