package adminapi_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/adminapi"
)

// itemCount counts the items of the test's Data table (a Scan, in a test only).
// itemCount counts the items of the Data table, except the rate limiter's
// counters: every authenticated request, refused or not, is counted against
// its key (shared/ratelimit), and that is bookkeeping, not a change.
func (e *env) itemCount() int32 {
	e.t.Helper()
	res, err := e.tt.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &e.tt.Data, Select: types.SelectCount, ConsistentRead: new(true),
		FilterExpression:          aws.String("entity <> :counter"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":counter": &types.AttributeValueMemberS{Value: "ratecounter"}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Count
}

func fields(t *testing.T, p map[string]any) []string {
	t.Helper()
	var out []string
	errs, _ := p["errors"].([]any)
	for _, x := range errs {
		out = append(out, x.(map[string]any)["field"].(string))
	}
	sort.Strings(out)
	return out
}

// TestValidation_BadBodiesAre400AndWriteNothing sends every route that takes a
// body malformed JSON, unknown fields, wrong types, trailing data, non-objects
// and oversized bodies: each is a 400 problem document naming the failing
// fields, and the table holds exactly the items it held before.
func TestValidation_BadBodiesAre400AndWriteNothing(t *testing.T) {
	e := newEnv(t, func(d *adminapi.Deps) { d.MaxBodyBytes = 1024 })
	f := e.newFixture("Valid")
	wrongTypes := map[string]struct {
		body   string
		fields string
	}{
		"POST /v1/tenants":                     {`{"name":5,"allowedOrigins":"https://a.example"}`, "allowedOrigins,name"},
		"PATCH /v1/tenant":                     {`{"name":true,"retention":{"communicationDays":"30","bogus":1}}`, "name,retention.bogus,retention.communicationDays"},
		"POST /v1/api-keys":                    {`{"name":[],"role":1}`, "name,role"},
		"POST /v1/tenants/{id}/api-keys":       {`{"name":5}`, "name"},
		"PATCH /v1/conversations/{id}":         {`{"status":1,"assigneeId":2,"read":"yes"}`, "assigneeId,read,status"},
		"POST /v1/agent-tokens":                {`{"name":5}`, "name"},
		"POST /v1/conversations/{id}/messages": {`{"text":{},"agentName":2}`, "agentName,text"},
		"POST /v1/conversations/{id}/template": {`{"name":1,"language":[],"params":"x"}`, "language,name,params"},
		"POST /v1/conversations/{id}/handoff":  {`{"to":1,"agentName":[]}`, "agentName,to"},
		"PATCH /v1/contacts/{id}":              {`{"marketingOptOut":"yes","phone":12}`, "marketingOptOut,phone"},
		"POST /v1/privacy-requests":            {`{"type":1,"subject":{"contactId":2},"reason":[]}`, "reason,subject.contactId,type"},
		"PATCH /v1/privacy-settings":           {`{"analyticsConsent":true}`, "analyticsConsent"},
		"POST /v1/suppressions/lift":           {`{"email":1,"channel":[]}`, "channel,email"},
		"POST /v1/tenant/close":                {`{"confirm":1}`, "confirm"},
		"POST /v1/tenant/reopen":               {`{"confirm":"x"}`, "confirm"},
		"POST /v1/tenants/{id}/close":          {`{"reason":1}`, "reason"},
		"POST /v1/tenants/{id}/reopen":         {`{"reason":"requested"}`, "reason"},
	}
	bad := []struct {
		name, body, fields string
	}{
		{"malformed JSON", `{"name":`, "body"},
		{"unknown field", `{"bogus":1,"other":"x"}`, "bogus,other"},
		{"trailing data", `{} {}`, "body"},
		{"not an object", `["a"]`, "body"},
		{"null", `null`, "body"},
		{"empty body", ``, "body"},
		{"oversized body", `{"name":"` + strings.Repeat("x", 2000) + `"}`, "body"},
	}
	for _, rt := range e.api.Routes() {
		if rt.Method != http.MethodPost && rt.Method != http.MethodPatch {
			continue
		}
		name := rt.Method + " " + rt.Pattern
		tc := routeCases[name]
		key := f.OwnerKey
		if rt.Role == adminapi.RoleOperator {
			key = platformToken
		}
		wt, ok := wrongTypes[name]
		if !ok {
			t.Errorf("%s takes a body but has no wrong-types case", name)
		}
		cases := append(bad, struct{ name, body, fields string }{"wrong types", wt.body, wt.fields})
		for _, c := range cases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				before := e.itemCount()
				p := wantProblem(t, c.name, e.call(rt.Method, tc.path(f), key, c.body), http.StatusBadRequest)
				if got := strings.Join(fields(t, p), ","); got != c.fields {
					t.Errorf("failing fields %q, want %q: %v", got, c.fields, p)
				}
				if after := e.itemCount(); after != before {
					t.Errorf("items %d -> %d: a rejected request wrote", before, after)
				}
			})
		}
	}
}

