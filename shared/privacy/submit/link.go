package submit

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// LinkSigner signs S3 GET links (privacy.LinkSigner) with SigV4 query
// parameters, as the S3 client's presigner does, without linking the S3 client:
// a presigned link is computed, not an API call. It signs what
// s3.PresignClient.PresignGetObject signs (the TestLinkSigner test holds it to
// that, byte for byte).
type LinkSigner struct {
	creds     aws.CredentialsProvider
	region    string
	endpoint  string // a custom endpoint (local S3); "" for AWS
	pathStyle bool
	now       func() time.Time
}

// NewLinkSigner returns the link signer of cfg. The endpoint is
// AWS_ENDPOINT_URL_S3, or the configuration's base endpoint (AWS_ENDPOINT_URL);
// S3_FORCE_PATH_STYLE=true selects path-style addressing (a local S3).
func NewLinkSigner(cfg aws.Config, getenv func(string) string) LinkSigner {
	ep := getenv("AWS_ENDPOINT_URL_S3")
	if ep == "" {
		ep = aws.ToString(cfg.BaseEndpoint)
	}
	return LinkSigner{creds: cfg.Credentials, region: cfg.Region, endpoint: ep,
		pathStyle: getenv("S3_FORCE_PATH_STYLE") == "true", now: time.Now}
}

// SignGet returns a link that reads the object until ttl has passed.
func (l LinkSigner) SignGet(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if l.creds == nil {
		return "", fmt.Errorf("sign link: no credentials")
	}
	u, err := l.objectURL(bucket, key)
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	q := u.Query()
	q.Set("x-id", "GetObject")
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(ttl/time.Second), 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	creds, err := l.creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("sign link: credentials: %w", err)
	}
	link, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", l.region, l.now().UTC(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	return link, nil
}

// objectURL is the address of an object: virtual-hosted
// (https://<bucket>.s3.<region>.amazonaws.com/<key>) or path-style
// (<endpoint>/<bucket>/<key>).
func (l LinkSigner) objectURL(bucket, key string) (*url.URL, error) {
	base := "https://s3." + l.region + ".amazonaws.com"
	if l.endpoint != "" {
		base = strings.TrimRight(l.endpoint, "/")
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if l.pathStyle {
		u.Path += "/" + bucket + "/" + key
	} else {
		u.Host = bucket + "." + u.Host
		u.Path += "/" + key
	}
	return u, nil
}
