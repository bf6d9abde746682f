package adminapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzAdminRequest sends arbitrary requests (method, path, query, body, with
// the tenant's owner key, the platform token or no key) through the admin
// API's Lambda handler over moto (seeds in testdata/fuzz/FuzzAdminRequest,
// from events/admin-api-*.json and the routes' own examples). The handler
// recovers a panic into a 500, so the run fails on any 500: with moto healthy
// a 500 is a panic or an error of ours that a client's input caused (say, a
// key DynamoDB refuses), and every answer but a 204 is a JSON document.
func FuzzAdminRequest(f *testing.F) {
	f.Add(uint8(0), "/v1/conversations", "status=open&limit=25", "", uint8(0))
	f.Add(uint8(1), "/v1/tenants", "", `{"name": "Shop Example", "allowedOrigins": ["https://shop.example.com"]}`, uint8(1))
	f.Add(uint8(1), "/v1/conversations/cv06h2jr7v37e8gbz7ra24a2n47w/messages", "", `{"text": "Hi, how can I help?", "agentName": "Ana"}`, uint8(0))
	f.Add(uint8(2), "/v1/tenant", "", `{"retention":{"communicationDays":30}}`, uint8(0))
	f.Add(uint8(0), "/v1/contacts", "email=a%40example.com&cursor=abc", "", uint8(0))
	f.Add(uint8(1), "/v1/agent-tokens", "", `{"name": "Ana"}`, uint8(0))
	f.Add(uint8(2), "/v1/conversations/cv06h2jr7v37e8gbz7ra24a2n47w", "", `{"assigneeId": "", "read": true}`, uint8(0))
	f.Add(uint8(1), "/v1/privacy-requests", "", `{"type":"erase","subject":{"email":"a@example.com"},"reason":"subject_request"}`, uint8(0))
	e := newEnv(f)
	tn := e.newTenant("Fuzz")
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, "HEAD", "OPTIONS"}
	f.Fuzz(func(t *testing.T, method uint8, path, query, body string, who uint8) {
		e.t = t // the env's helpers report to this input's test
		key := []string{tn.OwnerKey, platformToken, ""}[int(who)%3]
		if query != "" {
			path += "?" + query
		}
		logged := e.logs.Len()
		res := e.call(methods[int(method)%len(methods)], path, key, body)
		if res.Status >= 500 {
			t.Fatalf("%s %q answered %d %s; log: %s", methods[int(method)%len(methods)], path, res.Status, res.Body, e.logs.String()[logged:])
		}
		if res.Status != http.StatusNoContent && !json.Valid([]byte(res.Body)) {
			t.Fatalf("%q answered a body that is not JSON: %q", path, res.Body)
		}
		if strings.Contains(e.logs.String()[logged:], `"level":"ERROR"`) {
			t.Fatalf("%q logged an error: %s", path, e.logs.String()[logged:])
		}
	})
}