// TestValidation_SemanticChecks covers values of the right type that are not
// acceptable: retention past the platform maximums, bad origins, roles, emails.
func TestValidation_SemanticChecks(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Sem")
	tests := []struct {
		name, method, path, body, fields string
	}{
		{"retention above maximum", "PATCH", "/v1/tenant", `{"retention":{"communicationDays":366,"usageDays":-1}}`, "retention.communicationDays,retention.usageDays"},
		{"origin with a path", "PATCH", "/v1/tenant", `{"allowedOrigins":["https://a.example/shop","ftp://b.example"]}`, "allowedOrigins[0],allowedOrigins[1]"},
		{"empty patch", "PATCH", "/v1/tenant", `{}`, "body"},
		{"unknown role", "POST", "/v1/api-keys", `{"name":"x","role":"admin"}`, "role"},
		{"missing name", "POST", "/v1/api-keys", `{"role":"agent"}`, "name"},
		{"bad status", "PATCH", "/v1/conversations/" + f.ConvID, `{"status":"archived"}`, "status"},
		{"empty conversation patch", "PATCH", "/v1/conversations/" + f.ConvID, `{}`, "body"},
		{"null conversation patch", "PATCH", "/v1/conversations/" + f.ConvID, `{"status":null,"assigneeId":null,"read":null}`, "body"},
		{"read false", "PATCH", "/v1/conversations/" + f.ConvID, `{"read":false,"status":"closed"}`, "read"},
		{"assignee not an agent", "PATCH", "/v1/conversations/" + f.ConvID, `{"assigneeId":"` + f.AgentKeyID + `","status":"bogus"}`, "assigneeId,status"},
		{"blank agent name", "POST", "/v1/agent-tokens", `{"name":" \t "}`, "name"},
		{"agent name too long", "POST", "/v1/agent-tokens", `{"name":"` + strings.Repeat("é", 101) + `"}`, "name"},
		{"agents take no query", "GET", "/v1/agents?limit=5", ``, "limit"},
		{"empty reply", "POST", "/v1/conversations/" + f.ConvID + "/messages", `{"text":"   "}`, "text"},
		{"bad email", "PATCH", "/v1/contacts/" + f.ContactID, `{"email":"not an email","phone":"call me"}`, "email,phone"},
		{"bad limit", "GET", "/v1/conversations?limit=1000", ``, "limit"},
		{"bad status filter", "GET", "/v1/conversations?status=all", ``, "status"},
		{"unknown query", "GET", "/v1/audit-events?since=yesterday", ``, "since"},
		{"garbage cursor", "GET", "/v1/conversations?cursor=abc.def", ``, "cursor"},
		{"search without email", "GET", "/v1/contacts", ``, "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.itemCount()
			p := wantProblem(t, tc.name, e.call(tc.method, tc.path, f.OwnerKey, tc.body), http.StatusBadRequest)
			if got := strings.Join(fields(t, p), ","); got != tc.fields {
				t.Errorf("failing fields %q, want %q", got, tc.fields)
			}
			if after := e.itemCount(); after != before {
				t.Errorf("items %d -> %d", before, after)
			}
		})
	}
}

// TestProblem_InternalErrorShowsNothing points the API at a table that does not
// exist: the answer is a bare 500 problem, and the log has the cause with the
// request id.
func TestProblem_InternalErrorShowsNothing(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Broken")
	broken := newEnvOver(t, e, "no-such-table")
	res := broken.call(http.MethodGet, "/v1/conversations", f.OwnerKey, "")
	p := wantProblem(t, "broken store", res, http.StatusInternalServerError)
	if p["detail"] != "internal error" || strings.Contains(res.Body, "no-such-table") || strings.Contains(res.Body, "ResourceNotFound") {
		t.Fatalf("500 shows internal detail: %s", res.Body)
	}
	logs := broken.logs.String()
	if !strings.Contains(logs, p["requestId"].(string)) || !strings.Contains(logs, "ResourceNotFoundException") {
		t.Fatalf("log lacks the request id or the cause: %s", logs)
	}
	if strings.Contains(logs, f.OwnerKey) {
		t.Fatal("log holds the API key")
	}
}
