package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

// recorder is a script run before each page's own: it keeps the answers of
// the widget's session requests (lsbSessions) and the frames it sends
// (lsbFrames), for the test to read.
const recorder = `(function () {
  window.lsbSessions = []; window.lsbFrames = [];
  var f = window.fetch;
  window.fetch = function (u) {
    return f.apply(this, arguments).then(function (r) {
      if (String(u).indexOf('/widget/v1/session') >= 0 && r.ok) {
        r.clone().json().then(function (j) { window.lsbSessions.push(j); });
      }
      return r;
    });
  };
  var W = window.WebSocket;
  window.WebSocket = function (u) {
    var ws = new W(u), send = ws.send;
    ws.send = function (d) { window.lsbFrames.push(String(d)); return send.call(ws, d); };
    return ws;
  };
  window.WebSocket.prototype = W.prototype;
})()`

// recordingBrowser is a headless Chromium whose pages run recorder.
func recordingBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx := browser(t)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recorder}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// pageViewFrames returns the pageView frames the page has sent.
func pageViewFrames(t *testing.T, ctx context.Context) []map[string]any {
	t.Helper()
	raw := evalJS[[]string](t, ctx, `window.lsbFrames`)
	var out []map[string]any
	for _, r := range raw {
		var f map[string]any
		if json.Unmarshal([]byte(r), &f) == nil && f["action"] == "pageView" {
			out = append(out, f)
		}
	}
	return out
}

// waitPageViews waits until the visitor's contact partition holds n page view
// items (SK prefix PV#), then checks that it still holds n a moment later.
func waitPageViews(t *testing.T, s *stack.Stack, tenantID, visitorID string, n int, why string) {
	t.Helper()
	pk := store.ContactPK(tenantID, visitorID)
	deadline := time.Now().Add(15 * time.Second)
	for len(rawKeys(t, s, pk, "PV#")) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: page views %v, want %d", why, rawKeys(t, s, pk, "PV#"), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A frame the widget should not have sent would be stored within this.
	time.Sleep(2 * time.Second)
	if keys := rawKeys(t, s, pk, "PV#"); len(keys) != n {
		t.Fatalf("%s: page views %v, want %d", why, keys, n)
	}
}

