package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livesupportbot/backend/local/stack"
)

// live is how long a console or widget may take to show what another party
// did: an event through the stack's dispatch, not a poll.
const live = 10 * time.Second

// agentKey creates an API key of role agent with the owner's key; it returns
// the key's id (the agent's id in the console) and its secret.
func agentKey(t *testing.T, s *stack.Stack, ownerKey, name string) (id, key string) {
	t.Helper()
	var out struct{ ID, Key string }
	if st := call(t, s, "POST", "/v1/api-keys", ownerKey, map[string]string{"name": name, "role": "agent"}, &out); st != http.StatusCreated || out.Key == "" {
		t.Fatalf("create an agent key: %d %+v", st, out)
	}
	return out.ID, out.Key
}

// openConsole opens the agent console in a new tab of parent and connects it
// with key as agent name; it returns once the console's socket is open.
func openConsole(t *testing.T, parent context.Context, s *stack.Stack, key, name string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	tab, cancelT := context.WithTimeout(tab, 3*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Do(tab,
		chromedp.Navigate(s.HTTPURL+"/console.html"),
		chromedp.WaitVisible(css("#connect")),
		chromedp.SetValue(css("#api-base"), s.APIURL),
		chromedp.SetValue(css("#api-key"), key),
		chromedp.SetValue(css("#agent-name"), name),
		chromedp.Click(css("#connect")),
		waitJS(consoleOnline, 15*time.Second),
	); err != nil {
		t.Fatalf("%s connects the console: %v", name, err)
	}
	return tab
}

// openWidget opens the demo page in a new tab of parent (a new browser
// context, so a new visitor, when fresh) and opens the widget's panel.
func openWidget(t *testing.T, parent context.Context, s *stack.Stack, widgetKey string, fresh bool) context.Context {
	t.Helper()
	var opts []chromedp.ContextOption
	if fresh {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	tab, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	return openPanel(t, tab, s, widgetKey)
}

// openPanel loads the demo page in tab and opens the widget until it is connected.
func openPanel(t *testing.T, tab context.Context, s *stack.Stack, widgetKey string) context.Context {
	t.Helper()
	tab, cancel := context.WithTimeout(tab, 3*time.Minute)
	t.Cleanup(cancel)
	do(t, tab, "open the widget", openDemo(demoURL(s, widgetKey)))
	return tab
}

// rowPart is a JavaScript expression: the text of part (a CSS selector) in the
// console's row of conversation id; "" when the row has no such part, null
// when the row is not listed.
func rowPart(id, part string) string {
	return fmt.Sprintf(`(function () {
  var li = document.querySelector('#conversations li[data-id=' + JSON.stringify(%s) + ']');
  if (!li) { return null; }
  var e = li.querySelector(%s);
  return e ? e.textContent : '';
})()`, strconv.Quote(id), strconv.Quote(part))
}

// listed is a JavaScript condition: the console lists conversation id. It is
// parenthesized so that a leading ! negates the whole comparison.
func listed(id string) string { return `(` + rowPart(id, ".name") + ` !== null)` }

// topRow is a JavaScript condition: conversation id is the console's first row.
func topRow(id string) string {
	return fmt.Sprintf(`(document.querySelector('#conversations li[data-id]') || {getAttribute: function () { return null; }}).getAttribute('data-id') === %s`, strconv.Quote(id))
}

// shown is a JavaScript condition: the element of selector is displayed.
func shown(selector string) string {
	return fmt.Sprintf(`(function () { var e = document.querySelector(%s); return !!e && getComputedStyle(e).display !== 'none' && e.getBoundingClientRect().height > 0; })()`, strconv.Quote(selector))
}

// requests is a JavaScript expression: how many requests the page made to a
// URL containing part, from its resource timing entries.
func requests(part string) string {
	return fmt.Sprintf(`performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf(%s) >= 0; }).length`, strconv.Quote(part))
}

// inboxReads counts the console's reads of the conversation list
// (GET /v1/conversations?...).
var inboxReads = requests("/v1/conversations?")

// TestBrowser_ConsoleTwoAgentsLive: two agents (Ana with the tenant's owner
// key, Ben with an agent key) work in two console tabs while visitors write.
// Everything reaches both consoles over their sockets; neither reads the
// conversation list again after connecting (once, and once more a second
// later): rows appear with the visitor's
// name and the message, jump to the top on each new message, count unread
// visitor messages (cleared when opened), follow assignment (Mine, Unassigned
// filters; the assignment is audited) and closing, and typing shows both ways.
// A dropped console reconnects with a new token; a closed one shows offline
// to the other agent at once.
func TestBrowser_ConsoleTwoAgentsLive(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	benID, benKey := agentKey(t, s, ten.APIKey, "Ben's console")
	ctx := browser(t)

	ana := openConsole(t, ctx, s, ten.APIKey, "Ana")
	var ben context.Context
	benConn := newConnections(s, func() { ben = openConsole(t, ctx, s, benKey, "Ben") })
	if len(benConn) != 1 {
		t.Fatalf("new connections when Ben connected: %v", benConn)
	}
	demo := openWidget(t, ctx, s, ten.WidgetKey, false)
	defer func() {
		if t.Failed() {
			screenshot(ana, t, "e2e-console-ana-failed.png")
			screenshot(ben, t, "e2e-console-ben-failed.png")
			screenshot(demo, t, "e2e-console-widget-failed.png")
		}
	}()

	// Each console lists the other agent, online.
	do(t, ana, "Ana sees Ben online", waitJS(hasText(`#agents li[data-state=online] .agent-name`, "Ben"), live))
	do(t, ben, "Ben sees Ana online", waitJS(hasText(`#agents li[data-state=online] .agent-name`, "Ana"), live))

	// The visitor sees an agent is online, says who they are and writes.
	q1 := "Do you ship tents to Norway?"
	do(t, demo, "the visitor writes",
		waitJS(`document.getElementById('lsb-presence').getAttribute('data-online') === 'true'`, live),
		waitJS(`!`+shown("#lsb-offline")+` && `+shown("#lsb-input"), time.Second),
		chromedp.SendKeys(css("#lsb-name"), "Ada"),
		chromedp.SendKeys(css("#lsb-email"), "ada@example.com"),
		chromedp.Click(css("#lsb-identify-send")),
		waitJS(`getComputedStyle(document.getElementById('lsb-identify')).display === 'none'`, live),
		visitorSends(q1, live),
	)
	var conv1 string
	for _, c := range []context.Context{ana, ben} {
		do(t, c, "the first conversation in a console", waitJS(hasText(`#conversations li[data-id] .preview`, q1), live))
		id := evalJS[string](t, c, `document.querySelector('#conversations li[data-id]').getAttribute('data-id')`)
		if conv1 == "" {
			conv1 = id
		}
		if id != conv1 {
			t.Fatalf("the consoles list conversation %s and %s", conv1, id)
		}
		do(t, c, "the visitor's name in the row", waitJS(rowPart(conv1, ".name")+` === 'Ada'`, live))
		if ch := evalJS[string](t, c, rowPart(conv1, ".channel")); ch != "widget" {
			t.Errorf("channel %q, want widget", ch)
		}
	}
	// Each console read the list when it connected and once more a second
	// later (the contract's catch-up on events a new console may miss); from
	// now on these counts must stay.
	do(t, ana, "Ana's two inbox reads", waitJS(inboxReads+` === 2`, live))
	do(t, ben, "Ben's two inbox reads", waitJS(inboxReads+` === 2`, live))
	readsAna, readsBen := 2, 2

	// A second visitor (a socket client) writes: their conversation goes to the
	// top. Then each new message moves its conversation to the top at once.
	v2 := newVisitor(t, s, ten.WidgetKey)
	conv2, _ := v2.sendMessage(t, "Second visitor here")["conversationId"].(string)
	if conv2 == "" || conv2 == conv1 {
		t.Fatalf("second conversation %q (first %q)", conv2, conv1)
	}
	for _, c := range []context.Context{ana, ben} {
		do(t, c, "the second conversation on top", waitJS(topRow(conv2), live))
		if name := evalJS[string](t, c, rowPart(conv2, ".name")); name != "Visitor "+v2.ID[len(v2.ID)-6:] {
			t.Errorf("an anonymous visitor's row is named %q", name)
		}
	}
	q2 := "And to Iceland?"
	do(t, demo, "the visitor writes again", visitorSends(q2, live))
	for _, c := range []context.Context{ana, ben} {
		do(t, c, "the first conversation back on top with two unread",
			waitJS(topRow(conv1)+` && `+rowPart(conv1, ".preview")+` === `+strconv.Quote(q2), live),
			waitJS(rowPart(conv1, ".unread")+` === '2'`, live),
		)
	}
	v2.sendMessage(t, "Hello again")
	do(t, ana, "the second conversation on top again", waitJS(topRow(conv2), live))

	// Ana opens the first conversation: its messages show, the badge goes, and
	// the server counts it read.
	do(t, ana, "Ana opens the conversation",
		clickJS(`#conversations li[data-id="`+conv1+`"]`, live),
		waitJS(hasText(`.msg[data-author=visitor] .text`, q1), live),
		waitJS(hasText(`.msg[data-author=visitor] .text`, q2), live),
		waitJS(rowPart(conv1, ".unread")+` === ''`, live),
		waitJS(`document.getElementById('thread-title').textContent === 'Ada'`, time.Second),
	)
	if sub := evalJS[string](t, ana, `document.getElementById('thread-sub').textContent`); sub != "ada@example.com · widget" {
		t.Errorf("thread header %q, want the email and the channel", sub)
	}
	waitAPI(t, "conversation read", func() error {
		var c struct{ Unread int }
		if st := call(t, s, "GET", "/v1/conversations/"+conv1, ten.APIKey, nil, &c); st != http.StatusOK || c.Unread != 0 {
			return fmt.Errorf("GET the conversation: %d, unread %d", st, c.Unread)
		}
		return nil
	})

	// Ana assigns it to Ben with the select. Ben finds it under Mine; Ana does
	// not, and Unassigned leaves it out.
	do(t, ana, "Ana assigns the conversation to Ben",
		waitJS(fmt.Sprintf(`Array.from(document.querySelectorAll('#assignee option')).some(function (o) { return o.value === %s; })`, strconv.Quote(benID)), live),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(function () { var s = document.getElementById('assignee'); s.value = %s; s.dispatchEvent(new Event('change')); })()`, strconv.Quote(benID))),
		waitJS(rowPart(conv1, ".assignee")+` === 'Ben'`, live),
	)
	do(t, ben, "Ben's Mine",
		chromedp.Click(css("#filter-mine")),
		waitJS(listed(conv1)+` && !`+listed(conv2), live),
		waitJS(rowPart(conv1, ".assignee")+` === 'Ben'`, live),
	)
	do(t, ana, "Ana's Mine and Unassigned",
		chromedp.Click(css("#filter-mine")),
		waitJS(`!`+listed(conv1)+` && !`+listed(conv2), time.Second),
		chromedp.Click(css("#filter-unassigned")),
		waitJS(`!`+listed(conv1)+` && `+listed(conv2), time.Second),
		chromedp.Click(css("#filter-all")),
		waitJS(listed(conv1)+` && `+listed(conv2), time.Second),
	)
	if v := evalJS[string](t, ana, `document.getElementById('assignee').value`); v != benID {
		t.Errorf("the assignee select shows %q, want Ben %q", v, benID)
	}
	waitAPI(t, "the assignment's audit event", func() error {
		var page struct {
			Items []struct {
				Action  string
				Targets map[string]string
			}
		}
		if st := call(t, s, "GET", "/v1/audit-events?limit=100", ten.APIKey, nil, &page); st != http.StatusOK {
			return fmt.Errorf("GET /v1/audit-events: %d", st)
		}
		var seen []map[string]string
		for _, e := range page.Items {
			if e.Action != "conversation.assign" {
				continue
			}
			var conv, who bool
			for _, v := range e.Targets {
				conv = conv || v == conv1
				who = who || v == benID
			}
			if conv && who {
				return nil
			}
			seen = append(seen, e.Targets)
		}
		return fmt.Errorf("no conversation.assign event naming %s and %s (those with other targets: %v)", conv1, benID, seen)
	})

	// Typing, both ways: the visitor's shows in Ana's row and thread header,
	// Ana's in the widget, under her name.
	do(t, demo, "the visitor types", chromedp.SendKeys(css("#lsb-input"), "Actually"))
	do(t, ana, "Ana sees the visitor typing",
		waitJS(`document.getElementById('thread-typing').textContent === 'Ada is typing…'`, live),
		waitJS(rowPart(conv1, ".typing")+` === 'Ada is typing…'`, time.Second),
	)
	screenshot(ana, t, "e2e-console-typing.png")
	answer := "Yes, within 3 days."
	do(t, ana, "Ana types", chromedp.SendKeys(css("#reply-text"), answer))
	do(t, demo, "the widget shows Ana typing", waitJS(`document.getElementById('lsb-typing').textContent === 'Ana is typing…'`, live))
	do(t, ana, "Ana replies",
		chromedp.Click(css("#reply-send")),
		waitJS(hasText(`.msg[data-author=agent] .text`, answer), live),
		waitJS(rowPart(conv1, ".preview")+` === `+strconv.Quote("You: "+answer), live),
	)
	do(t, demo, "the reply in the widget",
		waitJS(hasText(`.lsb-msg[data-author=agent] .lsb-text`, answer), live),
		waitJS(`document.getElementById('lsb-typing').textContent === ''`, time.Second),
	)
	do(t, ben, "Ben sees Ana's reply",
		waitJS(rowPart(conv1, ".preview")+` === `+strconv.Quote("Ana: "+answer), live),
		waitJS(rowPart(conv1, ".unread")+` === ''`, time.Second),
	)
	screenshot(ana, t, "e2e-console-ana.png")
	screenshot(ben, t, "e2e-console-ben.png")

	// Ana closes it: it leaves Ben's inbox at once.
	do(t, ben, "Ben shows all", chromedp.Click(css("#filter-all")), waitJS(listed(conv1), time.Second))
	do(t, ana, "Ana closes the conversation",
		chromedp.Click(css("#close-conversation")),
		waitJS(`!`+listed(conv1), live),
	)
	do(t, ben, "the closed conversation leaves Ben's inbox", waitJS(`!`+listed(conv1)+` && `+listed(conv2), live))

	// All of it came over the sockets: neither console read the list again.
	if n := evalJS[int](t, ana, inboxReads); n != readsAna {
		t.Errorf("Ana's console read the conversation list %d more times after connecting (%d on connect)", n-readsAna, readsAna)
	}
	if n := evalJS[int](t, ben, inboxReads); n != readsBen {
		t.Errorf("Ben's console read the conversation list %d more times after connecting (%d on connect)", n-readsBen, readsBen)
	}

	// The server drops Ben's socket: his console reconnects with a new token,
	// reads the inbox again (twice, as on connect), and events flow again.
	tokens := requests("/v1/agent-tokens")
	if n := evalJS[int](t, ben, tokens); n != 1 {
		t.Fatalf("Ben's console asked for %d tokens before the drop", n)
	}
	if st := manage(t, s, "DELETE", benConn[0], ""); st != http.StatusNoContent {
		t.Fatalf("drop Ben's connection: %d", st)
	}
	do(t, ben, "Ben's console reconnects",
		waitJS(tokens+` === 2 && `+consoleOnline, live),
		waitJS(fmt.Sprintf(`%s === %d`, inboxReads, readsBen+2), live),
	)
	v2.sendMessage(t, "Still there?")
	do(t, ben, "an event after the reconnect", waitJS(rowPart(conv2, ".preview")+` === 'Still there?'`, live))

	// Ben leaves his console's page (which closes its socket, even if the page
	// is kept for the back button): Ana sees him offline at once ($disconnect
	// tells the other consoles).
	do(t, ben, "Ben leaves", chromedp.Navigate("about:blank"))
	do(t, ana, "Ana sees Ben offline", waitJS(hasText(`#agents li[data-state=offline] .agent-name`, "Ben"), live))
}

// waitAPI polls check (of the admin API) until it returns nil, for up to 10
// seconds.
func waitAPI(t *testing.T, what string, check func() error) {
	t.Helper()
	for deadline := time.Now().Add(live); ; time.Sleep(200 * time.Millisecond) {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// TestBrowser_WidgetOfflineForm: with no agent online, a new visitor gets the
// offline form. A bad email is refused in the form
// (nothing is sent); a good form identifies the visitor and stores the
// message, and the widget thanks them. Once an agent's console is online, a
// new visitor gets the composer; once the agent is away, the form again.
func TestBrowser_WidgetOfflineForm(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	ctx := recordingBrowser(t)
	demo := openPanel(t, ctx, s, ten.WidgetKey)
	defer func() {
		if t.Failed() {
			screenshot(demo, t, "e2e-widget-offline-failed.png")
		}
	}()
	away := `document.getElementById('lsb-presence').getAttribute('data-online') === 'false'`
	online := `document.getElementById('lsb-presence').getAttribute('data-online') === 'true'`
	// The form takes the optional identify form's place; the composer stays
	// (a visitor may just write, and pages send with LiveSupportBot.send).
	form := shown("#lsb-offline") + ` && !` + shown("#lsb-identify") + ` && ` + shown("#lsb-input")
	composer := `!` + shown("#lsb-offline") + ` && ` + shown("#lsb-input")
	do(t, demo, "the offline form", waitJS(away, live), waitJS(form, time.Second))
	screenshot(demo, t, "e2e-widget-offline-form.png")

	// A bad email: an inline error, and nothing goes out.
	text := "Please call me back about the tent order."
	do(t, demo, "a bad email",
		chromedp.SendKeys(css("#lsb-offline-name"), "Ada"),
		chromedp.SendKeys(css("#lsb-offline-email"), "ada-at-example"),
		chromedp.SendKeys(css("#lsb-offline-message"), text),
		chromedp.Click(css("#lsb-offline-send")),
		waitJS(`document.getElementById('lsb-offline-email-error').textContent !== ''`, time.Second),
	)
	if inv, err := attr(demo, "#lsb-offline-email", "aria-invalid"); err != nil || inv != "true" {
		t.Errorf("the email field's aria-invalid is %q (%v)", inv, err)
	}
	if e := evalJS[string](t, demo, `document.getElementById('lsb-offline-name-error').textContent + document.getElementById('lsb-offline-message-error').textContent`); e != "" {
		t.Errorf("errors on the good fields: %q", e)
	}
	sent := `window.lsbFrames.filter(function (f) { var a = JSON.parse(f).action; return a === 'identify' || a === 'sendMessage'; }).length`
	time.Sleep(500 * time.Millisecond)
	if n := evalJS[int](t, demo, sent); n != 0 {
		t.Fatalf("the widget sent %d identify or sendMessage frames for a bad form", n)
	}
	screenshot(demo, t, "e2e-widget-offline-invalid.png")

	// A good one: identified, then the message, then thanks and the chat view.
	do(t, demo, "a good form",
		chromedp.SetValue(css("#lsb-offline-email"), "ada@example.com"),
		chromedp.Click(css("#lsb-offline-send")),
		waitJS(`(document.getElementById('lsb-offline-thanks') || {}).textContent === "Thanks! We're away right now and will reply to ada@example.com."`, live),
		waitJS(visitorSent(text), live),
		waitJS(composer, time.Second),
	)
	screenshot(demo, t, "e2e-widget-offline-thanks.png")
	waitAPI(t, "the offline message in the inbox", func() error {
		var page struct {
			Items []struct {
				ContactName, ContactEmail string
				LastMessage               struct{ Text string }
			}
		}
		if st := call(t, s, "GET", "/v1/conversations?status=open", ten.APIKey, nil, &page); st != http.StatusOK || len(page.Items) != 1 {
			return fmt.Errorf("GET /v1/conversations: %d, %d conversations", st, len(page.Items))
		}
		if c := page.Items[0]; c.ContactName != "Ada" || c.ContactEmail != "ada@example.com" || c.LastMessage.Text != text {
			return fmt.Errorf("conversation %+v, want Ada, ada@example.com and the message", c)
		}
		return nil
	})

	// An agent comes online: a new visitor gets the composer.
	ana := openConsole(t, ctx, s, ten.APIKey, "Ana")
	do(t, ana, "Ana is online", waitJS(`document.getElementById('presence').getAttribute('data-agents-online') === 'true'`, live))
	fresh := openWidget(t, ctx, s, ten.WidgetKey, true)
	do(t, fresh, "a new visitor while Ana is online", waitJS(online, live), waitJS(composer, time.Second))
	if v1, v2 := evalJS[string](t, demo, `LiveSupportBot.visitorId()`), evalJS[string](t, fresh, `LiveSupportBot.visitorId()`); v1 == v2 {
		t.Fatalf("the new visitor is the first one (%s)", v1)
	}
	screenshot(fresh, t, "e2e-widget-online.png")

	// Ana goes away: the next visitor is told nobody is online.
	do(t, ana, "Ana sets Away",
		chromedp.Click(css("#presence-away")),
		waitJS(`document.getElementById('presence').getAttribute('data-agents-online') === 'false'`, live),
	)
	screenshot(ana, t, "e2e-console-away.png")
	later := openWidget(t, ctx, s, ten.WidgetKey, true)
	do(t, later, "a new visitor while Ana is away", waitJS(away, live), waitJS(form, time.Second))
}
