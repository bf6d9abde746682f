package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath
	if _, err := os.Stat(exe); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed at %s (.ci/run installs it)", exe)
		}
		t.Skipf("the widget test needs Chromium at %s", exe)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Both pages poll or hold sockets while in background tabs.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// waitJS polls a JavaScript condition.
func waitJS(cond string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))
}

// clickJS clicks the first element matching sel, waiting up to timeout for it,
// with the finding and the click in one evaluation in the page. The console
// redraws a row when an event updates it, so a node that one protocol call
// found may be gone by the next ("Could not find node with given id").
func clickJS(sel string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return waitJS(`(function () { var e = document.querySelector(`+strconv.Quote(sel)+`); if (!e) { return false; } e.click(); return true; })()`, timeout)
}

// css is a CSS selector for the first matching element.
func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// attr reads an attribute of the first element matching a CSS selector.
func attr(ctx context.Context, sel, name string) (string, error) {
	r, err := chromedp.Run(ctx, chromedp.AttributeValue(css(sel), name))
	return r.Value, err
}

// hasText is a JavaScript condition: an element of selector has exactly text.
func hasText(selector, text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll(%s)).some(e => e.textContent === %s)`,
		strconv.Quote(selector), strconv.Quote(text))
}

// evalJS evaluates a JavaScript expression.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// do runs steps in ctx's tab and stops the test, saying what failed, at the
// first error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// widgetOnline is a JavaScript condition: the widget's socket is open.
const widgetOnline = `document.getElementById('lsb-root').getAttribute('data-status') === 'online'`

// consoleOnline is a JavaScript condition: the agent console's socket is open.
const consoleOnline = `document.getElementById('conn-state').getAttribute('data-state') === 'online'`

// demoURL is the demo page embedding the widget of widgetKey.
func demoURL(s *stack.Stack, widgetKey string) string {
	return s.HTTPURL + "/demo.html?key=" + url.QueryEscape(widgetKey)
}

// openDemo loads the demo page at u and opens the widget's panel until its
// socket is open.
func openDemo(u string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(u),
		chromedp.WaitVisible(css("#lsb-toggle")),
		chromedp.Click(css("#lsb-toggle")),
		waitJS(widgetOnline, 30*time.Second),
	)
}

// visitorSent is a JavaScript condition: the widget shows the visitor's
// message text as sent (acked).
func visitorSent(text string) string {
	return hasText(`.lsb-msg[data-author=visitor][data-state=sent] .lsb-text`, text)
}

// visitorSends types text in the widget's composer, sends it and waits up to
// within for its ack.
func visitorSends(text string, within time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(css("#lsb-input"), text),
		chromedp.Click(css("#lsb-send")),
		waitJS(visitorSent(text), within),
	)
}

// newConnections runs during and returns the ids of the socket connections
// that opened meanwhile.
func newConnections(s *stack.Stack, during func()) []string {
	before := map[string]bool{}
	for _, id := range s.WebSocket().ConnectionIDs() {
		before[id] = true
	}
	during()
	var ids []string
	for _, id := range s.WebSocket().ConnectionIDs() {
		if !before[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

func screenshot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", p)
}

func TestBrowser_VisitorAndAgentChatThroughWidgetAndConsole(t *testing.T) {
	s := localStack(t)
	ctx := browser(t)
	demo, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	console, cancelConsole := chromedp.NewContext(ctx) // a second tab
	defer cancelConsole()
	console, cancelT := context.WithTimeout(console, 2*time.Minute)
	defer cancelT()

	// The operator creates a tenant in the console with the platform token; the
	// console keeps the new API key and links to the demo page with the widget key.
	if err := chromedp.Do(console,
		chromedp.Navigate(s.HTTPURL+"/console.html"),
		chromedp.Click(css("#show-setup")),
		chromedp.SendKeys(css("#platform-token"), token),
		chromedp.SetValue(css("#agent-name"), "Grace"),
		chromedp.Click(css("#create-tenant")),
		chromedp.WaitVisible(css("#demo-link")),
		// The console connects its agent socket: the agent is online before
		// the visitor comes (else the widget would offer its offline form).
		waitJS(consoleOnline, 20*time.Second),
	); err != nil {
		t.Fatalf("create tenant in the console: %v", err)
	}
	link, err := attr(console, "#demo-link", "href")
	if err != nil {
		t.Fatal(err)
	}
	key, err := chromedp.Run(console, chromedp.Value(css("#api-key")))
	if err != nil || !strings.HasPrefix(link, "demo.html?key=wk_") || key == "" {
		t.Fatalf("demo link %q, api key set %v (%v)", link, key != "", err)
	}

	question := "Do you ship tents to Norway? " + time.Now().Format("150405.000")
	answer := "Yes, within 3 days."
	demoPage := s.HTTPURL + "/" + link
	shot := func(ctx context.Context, name string) { screenshot(ctx, t, name) }
	defer func() {
		if t.Failed() {
			shot(demo, "e2e-demo-failed.png")
			shot(console, "e2e-console-failed.png")
		}
	}()

	// The visitor opens the widget and writes; the ack turns pending into sent.
	if err := chromedp.Do(demo,
		openDemo(demoPage),
		chromedp.SendKeys(css("#lsb-name"), "Ada"),
		chromedp.SendKeys(css("#lsb-email"), "ada@example.com"),
		chromedp.Click(css("#lsb-identify-send")),
		waitJS(`getComputedStyle(document.getElementById('lsb-identify')).display === 'none'`, 20*time.Second),
		visitorSends(question, 20*time.Second),
	); err != nil {
		t.Fatalf("visitor sends: %v", err)
	}

	// The agent sees it in the console and replies.
	if err := chromedp.Do(console,
		waitJS(`document.querySelectorAll('#conversations li[data-id]').length === 1`, 20*time.Second),
		clickJS(`#conversations li[data-id]`, time.Second),
		waitJS(hasText(`.msg[data-author=visitor] .text`, question), 20*time.Second),
		chromedp.SendKeys(css("#reply-text"), answer),
		chromedp.Click(css("#reply-send")),
		waitJS(hasText(`.msg[data-author=agent] .text`, answer), 20*time.Second),
	); err != nil {
		t.Fatalf("agent replies: %v", err)
	}

	// The reply reaches the widget live.
	if err := chromedp.Do(demo,
		waitJS(hasText(`.lsb-msg[data-author=agent] .lsb-text`, answer), 20*time.Second),
	); err != nil {
		t.Fatalf("reply in the widget: %v", err)
	}
	shot(demo, "e2e-demo.png")
	shot(console, "e2e-console.png")

	// A reload keeps the visitor and the conversation.
	before, err := attr(demo, "#lsb-root", "data-visitor")
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(demo,
		chromedp.Reload(),
		waitJS(hasText(`.lsb-msg[data-author=visitor] .lsb-text`, question), 30*time.Second),
		waitJS(hasText(`.lsb-msg[data-author=agent] .lsb-text`, answer), 10*time.Second),
	); err != nil {
		t.Fatalf("after reload: %v", err)
	}
	after, err := attr(demo, "#lsb-root", "data-visitor")
	if err != nil {
		t.Fatal(err)
	}
	if before == "" || before != after {
		t.Errorf("visitor before reload %q, after %q: want the same visitor", before, after)
	}
	shot(demo, "e2e-demo-reloaded.png")

	// Leaving the page (the reload) reported a page view: usage data with the path,
	// the time on the page and the network, not the address, of the visitor.
	tenantID := strings.Split(strings.TrimPrefix(link, "demo.html?key=wk_"), "_")[0]
	st := stackStore(s)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		views, err := st.PageViews(context.Background(), tenantID, after)
		if err != nil {
			t.Fatal(err)
		}
		if len(views) > 0 {
			v := views[0]
			if v.Path != "/demo.html" || v.TimeOnPageMs <= 0 || v.IPNetwork != "127.0.0.0/24" {
				t.Errorf("page view %+v, want /demo.html with a time on page from 127.0.0.0/24", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no page view was recorded when the visitor left the page")
		}
	}

	// The agent closes the conversation; it leaves the open list.
	if err := chromedp.Do(console,
		chromedp.Click(css("#close-conversation")),
		waitJS(`document.querySelectorAll('#conversations li[data-id]').length === 0`, 20*time.Second),
	); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// stackStore is the store of the stack's tables, to read what was stored.
func stackStore(s *stack.Stack) *store.Store {
	return store.New(dynamodb.NewFromConfig(s.AWS), s.Tables["DataTable"], s.Tables["ArchiveTable"])
}

// onlyOpenConversation returns the id of the tenant's one open conversation
// (and fails the test if there is not exactly one).
func onlyOpenConversation(t *testing.T, s *stack.Stack, apiKey string) string {
	t.Helper()
	var convs struct {
		Items []struct{ ID string } `json:"items"`
	}
	if st := call(t, s, "GET", "/v1/conversations?status=open", apiKey, nil, &convs); st != 200 || len(convs.Items) != 1 {
		t.Fatalf("conversations: %d %+v", st, convs)
	}
	return convs.Items[0].ID
}

// fastClock makes the page's Date.now run an hour ahead.
const fastClock = `(function(){ var now = Date.now; Date.now = function(){ return now() + 3600e3; }; })()`

// manage calls the gateway's @connections API as a function would.
func manage(t *testing.T, s *stack.Stack, method, id, body string) int {
	t.Helper()
	u := strings.Replace(s.WSURL, "ws://", "http://", 1) + "/@connections/" + url.PathEscape(id)
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestBrowser_WidgetReconnectsResumesAndShowsServerFrames(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	ctx := browser(t)
	demo, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			screenshot(demo, t, "e2e-widget-frames-failed.png")
		}
	}()
	mine := newConnections(s, func() {
		do(t, demo, "first message",
			openDemo(demoURL(s, ten.WidgetKey)+"&ping=1"),
			// The keep-alive: pings go through the gateway to ws-message, pongs come back.
			waitJS(`!!document.getElementById('lsb-root').getAttribute('data-last-pong')`, 10*time.Second),
			visitorSends("first", 20*time.Second),
		)
	})
	if len(mine) != 1 {
		t.Fatalf("widget connections = %v", mine)
	}
	id := mine[0]

	// Frames a function may push: typing, a bot message, an error.
	for _, tc := range []struct{ frame, cond string }{
		{`{"type":"typing","author":{"kind":"agent","name":"Grace"},"state":"start"}`,
			`document.getElementById('lsb-typing').textContent === 'Grace is typing…'`},
		{`{"type":"message","message":{"id":"mbot1","conversationId":"c","author":{"kind":"bot","name":"Helper"},"text":"I am a bot","channel":"widget","createdAt":"2099-01-01T00:00:00Z"}}`,
			hasText(`.lsb-msg[data-author=bot] .lsb-text`, "I am a bot") + ` && document.getElementById('lsb-typing').textContent === ''`},
		{`{"type":"error","code":"rate_limited","message":"Slow down, please."}`,
			`document.getElementById('lsb-error').textContent === 'Slow down, please.'`},
	} {
		if st := manage(t, s, "POST", id, tc.frame); st != 200 {
			t.Fatalf("post frame: %d", st)
		}
		if err := chromedp.Do(demo, waitJS(tc.cond, 10*time.Second)); err != nil {
			t.Fatalf("frame %s not shown: %v", tc.frame, err)
		}
	}

	// The server drops the connection; while the widget is away the agent
	// answers. The widget reconnects by itself and the history brings the answer.
	conv := onlyOpenConversation(t, s, ten.APIKey)
	if st := manage(t, s, "DELETE", id, ""); st != http.StatusNoContent {
		t.Fatalf("delete connection: %d", st)
	}
	if st := call(t, s, "POST", "/v1/conversations/"+conv+"/messages", ten.APIKey,
		map[string]string{"text": "answered while you were away", "agentName": "Grace"}, nil); st != 201 {
		t.Fatalf("reply: %d", st)
	}
	if err := chromedp.Do(demo,
		waitJS(hasText(`.lsb-msg[data-author=agent] .lsb-text`, "answered while you were away"), 30*time.Second),
		waitJS(widgetOnline, 30*time.Second),
	); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	if st := manage(t, s, "GET", id, ""); st != http.StatusGone {
		t.Errorf("the dropped connection answers %d, want 410", st)
	}

	// The page's clock jumps an hour ahead after the session set the offset:
	// the server refuses the message's sentAt, and the widget resends it once
	// without sentAt (deduplicated by a marker instead).
	if err := chromedp.Do(demo,
		chromedp.Evaluate[chromedp.Void](fastClock),
		visitorSends("from a fast clock", 20*time.Second),
	); err != nil {
		t.Fatalf("message from a fast clock: %v", err)
	}
	st := stackStore(s)
	msgs, _, err := st.History(context.Background(), ten.ID, conv, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	byText := map[string][]*chat.Message{}
	for _, m := range msgs {
		byText[m.Text] = append(byText[m.Text], m)
	}
	if len(byText["first"]) != 1 || len(byText["from a fast clock"]) != 1 {
		t.Fatalf("stored %d of the first message and %d of the fast clock's, want one each", len(byText["first"]), len(byText["from a fast clock"]))
	}
	// The first went with sentAt (its key, no marker); the refused one with a marker.
	if d := time.Since(byText["first"][0].CreatedAt); d < 0 || d > 2*time.Minute {
		t.Errorf("the first message's createdAt is %v from now", -d)
	}
	markers := rawKeys(t, s, store.ConversationPK(ten.ID, conv), "CMID#")
	if len(markers) != 1 {
		t.Errorf("dedupe markers %v, want one (the message resent without sentAt)", markers)
	}
	screenshot(demo, t, "e2e-widget-frames.png")
}

// rawKeys returns the sort keys of the stack's Data items of partition pk
// that start with prefix.
func rawKeys(t *testing.T, s *stack.Stack, pk, prefix string) []string {
	t.Helper()
	res, err := dynamodb.NewFromConfig(s.AWS).Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(s.Tables["DataTable"]), KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range res.Items {
		if sk, ok := it["SK"].(*types.AttributeValueMemberS); ok {
			keys = append(keys, sk.Value)
		}
	}
	return keys
}

// TestBrowser_WidgetSendsSentAtByTheServersClock: a page whose clock runs an
// hour ahead from the start still sends sentAt by the server's clock (the
// session's serverTime gives the widget its offset), so the message is keyed
// by it (no dedupe marker) at about the server's time. Without the offset the
// server would refuse that sentAt and the widget would fall back to a marker.
func TestBrowser_WidgetSendsSentAtByTheServersClock(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	ctx := browser(t)
	demo, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := chromedp.Call(demo, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: fastClock,
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(demo,
		openDemo(demoURL(s, ten.WidgetKey)),
		visitorSends("from an hour-fast page", 20*time.Second),
	); err != nil {
		t.Fatalf("message from an hour-fast page: %v", err)
	}
	conv := onlyOpenConversation(t, s, ten.APIKey)
	st := stackStore(s)
	msgs, _, err := st.History(context.Background(), ten.ID, conv, "", 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("history: %d messages, %v", len(msgs), err)
	}
	if d := time.Since(msgs[0].CreatedAt); d < 0 || d > time.Minute {
		t.Errorf("createdAt is %v from the server's now, want the server's time of sending", -d)
	}
	if markers := rawKeys(t, s, store.ConversationPK(ten.ID, conv), "CMID#"); len(markers) != 0 {
		t.Errorf("dedupe markers %v: the widget's sentAt was refused", markers)
	}
}
