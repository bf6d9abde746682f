package usage_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
)

const iPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

func TestRecordPageView_StoresUsageAndTechnicalItems(t *testing.T) {
	tt := testaws.NewTables(t)
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	st := tt.Store().WithClock(func() time.Time { return now })
	ctx := context.Background()
	ten := &chat.Tenant{ID: ids.New(ids.Tenant), Retention: retention.Periods{UsageDays: 14}}
	contact := ids.New(ids.Contact)
	v, err := usage.RecordPageView(ctx, st, ten, contact,
		usage.PageViewFrame{Action: "pageView", Path: "https://shop.example/pricing?email=ann@example.com#plans",
			Referrer: "https://www.google.com/search?q=ann+smith", TimeOnPageMs: 5300},
		usage.Client{SourceIP: "203.0.113.77", UserAgent: iPhone})
	if err != nil {
		t.Fatal(err)
	}
	views, err := st.PageViews(ctx, ten.ID, contact)
	if err != nil || len(views) != 1 {
		t.Fatalf("page views %v %v", views, err)
	}
	got := views[0]
	for _, c := range []struct{ name, got, want string }{
		{"path", got.Path, "/pricing"},
		{"referrer", got.Referrer, "https://www.google.com/search"},
		{"ip network", got.IPNetwork, "203.0.113.0/24"},
		{"browser", got.Browser, "Safari 17"},
		{"id", got.ID, v.ID},
	} {
		if c.got != c.want {
			t.Errorf("%s %q, want %q", c.name, c.got, c.want)
		}
	}
	if got.TimeOnPageMs != 5300 {
		t.Errorf("timeOnPageMs %d", got.TimeOnPageMs)
	}
	devs, err := st.Devices(ctx, ten.ID, contact)
	if err != nil || len(devs) != 1 || devs[0].OS != "iOS" || devs[0].Device != "mobile" {
		t.Fatalf("devices %+v %v", devs, err)
	}
	// Usage data lives for the tenant's usage period, technical data for the
	// technical period; then reads hide them.
	now = now.Add(14*24*time.Hour + time.Second)
	if views, _ := st.PageViews(ctx, ten.ID, contact); len(views) != 0 {
		t.Fatal("page view visible after the usage period")
	}
	if devs, _ := st.Devices(ctx, ten.ID, contact); len(devs) != 1 {
		t.Fatal("device hidden before the technical period ended")
	}
}

func TestRecordPageView_BadFramesAreRefusedAndStoreNothing(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ten := &chat.Tenant{ID: ids.New(ids.Tenant)}
	long := "/" + strings.Repeat("a", usage.MaxPathChars)
	for _, tc := range []struct {
		name string
		f    usage.PageViewFrame
	}{
		{"no path", usage.PageViewFrame{}},
		{"relative path", usage.PageViewFrame{Path: "pricing"}},
		{"javascript URL", usage.PageViewFrame{Path: "javascript:alert(1)"}},
		{"path too long", usage.PageViewFrame{Path: long}},
		{"referrer not http", usage.PageViewFrame{Path: "/", Referrer: "file:///etc/passwd"}},
		{"negative time on page", usage.PageViewFrame{Path: "/", TimeOnPageMs: -1}},
		{"time on page over a day", usage.PageViewFrame{Path: "/", TimeOnPageMs: 25 * 3600 * 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := usage.RecordPageView(context.Background(), st, ten, "c1", tc.f, usage.Client{SourceIP: "198.51.100.1"})
			if chat.ErrorCode(err) != chat.EInvalid {
				t.Fatalf("error %v, want invalid", err)
			}
		})
	}
	if n := len(tt.ScanAll(t, tt.Data)); n != 0 {
		t.Fatalf("%d items stored by refused frames", n)
	}
}

func TestParseUserAgent(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want usage.UserAgent
	}{
		{iPhone, usage.UserAgent{Browser: "Safari 17", OS: "iOS", Device: "mobile"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70",
			usage.UserAgent{Browser: "Edge 131", OS: "Windows", Device: "desktop"}},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
			usage.UserAgent{Browser: "Chrome 131", OS: "Android", Device: "mobile"}},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
			usage.UserAgent{Browser: "Firefox 133", OS: "Linux", Device: "desktop"}},
		{"", usage.UserAgent{}},
	} {
		if got := usage.ParseUserAgent(tc.ua); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.ua, got, tc.want)
		}
	}
}

