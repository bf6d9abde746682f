package channel_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

func TestAPIBaseAndClient(t *testing.T) {
	if got := channel.APIBase("", "https://api.example"); got != "https://api.example" {
		t.Errorf("default base %q", got)
	}
	if got := channel.APIBase("http://127.0.0.1:9/pa/", "https://api.example"); got != "http://127.0.0.1:9/pa" {
		t.Errorf("base %q", got)
	}
	if c := channel.APIClient(nil); c.Timeout != channel.APITimeout {
		t.Errorf("default client timeout %v", c.Timeout)
	}
	own := &http.Client{}
	if channel.APIClient(own) != own {
		t.Error("the given client was not used")
	}
}

// A transport error loses the URL it quoted (a token in it), and keeps its
// cause.
func TestWithoutURL(t *testing.T) {
	cause := errors.New("connection refused")
	err := &url.Error{Op: "Get", URL: "https://api.example/bot123:SECRET/getMe", Err: cause}
	if got := channel.WithoutURL(err); got != cause || strings.Contains(got.Error(), "SECRET") {
		t.Errorf("got %v", got)
	}
	if got := channel.WithoutURL(cause); got != cause {
		t.Errorf("another error changed: %v", got)
	}
}

// Retry-After in seconds or as an HTTP date, bounded; anything else is the
// default.
func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"30": 30 * time.Second, " 7 ": 7 * time.Second, "99999999": channel.MaxRetryAfter,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     time.Minute * 5,
		"": time.Minute * 5, "soon": time.Minute * 5, "-3": time.Minute * 5,
	} {
		if got := channel.RetryAfterHeader(h, now, 5*time.Minute); got != want {
			t.Errorf("%q: %v, want %v", h, got, want)
		}
	}
}
