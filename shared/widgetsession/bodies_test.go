package widgetsession_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

// The refusals keep their statuses (from apierror's one map) and their exact
// bodies and headers.
func TestRefusals_ExactStatusesAndBodies(t *testing.T) {
	st := testaws.NewTables(t).Store()
	tokens := testTokens
	h := newHandler(st, nil, nil)
	ctx := context.Background()
	tn := newTenant(t, st, "https://shop.example")
	id := tn.ID
	visitor := ids.New(ids.Contact)
	if err := st.Suppress(ctx, id, chat.SuppressContact, visitor, "r1"); err != nil {
		t.Fatal(err)
	}
	erasedToken := tokens.Issue(id, visitor, time.Hour)
	for _, tc := range []struct {
		name, origin, body string
		status             int
		want               string
	}{
		{"malformed", "https://shop.example", `{"widgetKey":`, 400,
			`{"detail":"invalid: malformed JSON body","status":400,"title":"Bad Request","type":"about:blank"}`},
		{"unknown key", "https://shop.example", `{"widgetKey":"wk_` + id + `_wrong"}`, 401,
			`{"detail":"unknown widget key","status":401,"title":"Unauthorized","type":"about:blank"}`},
		{"foreign origin", "https://evil.example", `{"widgetKey":"` + tn.WidgetKey + `"}`, 403,
			`{"detail":"origin not allowed for this widget","status":403,"title":"Forbidden","type":"about:blank"}`},
		{"erased visitor", "https://shop.example", `{"widgetKey":"` + tn.WidgetKey + `","visitorToken":"` + erasedToken + `"}`, 403,
			`{"detail":"this identity was erased at the person's request and cannot be stored again","status":403,"title":"Forbidden","type":"about:blank"}`},
	} {
		var req events.APIGatewayV2HTTPRequest
		testaws.LoadEvent(t, "widget-session.json", &req)
		req.Headers["origin"], req.Body = tc.origin, tc.body
		res, err := h.Handle(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tc.status || res.Body != tc.want {
			t.Errorf("%s: %d %s\nwant %d %s", tc.name, res.StatusCode, res.Body, tc.status, tc.want)
		}
		if res.Headers["content-type"] != "application/problem+json" || res.Headers["access-control-allow-origin"] != tc.origin {
			t.Errorf("%s: headers %v", tc.name, res.Headers)
		}
	}
}
