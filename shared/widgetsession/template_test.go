package widgetsession_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
)

// TestTemplate_PolicyIsExactlyWhatTheSessionUses drives new sessions, a
// renewal (with its erasure check) and a limited request through a metered
// client and compares the DynamoDB actions with WidgetSessionFunction's policy
// on the Data table: each one used is allowed, each one allowed is used.
func TestTemplate_PolicyIsExactlyWhatTheSessionUses(t *testing.T) {
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	tokens := testTokens
	h := newHandler(st, nil, nil)
	tn := newTenant(t, st)
	id := tn.ID
	m.Reset()
	statuses := map[int]int{}
	for i := range ratelimit.Defaults[ratelimit.Session].Burst + 1 {
		var req events.APIGatewayV2HTTPRequest
		testaws.LoadEvent(t, "widget-session.json", &req)
		tok := ""
		if i == 1 {
			tok = tokens.Issue(id, ids.New(ids.Contact), time.Hour)
		}
		req.Body = fmt.Sprintf(`{"widgetKey":%q,"visitorToken":%q}`, tn.WidgetKey, tok)
		res, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		statuses[res.StatusCode]++
	}
	if statuses[200] == 0 || statuses[429] == 0 {
		t.Fatalf("statuses %v, want sessions and a 429", statuses)
	}
	var used []string
	for a := range m.Actions() {
		used = append(used, a)
	}
	sort.Strings(used)
	allowed := testaws.Template(t).Allowed("WidgetSessionFunction", "DataTable.Arn", "dynamodb")
	if fmt.Sprint(used) != fmt.Sprint(allowed) {
		t.Fatalf("the session uses %v on the Data table; the policy allows %v", used, allowed)
	}
}
