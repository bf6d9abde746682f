package channel_test

import (
	"net/http"
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