// leave makes the widget report the page as it does when the visitor leaves
// it (pagehide), while its socket stays open.
var leave = chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event('pagehide'))`)

// TestBrowser_WidgetShowsTheVisitorsID: the panel's footer shows the visitor
// id the session answered, LiveSupportBot.visitorId() returns it (null while
// there is no session), and it is the contact partition the visitor's page
// views are stored in, so a visitor without a contact profile can cite it in
// a privacy request. Of a tenant that does not require consent, page views
// are sent at once, marked consent: true.
func TestBrowser_WidgetShowsTheVisitorsID(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	ctx := recordingBrowser(t)
	demo, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			screenshot(demo, t, "e2e-widget-visitor-id-failed.png")
		}
	}()

	// No session (an unknown key): no id, and no footer.
	if err := chromedp.Do(demo,
		chromedp.Navigate(s.HTTPURL+"/demo.html?key="+url.QueryEscape("wk_"+ten.ID+"_wrong")),
		chromedp.WaitVisible(css("#lsb-toggle")),
		waitJS(`document.getElementById('lsb-error').textContent !== ''`, 20*time.Second),
	); err != nil {
		t.Fatalf("widget with an unknown key: %v", err)
	}
	none := evalJS[any](t, demo, `window.LiveSupportBot.visitorId()`)
	footer := evalJS[string](t, demo, `getComputedStyle(document.getElementById('lsb-privacy')).display`)
	if none != nil || footer != "none" {
		t.Errorf("without a session: visitorId() = %v, footer display %q; want null and none", none, footer)
	}

	if err := chromedp.Do(demo,
		openDemo(demoURL(s, ten.WidgetKey)),
		chromedp.WaitVisible(css("#lsb-visitor-id")),
	); err != nil {
		t.Fatalf("open the widget: %v", err)
	}
	answered := evalJS[[]struct {
		VisitorID        string `json:"visitorId"`
		AnalyticsConsent string `json:"analyticsConsent"`
	}](t, demo, `window.lsbSessions`)
	shown := evalJS[string](t, demo, `document.getElementById('lsb-visitor-id').textContent`)
	api := evalJS[string](t, demo, `window.LiveSupportBot.visitorId()`)
	line := evalJS[string](t, demo, `document.getElementById('lsb-privacy').textContent`)
	if len(answered) != 1 || answered[0].VisitorID == "" {
		t.Fatalf("session answers %+v, want one with a visitorId", answered)
	}
	id := answered[0].VisitorID
	if shown != id || api != id || !strings.HasPrefix(line, "Your visitor id: "+id) {
		t.Errorf("session's visitorId %q; panel shows %q (%q), visitorId() = %q", id, shown, line, api)
	}
	if answered[0].AnalyticsConsent != chat.AnalyticsConsentNotRequired {
		t.Errorf("session's analyticsConsent %q, want not_required", answered[0].AnalyticsConsent)
	}
	screenshot(demo, t, "e2e-widget-visitor-id.png")

	// The copy button puts the id on the clipboard (the page may use it).
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(demo, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: s.HTTPURL,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	if err := chromedp.Do(demo,
		chromedp.Click(css("#lsb-copy")),
		waitJS(`document.getElementById('lsb-copy').textContent === 'Copied'`, 5*time.Second),
	); err != nil {
		t.Fatalf("copy: %v", err)
	}
	if clip, err := chromedp.Run(demo, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); err != nil || clip != id {
		t.Errorf("clipboard %q (%v), want the visitor id %q", clip, err, id)
	}

	// The page view is stored under that id.
	if err := chromedp.Do(demo, leave); err != nil {
		t.Fatal(err)
	}
	waitPageViews(t, s, ten.ID, id, 1, "not_required, page left")
	if pv := pageViewFrames(t, demo); len(pv) != 1 || pv[0]["consent"] != true {
		t.Errorf("pageView frames %v, want one with consent: true", pv)
	}
}

// requireConsent sets the tenant's analyticsConsent to "required" through the
// admin API and waits until new sessions answer it (widget-session reads
// tenants through a cache).
func requireConsent(t *testing.T, s *stack.Stack, ten tenant) {
	t.Helper()
	if st := call(t, s, "PATCH", "/v1/privacy-settings", ten.APIKey, map[string]any{"analyticsConsent": "required"}, nil); st != http.StatusOK {
		t.Fatalf("set analyticsConsent: %d", st)
	}
	deadline := time.Now().Add(2 * store.SessionTenantCacheTTL)
	for {
		st, out := session(t, s, ten.WidgetKey, "")
		if st == http.StatusOK && out["analyticsConsent"] == chat.AnalyticsConsentRequired {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions answer %d %v, want analyticsConsent required", st, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestBrowser_WidgetSendsNoPageViewWithoutConsent: of a tenant that requires
// consent, the widget sends no page view until the page calls
// LiveSupportBot.consent(true); then it does (each frame marked consent:
// true), remembers the choice over a reload, and stops again after consent(false).
// Chat works before any consent.
func TestBrowser_WidgetSendsNoPageViewWithoutConsent(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	requireConsent(t, s, ten)
	ctx := recordingBrowser(t)
	demo, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			screenshot(demo, t, "e2e-widget-consent-failed.png")
		}
	}()
	online := waitJS(widgetOnline, 30*time.Second)
	consent := func() any { return evalJS[any](t, demo, `window.LiveSupportBot.consent()`) }

	// Before consent: chat works, and leaving the page (twice: an event, then a
	// reload) stores no page view.
	if err := chromedp.Do(demo,
		openDemo(demoURL(s, ten.WidgetKey)),
		visitorSends("hello before consent", 20*time.Second),
		leave,
	); err != nil {
		t.Fatalf("chat before consent: %v", err)
	}
	id := evalJS[string](t, demo, `window.lsbSessions[0].visitorId`)
	if pv := pageViewFrames(t, demo); len(pv) != 0 {
		t.Errorf("pageView frames sent without consent: %v", pv)
	}
	if err := chromedp.Do(demo, chromedp.Reload(), online); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitPageViews(t, s, ten.ID, id, 0, "no consent, page left and reloaded")
	if c := consent(); c != nil {
		t.Errorf("consent() = %v before any choice, want null", c)
	}
	screenshot(demo, t, "e2e-widget-consent-none.png")

	// Consent: the next page view is sent, marked, and stored.
	if err := chromedp.Do(demo,
		chromedp.Evaluate[chromedp.Void](`window.LiveSupportBot.consent(true)`),
		leave,
	); err != nil {
		t.Fatalf("consent: %v", err)
	}
	if pv := pageViewFrames(t, demo); len(pv) != 1 || pv[0]["consent"] != true {
		t.Errorf("pageView frames after consent %v, want one with consent: true", pv)
	}
	waitPageViews(t, s, ten.ID, id, 1, "consent given, page left")

	// A reload remembers the consent, and leaving stores a view.
	if err := chromedp.Do(demo, chromedp.Reload(), online); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if c := consent(); c != true {
		t.Errorf("consent() = %v after a reload, want true", c)
	}
	if err := chromedp.Do(demo, leave); err != nil {
		t.Fatal(err)
	}
	waitPageViews(t, s, ten.ID, id, 2, "consent remembered, page left")

	// Withdrawn: no more page views, on this page or the next (the views so far
	// were one a page: a page reports itself once).
	if err := chromedp.Do(demo, chromedp.Reload(), online,
		chromedp.Evaluate[chromedp.Void](`window.LiveSupportBot.consent(false)`),
		leave,
	); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	if pv := pageViewFrames(t, demo); len(pv) != 0 {
		t.Errorf("pageView frames after withdrawal: %v", pv)
	}
	if err := chromedp.Do(demo, chromedp.Reload(), online, leave); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if c := consent(); c != false {
		t.Errorf("consent() = %v after withdrawal and a reload, want false", c)
	}
	if pv := pageViewFrames(t, demo); len(pv) != 0 {
		t.Errorf("pageView frames after withdrawal and a reload: %v", pv)
	}
	waitPageViews(t, s, ten.ID, id, 2, "consent withdrawn, pages left")

	// Chat still works after withdrawal.
	if err := chromedp.Do(demo,
		visitorSends("hello after withdrawal", 20*time.Second),
	); err != nil {
		t.Fatalf("chat after withdrawal: %v", err)
	}
	screenshot(demo, t, "e2e-widget-consent.png")
}

// TestBrowser_WidgetSetsNoCookieAndCallsOnlyOurAPI: the privacy map promises
// no cookies and no third-party scripts. A visitor chats and leaves a page;
// the browser then holds no cookie for any site, and every resource the page
// loaded came from the page's own origin (which serves the widget and the
// API here).
func TestBrowser_WidgetSetsNoCookieAndCallsOnlyOurAPI(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	ctx := recordingBrowser(t)
	demo, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(demo,
		openDemo(demoURL(s, ten.WidgetKey)),
		visitorSends("no cookies please", 20*time.Second),
		leave,
	); err != nil {
		t.Fatalf("chat: %v", err)
	}
	res, err := chromedp.Call(demo, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if cookies := res.Cookies; len(cookies) != 0 || evalJS[string](t, demo, `document.cookie`) != "" {
		t.Errorf("cookies after a chat: %d (%q)", len(cookies), evalJS[string](t, demo, `document.cookie`))
	}
	origins := evalJS[[]string](t, demo, `performance.getEntriesByType('resource').map(function (e) { return new URL(e.name).origin; })`)
	if len(origins) == 0 {
		t.Fatal("no resource entries: the check would pass vacuously")
	}
	for _, o := range origins {
		if o != s.HTTPURL {
			t.Errorf("the page loaded a resource from %s, not from %s", o, s.HTTPURL)
		}
	}
	// The demo page remembers its own widget key (lsb-demo-key); the widget
	// keeps one entry.
	keys := evalJS[[]string](t, demo, `Object.keys(localStorage).filter(function (k) { return k !== 'lsb-demo-key'; })`)
	if len(keys) != 1 || keys[0] != "lsb:"+ten.WidgetKey {
		t.Errorf("the widget's localStorage keys %v, want its one", keys)
	}
}
