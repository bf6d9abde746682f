package channel

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// APITimeout bounds every call of a provider client made with the default
// HTTP client: a send is one attempt of dispatch's, and a webhook's work
// ends within the provider's patience.
const APITimeout = 10 * time.Second

var apiClient = &http.Client{Timeout: APITimeout}

// APIBase is a provider's API base URL: base without a trailing slash, or
// def when base is empty (a fake's URL in tests and the local stack).
func APIBase(base, def string) string {
	if base == "" {
		return def
	}
	return strings.TrimSuffix(base, "/")
}

// APIClient is c, or the shared client with APITimeout when c is nil.
func APIClient(c *http.Client) *http.Client {
	if c == nil {
		return apiClient
	}
	return c
}

// WithoutURL is a transport error without the request's URL: url.Error
// quotes it, and a provider's URL can carry a token or a file's secret
// address, while errors are logged.
func WithoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
