package channel

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
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

// MaxRetryAfter bounds how long a provider may ask us to wait.
const MaxRetryAfter = 24 * time.Hour

// RetryAfterHeader reads a Retry-After header (seconds, or an HTTP date after now)
// as a wait between a second and MaxRetryAfter; def when it says neither.
func RetryAfterHeader(h string, now time.Time, def time.Duration) time.Duration {
	h = strings.TrimSpace(h)
	if s, err := strconv.ParseInt(h, 10, 64); err == nil && s > 0 {
		return time.Duration(min(s, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return min(max(t.Sub(now).Round(time.Second), time.Second), MaxRetryAfter)
	}
	return def
}

// StatusError is a provider's failed answer to a call: the HTTP status and
// the reason the provider gave (an error code or title, cut short; never
// anything of the request). What it is wrapped in says what it means
// (refused, rate limited, an expired token...); the provider packages'
// StatusError are this type.
type StatusError struct {
	Service    string // "x", "dialogflow"
	Call       string // the provider's call: "send", "detectIntent", "token refresh"...
	HTTPStatus int
	Reason     string // the provider's, "" if it gave none
}

func (e *StatusError) Error() string {
	s := e.Service + ": HTTP " + strconv.Itoa(e.HTTPStatus) + " from " + e.Call
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}
