package widgetsession_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

func TestSession(t *testing.T) {
	st := testaws.NewTables(t).Store()
	tokens := testTokens
	h := newHandler(st, nil, nil)
	ctx := context.Background()
	shop, open, other := newTenant(t, st, "https://shop.example.com"), newTenant(t, st), newTenant(t, st)
	call := func(origin, body string) (int, map[string]any) {
		req := sampleRequest(t)
		req.Headers["origin"], req.Body = origin, body
		res, err := h.Handle(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal([]byte(res.Body), &m)
		return res.StatusCode, m
	}
	key := func(tn *chat.Tenant, tok string) string {
		b, _ := json.Marshal(map[string]string{"widgetKey": tn.WidgetKey, "visitorToken": tok})
		return string(b)
	}

	code, first := call("https://shop.example.com", key(shop, ""))
	if code != 200 || first["websocketUrl"] != "wss://ws.example/dev" {
		t.Fatalf("allowed origin: %d %v", code, first)
	}
	// The server's clock, for the widget's sentAt.
	if st, ok := first["serverTime"].(float64); !ok || math.Abs(st-float64(time.Now().UnixMilli())) > 5000 {
		t.Errorf("serverTime %v, want the server's clock in ms", first["serverTime"])
	}
	claims, err := tokens.Verify(first["visitorToken"].(string))
	if err != nil || claims.TenantID != shop.ID || claims.VisitorID != first["visitorId"] {
		t.Fatalf("token claims %+v %v", claims, err)
	}
	if code, again := call("https://shop.example.com", key(shop, first["visitorToken"].(string))); code != 200 || again["visitorId"] != first["visitorId"] {
		t.Fatalf("renewal gave %v, want the same visitor", again)
	}
	if code, m := call("https://evil.example.net", key(shop, "")); code != 403 || m["status"] != float64(403) {
		t.Fatalf("foreign origin: %d %v, want 403 problem", code, m)
	}
	if code, _ := call("https://anything.example", key(open, "")); code != 200 {
		t.Fatalf("empty allowlist refused an origin: %d", code)
	}
	if code, m := call("https://x", key(other, first["visitorToken"].(string))); code != 200 || m["visitorId"] == first["visitorId"] {
		t.Fatalf("a token of another tenant was renewed: %v", m)
	}
	for name, body := range map[string]string{
		"malformed":     `{"widgetKey":`,
		"unknown field": `{"widgetKey":"` + shop.WidgetKey + `","x":1}`,
		"missing key":   `{}`,
	} {
		if code, _ := call("https://shop.example.com", body); code != 400 {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	// After erasure the old visitor is refused, or comes back as a new contact.
	if err := st.Suppress(ctx, shop.ID, chat.SuppressContact, first["visitorId"].(string), "r1"); err != nil {
		t.Fatal(err)
	}
	if code, m := call("https://shop.example.com", key(shop, first["visitorToken"].(string))); code != 403 {
		t.Fatalf("erased visitor renewed: %d %v", code, m)
	}
	if _, err := st.SetReingestAfterErasure(ctx, shop.ID, "new_contact"); err != nil {
		t.Fatal(err)
	}
	if code, m := call("https://shop.example.com", key(shop, first["visitorToken"].(string))); code != 200 || m["visitorId"] == first["visitorId"] {
		t.Fatalf("new_contact: %d %v, want a new visitor id", code, m)
	}
	if code, _ := call("https://shop.example.com", `{"widgetKey":"wk_`+shop.ID+`_wrong"}`); code != 401 {
		t.Errorf("wrong key: %d, want 401", code)
	}
}

// TestSession_AnalyticsConsent: the answer names the tenant's analyticsConsent,
// "not_required" when the tenant never chose, so the widget knows whether to
// wait for the visitor's consent before it sends usage data.
func TestSession_AnalyticsConsent(t *testing.T) {
	st := testaws.NewTables(t).Store()
	h := newHandler(st, nil, nil)
	for choice, want := range map[string]string{
		"":                               chat.AnalyticsConsentNotRequired,
		chat.AnalyticsConsentNotRequired: chat.AnalyticsConsentNotRequired,
		chat.AnalyticsConsentRequired:    chat.AnalyticsConsentRequired,
	} {
		id := ids.New(ids.Tenant)
		tn := &chat.Tenant{ID: id, WidgetKey: "wk_" + id + "_" + ids.Secret(16), Status: "active",
			AnalyticsConsent: choice, CreatedAt: time.Now()}
		if err := st.PutTenant(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
		req := sampleRequest(t)
		req.Headers["origin"], req.Body = "https://shop.example.com", `{"widgetKey":"`+tn.WidgetKey+`"}`
		res, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal([]byte(res.Body), &m)
		if res.StatusCode != 200 || m["analyticsConsent"] != want {
			t.Errorf("tenant's choice %q: %d analyticsConsent %v, want %q", choice, res.StatusCode, m["analyticsConsent"], want)
		}
	}
}
