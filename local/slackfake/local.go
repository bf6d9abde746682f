package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// LocalSigningSecret signs the Events API requests of the local stack's
// workspace (Start); the stack gives it to the functions as the app's
// signing secret.
const LocalSigningSecret = "localslacksigningsecret0123456789"

// Start serves a workspace on addr for the local stack, where a person plays
// both the admin who installs the app and the Slack users who answer:
//
//   - GET /oauth/v2/authorize approves the install at once and sends the
//     browser back to its redirect_uri with the code and the state (Slack's
//     consent page, minus the consent); the code works for every install.
//   - POST /local/reply (form or JSON: text, and optionally thread_ts, user)
//     posts a thread reply as a Slack user to the events URL (SetEventsURL), signed with
//     SigningSecret as Slack signs it; without thread_ts it answers the
//     thread opened last. It answers with the stack's status and body.
//
// The Web API is the tests' (chat.postMessage and the rest). Close stops it.
func Start(addr string) (*Server, error) {
	s := newServer("local-install-code")
	s.reusableCode = true
	s.ClientSecret = "localslackclientsecret0123" // the template allows letters and digits only
	s.SigningSecret = LocalSigningSecret
	s.AddUser(User{ID: "UAGENT01", Name: "alex", RealName: "Alex Agent", DisplayName: "Alex", Email: "alex@example.test"})
	var err error
	if s.srv, err = fakeserver.Start("slackfake", addr, http.HandlerFunc(s.serve)); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AuthorizeURL is the consent page of Start's workspace (the app's
// SLACK_AUTHORIZE_URL).
func (s *Server) AuthorizeURL() string { return s.APIURL() + "oauth/v2/authorize" }

// local serves the local stack's two pages; it reports whether it did.
func (s *Server) local(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/oauth/v2/authorize":
		s.authorize(w, r)
	case "/local/reply":
		s.userReply(w, r)
	default:
		return false
	}
	return true
}

// authorize sends the browser back to the app's redirect_uri with the
// install code and the state, as Slack does once the admin allows the app.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || back.Scheme == "" || q.Get("client_id") != s.ClientID {
		http.Error(w, "unknown client_id or bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := back.Query()
	v.Set("code", s.Code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// userReply posts a Slack user's thread reply to the events URL as an Events API
// message event.
func (s *Server) userReply(w http.ResponseWriter, r *http.Request) {
	in := struct {
		Text     string `json:"text"`
		ThreadTS string `json:"thread_ts"`
		User     string `json:"user"`
	}{}
	if r.Header.Get("Content-Type") == "application/json" {
		json.NewDecoder(r.Body).Decode(&in)
	} else {
		r.ParseForm()
		in.Text, in.ThreadTS, in.User = r.Form.Get("text"), r.Form.Get("thread_ts"), r.Form.Get("user")
	}
	s.mu.Lock()
	if in.ThreadTS == "" {
		in.ThreadTS = s.lastThread()
	}
	if in.User == "" {
		in.User = "UAGENT01"
	}
	s.tsCounter++
	ts := fmt.Sprintf("%d.%06d", time.Now().Unix(), s.tsCounter)
	team, app, bot, channel, events, secret := s.TeamID, s.AppID, s.BotUserID, s.ChannelID, s.eventsURL, s.SigningSecret
	var profile map[string]any // Slack sends the author's profile with a user's message
	for _, u := range s.users {
		if u.ID == in.User {
			profile = u.MessageProfile()
		}
	}
	s.mu.Unlock()
	if in.Text == "" || in.ThreadTS == "" || events == "" {
		http.Error(w, "need text, and a thread (none opened yet) and the stack's events URL", http.StatusBadRequest)
		return
	}
	now := time.Now().Unix()
	body, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": team, "api_app_id": app, "type": "event_callback",
		"event_id": "Ev" + strconv.FormatInt(now, 10) + ts[len(ts)-6:], "event_time": now,
		"authorizations": []map[string]any{{"team_id": team, "user_id": bot, "is_bot": true}},
		"event": map[string]any{"type": "message", "user": in.User, "user_profile": profile, "text": in.Text, "ts": ts,
			"thread_ts": in.ThreadTS, "channel": channel, "channel_type": "channel", "event_ts": ts},
	})
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, events, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now, 10))
	req.Header.Set("X-Slack-Signature", Sign(secret, now, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	w.WriteHeader(res.StatusCode)
	io.Copy(io.Discard, res.Body)
	fmt.Fprintf(w, "posted to %s: %s\n", events, res.Status)
}

// lastThread is the ts of the newest message that opened a thread (posted
// without a thread_ts); the caller holds s.mu.
func (s *Server) lastThread() string {
	for i := len(s.messages) - 1; i >= 0; i-- {
		if m := s.messages[i]; m.ThreadTS == "" && !m.Deleted {
			return m.TS
		}
	}
	return ""
}
