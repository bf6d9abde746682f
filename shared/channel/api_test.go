package channel_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
