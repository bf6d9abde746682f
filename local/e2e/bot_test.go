package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBot_DialogflowLoopThroughTheRealBinaries: the owner connects a
// Dialogflow CX agent through Google's consent (admin-api's install link,
// the fake consent page, webhook-channels' callback, in one browser's
// cookie jar); a visitor asks and the bot answers in the widget (dispatch,
// the fake's detectIntent); the visitor asks for a human, the conversation
// goes to people with a note, and the agent's reply arrives.
func TestBot_DialogflowLoopThroughTheRealBinaries(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	q := url.Values{"edition": {"cx"}, "project": {"e2e-support-bot"}, "location": {"europe-west1"},
		"agent": {"0b3a6c57-6e4b-4a4f-9d55-3f1f0c1d2e3f"}, "channels": {"widget"}, "redirect": {"false"}}
	req, _ := http.NewRequest(http.MethodGet, s.APIURL+"/v1/integrations/dialogflow/install?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+ten.APIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct{ URL string }
	err = json.NewDecoder(res.Body).Decode(&link)
	res.Body.Close()
	cookie := strings.SplitN(res.Header.Get("Set-Cookie"), ";", 2)[0]
	if res.StatusCode != http.StatusOK || err != nil || !strings.HasPrefix(cookie, "__Secure-lsb-dialogflow-install=") {
		t.Fatalf("install link: %d %q %v", res.StatusCode, cookie, err)
	}
	// The browser: Google's consent redirects to the callback, which the
	// browser calls with the install cookie.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = noFollow.Get(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(back, s.APIURL+"/webhooks/dialogflow/oauth?") {
		t.Fatalf("consent: %d %q", res.StatusCode, back)
	}
	req, _ = http.NewRequest(http.MethodGet, back, nil)
	req.Header.Set("Cookie", cookie)
	res, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d", res.StatusCode)
	}
	var list struct {
		Items []struct {
			Channel  string
			Settings map[string]string
		} `json:"items"`
	}
	call(t, s, "GET", "/v1/integrations", ten.APIKey, nil, &list)
	if len(list.Items) != 1 || list.Items[0].Channel != "dialogflow" || list.Items[0].Settings["agent"] == "" {
		t.Fatalf("integrations %+v", list.Items)
	}
	v := newVisitor(t, s, ten.WidgetKey)
	asked := time.Now()
	conv, _ := v.sendMessage(t, "What are your opening hours?")["conversationId"].(string)
	v.next(t, "the bot's answer", func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		a, _ := m["author"].(map[string]any)
		return f["type"] == "message" && a["kind"] == "bot" && m["text"] == "Bot: What are your opening hours?"
	})
	t.Logf("the bot answered %v after the visitor's message was acknowledged", time.Since(asked).Round(time.Millisecond))
	v.sendMessage(t, "human")
	v.next(t, "the handoff note", func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		a, _ := m["author"].(map[string]any)
		return f["type"] == "message" && a["kind"] == "system"
	})
	if st := call(t, s, "POST", "/v1/conversations/"+conv+"/messages", ten.APIKey, map[string]any{"text": "Hi, Eve here. We open at 9."}, nil); st != http.StatusCreated {
		t.Fatalf("reply: %d", st)
	}
	v.next(t, "the agent's reply", func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		return f["type"] == "message" && m["text"] == "Hi, Eve here. We open at 9."
	})
	if n := s.Google.CallsFor(conv); n != 1 {
		t.Errorf("%d detectIntent calls, want 1 (not for \"human\")", n)
	}
}
