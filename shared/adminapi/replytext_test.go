package adminapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
)

// The text of an agent reply follows the one message-text rule
// (chat.TextProblem), worded as field issues of the admin API.
func TestReply_TextRuleAndWording(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int
		text  string
		issue string
	}{
		{"blank", 0, "   ", "is required"},
		{"over the default limit", 0, strings.Repeat("é", chat.DefaultMaxTextChars+1), "must be at most 4000 characters"},
		{"over a configured limit", 10, strings.Repeat("a", 11), "must be at most 10 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(d *adminapi.Deps) { d.MaxMessageChars = tc.max })
			f := e.newFixture("Text")
			p := wantProblem(t, "reply", e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"`+tc.text+`"}`), http.StatusBadRequest)
			errs, _ := p["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["field"] != "text" || errs[0].(map[string]any)["detail"] != tc.issue {
				t.Fatalf("errors %v, want text: %q", p["errors"], tc.issue)
			}
		})
	}
}