// TestHook_RecordsTheSampleFrame feeds events/ws-page-view.json to the hook
// ws-message calls for pageView frames.
func TestHook_RecordsTheSampleFrame(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	var req events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(t, "ws-page-view.json", &req)
	auth := req.RequestContext.Authorizer.(map[string]any)
	ten := &chat.Tenant{ID: auth["tenantId"].(string), Status: "active"}
	if err := st.PutTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	contact := auth["visitorId"].(string)
	hook := usage.Hook(st, store.NewTenantCache(st, time.Minute))
	if err := hook(ctx, ten.ID, contact, json.RawMessage(req.Body), req.RequestContext); err != nil {
		t.Fatal(err)
	}
	views, err := st.PageViews(ctx, ten.ID, contact)
	if err != nil || len(views) != 1 || views[0].Path != "/pricing" || views[0].IPNetwork != "203.0.113.0/24" {
		t.Fatalf("page views %+v %v", views, err)
	}
	if devs, _ := st.Devices(ctx, ten.ID, contact); len(devs) != 1 || devs[0].OS != "iOS" {
		t.Fatalf("devices %+v", devs)
	}
	if err := hook(ctx, ten.ID, contact, json.RawMessage(`{"action":"pageView","path":42}`), req.RequestContext); chat.ErrorCode(err) != chat.EInvalid {
		t.Fatalf("bad frame: %v, want invalid", err)
	}
}

// An erased visitor's connection may still be open, or its token still valid:
// a page view it reports is refused and stores nothing (one GetItem of the
// suppression entry per page view).
func TestHook_ErasedVisitorRecordsNothing(t *testing.T) {
	ctx := context.Background()
	ten := &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active"}
	w := newHookWorld(t, ten)
	erased := ids.New(ids.Contact)
	if err := w.st.Suppress(ctx, ten.ID, chat.SuppressContact, erased, "r1"); err != nil {
		t.Fatal(err)
	}
	err := w.hook(ctx, ten.ID, erased, json.RawMessage(w.req.Body), w.req.RequestContext)
	if chat.ErrorCode(err) != chat.EUnauthorized {
		t.Fatalf("page view of an erased visitor: %v, want unauthorized", err)
	}
	if n := len(w.tt.ScanAll(t, w.tt.Data)); n != 2 { // the tenant and the suppression entry
		t.Fatalf("%d items after a refused page view, want 2", n)
	}
}

// A tenant that requires consent gets no usage data from a visitor until the
// widget says the visitor consented: a frame without "consent": true stores
// nothing; one with it is recorded.
func TestHook_WaitsForConsentWhereTheTenantRequiresIt(t *testing.T) {
	ctx := context.Background()
	ten := &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active", AnalyticsConsent: chat.AnalyticsConsentRequired}
	w := newHookWorld(t, ten)
	st, req, hook := w.st, w.req, w.hook
	visitor := ids.New(ids.Contact)
	for _, body := range []string{req.Body, `{"action":"pageView","path":"/a","consent":false}`} {
		if err := hook(ctx, ten.ID, visitor, json.RawMessage(body), req.RequestContext); chat.ErrorCode(err) != chat.EInvalid {
			t.Fatalf("page view without consent %s: %v, want invalid", body, err)
		}
	}
	if views, _ := st.PageViews(ctx, ten.ID, visitor); len(views) != 0 {
		t.Fatalf("page views stored without consent: %+v", views)
	}
	if devs, _ := st.Devices(ctx, ten.ID, visitor); len(devs) != 0 {
		t.Fatalf("devices stored without consent: %+v", devs)
	}
	if err := hook(ctx, ten.ID, visitor, json.RawMessage(`{"action":"pageView","path":"/a","consent":true}`), req.RequestContext); err != nil {
		t.Fatal(err)
	}
	if views, _ := st.PageViews(ctx, ten.ID, visitor); len(views) != 1 {
		t.Fatalf("page views after consent: %+v", views)
	}
}

// hookWorld is a page view hook over fresh tables, with the sample frame's
// request and its tenant stored.
type hookWorld struct {
	tt   *testaws.Tables
	st   *store.Store
	req  events.APIGatewayWebsocketProxyRequest
	hook func(context.Context, string, string, json.RawMessage, events.APIGatewayWebsocketProxyRequestContext) error
}

func newHookWorld(t *testing.T, ten *chat.Tenant) *hookWorld {
	t.Helper()
	w := &hookWorld{tt: testaws.NewTables(t)}
	w.st = w.tt.Store()
	testaws.LoadEvent(t, "ws-page-view.json", &w.req)
	if err := w.st.PutTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	w.hook = usage.Hook(w.st, store.NewTenantCache(w.st, time.Minute))
	return w
}
