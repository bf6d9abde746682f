package apiurl_test

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/apiurl"
)

func TestBase(t *testing.T) {
	for _, tc := range []struct {
		name, configured, domain, stage, want string
	}{
		{"execute-api domain keeps the stage", "", "abc123.execute-api.eu-west-1.amazonaws.com", "prod", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"},
		{"execute-api $default stage", "", "abc123.execute-api.eu-west-1.amazonaws.com", "$default", "https://abc123.execute-api.eu-west-1.amazonaws.com"},
		{"custom domain hides the stage", "", "chat.example.com", "prod", "https://chat.example.com"},
		{"configured wins", "https://chat.example.com/api/", "abc123.execute-api.eu-west-1.amazonaws.com", "prod", "https://chat.example.com/api"},
		{"no domain", "", "", "prod", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := apiurl.Base(tc.configured, events.APIGatewayV2HTTPRequestContext{DomainName: tc.domain, Stage: tc.stage})
			if got != tc.want {
				t.Errorf("Base = %q, want %q", got, tc.want)
			}
		})
	}
}
