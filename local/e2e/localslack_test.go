package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/stack"
)

// TestLocalSlack_InstallThreadAndReplyThroughTheFakeWorkspace is the loop a
// newcomer tries with `make run`: the owner installs Slack (the fake
// workspace approves at once), a visitor's message opens a thread in the
// fake's channel, a Slack user answers with the fake's /local/reply, and the
// visitor sees the answer, under the agent's Slack name.
func TestLocalSlack_InstallThreadAndReplyThroughTheFakeWorkspace(t *testing.T) {
	s := ownStack(t, "localslack", func(o *stack.Options) { o.FakeSlack = true })
	if s.Slack == nil {
		t.Fatal("the stack runs no fake Slack")
	}
	ten := newTenant(t, s)

	// 1. Install: the owner's link leads through the fake's authorize page to
	// the callback, with the browser's cookie, as in the console.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, s.APIURL+"/v1/integrations/slack/install?redirect=false", nil)
	req.Header.Set("Authorization", "Bearer "+ten.APIKey)
	res, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct{ URL string }
	json.NewDecoder(res.Body).Decode(&link)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(link.URL, s.Slack.APIURL()) {
		t.Fatalf("install link: %d %q, want the fake's authorize page", res.StatusCode, link.URL)
	}
	res, err = browser.Get(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode >= 400 {
		t.Fatalf("install through the fake: %d at %s", res.StatusCode, res.Request.URL)
	}
	var list struct {
		Items []struct{ Channel, Status string }
	}
	if st := call(t, s, "GET", "/v1/integrations", ten.APIKey, nil, &list); st != http.StatusOK || len(list.Items) != 1 || list.Items[0].Channel != "slack" {
		t.Fatalf("integrations after install: %d %+v", st, list)
	}

	// 2. A visitor's message opens a thread in the fake's channel.
	v := newVisitor(t, s, ten.WidgetKey)
	v.sendMessage(t, "Is the blue tent waterproof?")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(threadTexts(s), "Is the blue tent waterproof?") {
		if time.Now().After(deadline) {
			t.Fatalf("no thread opened in the fake workspace: %q", threadTexts(s))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// 3. A Slack user answers; the visitor sees it, under the agent's name.
	res, err = http.PostForm(s.Slack.APIURL()+"local/reply", url.Values{"text": {"Yes, 3000 mm."}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reply as a Slack user: %d", res.StatusCode)
	}
	f := v.next(t, "the Slack reply", func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		return f["type"] == "message" && m["text"] == "Yes, 3000 mm."
	})
	author, _ := f["message"].(map[string]any)["author"].(map[string]any)
	if author["kind"] != "agent" || author["name"] != "Alex" {
		t.Fatalf("reply's author %v, want the agent Alex", author)
	}
}

// threadTexts is the text of every message posted to the fake workspace.
func threadTexts(s *stack.Stack) string {
	var b strings.Builder
	for _, m := range s.Slack.Messages() {
		b.WriteString(m.Text + "\n")
	}
	return b.String()
}
