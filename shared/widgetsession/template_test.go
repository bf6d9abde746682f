package widgetsession_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/widgetsession"
)

// TestTemplate_PolicyIsExactlyWhatTheSessionUses drives new sessions, a
// renewal (with its erasure check) and a limited request through a metered
// client and compares the DynamoDB actions with WidgetSessionFunction's policy
// on the Data table: each one used is allowed, each one allowed is used.
func TestTemplate_PolicyIsExactlyWhatTheSessionUses(t *testing.T) {
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	tokens, _ := visitortoken.New(strings.Repeat("k", 32))
	h := widgetsession.New(widgetsession.Deps{Store: st, Limiter: ratelimit.New(st), Tokens: tokens, WebSocketURL: "wss://ws.example/dev", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	id := ids.New(ids.Tenant)
	tn := &chat.Tenant{ID: id, WidgetKey: "wk_" + id + "_" + ids.Secret(16), Status: "active", CreatedAt: time.Now()}
	if err := st.PutTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
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
