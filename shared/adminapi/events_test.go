package adminapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
)

// TestSampleEvents runs the handler on the events/admin-api-*.json samples that
// `sam local invoke -e` uses, with the key of a real tenant put in.
func TestSampleEvents(t *testing.T) {
	var create events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "admin-api-create-tenant.json", &create)
	token := strings.TrimPrefix(create.Headers["authorization"], "Bearer ")
	e := newEnv(t, func(d *adminapi.Deps) { d.PlatformToken = token })
	res, err := e.api.Handle(context.Background(), create)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create tenant sample: %d %s %v", res.StatusCode, res.Body, err)
	}
	var created struct{ Tenant struct{ ID string } }
	json.Unmarshal([]byte(res.Body), &created)
	// The operator's owner key for that tenant.
	var issue events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "admin-api-issue-owner-key.json", &issue)
	issue.RawPath = strings.ReplaceAll(issue.RawPath, "t0000000000000000000000000", created.Tenant.ID)
	issue.RequestContext.HTTP.Path = issue.RawPath
	issue.PathParameters["id"] = created.Tenant.ID
	res, err = e.api.Handle(context.Background(), issue)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("issue owner key sample: %d %s %v", res.StatusCode, res.Body, err)
	}
	var issued struct{ Key string }
	json.Unmarshal([]byte(res.Body), &issued)
	wantStatus(t, "the issued key", e.call(http.MethodGet, "/v1/tenant", issued.Key, ""), http.StatusOK)
	e.api = adminapi.New(withStore(e.store, adminapi.Deps{PlatformToken: platformToken}))
	f := e.newFixture("Samples")
	for _, tc := range []struct {
		file   string
		status int
	}{
		{"admin-api-list-conversations.json", http.StatusOK},
		{"admin-api-reply.json", http.StatusCreated},
	} {
		var ev events.APIGatewayV2HTTPRequest
		testaws.LoadEvent(t, tc.file, &ev)
		ev.Headers["authorization"] = "Bearer " + f.AgentKey
		ev.RawPath = strings.ReplaceAll(ev.RawPath, "cv0000000000000000000000000", f.ConvID)
		ev.RequestContext.HTTP.Path = ev.RawPath
		res, err := e.api.Handle(context.Background(), ev)
		if err != nil || res.StatusCode != tc.status {
			t.Errorf("%s: %d %s %v", tc.file, res.StatusCode, res.Body, err)
		}
	}
}
