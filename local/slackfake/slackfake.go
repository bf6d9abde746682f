// Package slackfake is a Slack Web API for tests: an httptest server that speaks
// the documented wire format (form-encoded requests, {"ok":...} JSON answers,
// 429 with Retry-After) for oauth.v2.access, chat.postMessage (with message
// metadata), chat.delete, conversations.replies, users.list and auth.test, and
// records every call. It can also lose the answer to a call it carried out. Point slack-go at it with
// slack.OptionAPIURL(fake.APIURL()) and slack.OAuthOptionAPIURL(fake.APIURL()).
package slackfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// User is a workspace member as users.list returns it.
type User struct {
	ID          string
	Name        string
	RealName    string
	DisplayName string
	Email       string
	Image192    string
	IsBot       bool
	Deleted     bool
}

// MessageProfile is the user_profile object Slack attaches to the member's
// messages in Events API message events: names, avatar and flags, never the
// email.
func (u User) MessageProfile() map[string]any {
	return map[string]any{"avatar_hash": "g" + strings.ToLower(u.ID), "image_72": u.Image192, "first_name": u.Name,
		"real_name": u.RealName, "display_name": u.DisplayName, "team": "", "name": u.Name,
		"is_restricted": false, "is_ultra_restricted": false}
}

// Call is one recorded API call.
type Call struct {
	Method string
	Token  string
	Form   url.Values
}

// Message is a message posted through chat.postMessage.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Metadata map[string]any // as sent: {"event_type", "event_payload"}
	Deleted  bool
}

// Server is the fake Slack workspace and API.
type Server struct {
	srv *httptest.Server

	// The app and the workspace it is installed in.
	ClientID, ClientSecret, RedirectURI string
	Code                                string // the one valid OAuth code
	BotToken, BotUserID, BotID, AppID   string
	TeamID, TeamName                    string
	ChannelID, ChannelName              string
	AuthedUserID                        string

	mu        sync.Mutex
	users     []User
	calls     []Call
	messages  []*Message
	codeUsed  bool
	revoked   bool
	down      bool
	limited   map[string][]int // method -> Retry-After seconds of the 429s still to answer
	lose      map[string]int   // method -> answers still to lose after doing the work
	tsCounter int

	// Set by Start (the local stack's workspace): see local.go.
	reusableCode  bool
	eventsURL     string // SetEventsURL
	SigningSecret string
}

// SetEventsURL names where the local workspace posts its users' replies (the
// stack's Slack events webhook, known once its gateway listens).
func (s *Server) SetEventsURL(u string) {
	s.mu.Lock()
	s.eventsURL = u
	s.mu.Unlock()
}

// New starts a fake with one workspace, one channel and a bot; it stops when the
// test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := newServer("code-" + strconv.Itoa(len(tb.Name())))
	s.srv = fakeserver.New(tb, http.HandlerFunc(s.serve))
	return s
}

// newServer is the workspace of New and Start, not yet serving.
func newServer(code string) *Server {
	return &Server{
		ClientID: "1111.2222", ClientSecret: "fake-client-secret", Code: code,
		BotToken: "xoxb-1111-2222-fakebottoken", BotUserID: "UBOT0001", BotID: "BBOT0001", AppID: "AAPP0001",
		TeamID: "T0001", TeamName: "Acme Support", ChannelID: "C0SUPPORT", ChannelName: "#support",
		AuthedUserID: "UADMIN01", limited: map[string][]int{}, lose: map[string]int{},
	}
}

// APIURL is the base URL to give slack-go, ending in "/".
func (s *Server) APIURL() string { return s.srv.URL + "/" }

// AddUser adds a workspace member.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, u)
}

// RateLimit makes the next call of method answer 429 with Retry-After seconds.
func (s *Server) RateLimit(method string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited[method] = append(s.limited[method], retryAfter)
}

// LoseResponse makes the next call of method take effect and then fail with a
// 502, as when Slack did the work but its answer never arrived.
func (s *Server) LoseResponse(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose[method]++
}

// SetDown starts (true) or ends an outage: meanwhile every call is recorded
// and answered 503.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RevokeToken makes the bot token invalid from now on.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// Calls returns the recorded calls of a method ("" for all).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns copies of the posted messages, deleted ones included.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = *m
	}
	return out
}

// Live returns the posted messages that are not deleted.
func (s *Server) Live() []Message {
	var out []Message
	for _, m := range s.Messages() {
		if !m.Deleted {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	if s.local(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	token := r.Form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && bearer != "" {
		token = bearer
	}
	form := url.Values{}
	for k, v := range r.Form {
		if k != "token" && k != "client_secret" {
			form[k] = v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Method: method, Token: token, Form: form})
	if s.down {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if q := s.limited[method]; len(q) > 0 {
		s.limited[method] = q[1:]
		w.Header().Set("Retry-After", strconv.Itoa(q[0]))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
		return
	}
	if method == "oauth.v2.access" {
		s.oauth(w, r)
		return
	}
	if token != s.BotToken || s.revoked {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if s.lose[method] > 0 {
		s.lose[method]--
		s.dispatch(method, httptest.NewRecorder(), r)
		http.Error(w, "upstream connect error", http.StatusBadGateway)
		return
	}
	s.dispatch(method, w, r)
}

func (s *Server) dispatch(method string, w http.ResponseWriter, r *http.Request) {
	switch method {
	case "auth.test":
		reply(w, map[string]any{"ok": true, "url": "https://acme.slack.com/", "team": s.TeamName, "user": "livesupportbot",
			"team_id": s.TeamID, "user_id": s.BotUserID, "bot_id": s.BotID})
	case "users.list":
		s.usersList(w, r)
	case "chat.postMessage":
		s.postMessage(w, r)
	case "chat.delete":
		s.deleteMessage(w, r)
	case "conversations.replies":
		s.replies(w, r)
	default:
		reply(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func (s *Server) oauth(w http.ResponseWriter, r *http.Request) {
	id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	switch {
	case id != s.ClientID || secret != s.ClientSecret:
		reply(w, map[string]any{"ok": false, "error": "invalid_client_id"})
	case r.Form.Get("code") != s.Code || (s.codeUsed && !s.reusableCode):
		reply(w, map[string]any{"ok": false, "error": "invalid_code"})
	case s.RedirectURI != "" && r.Form.Get("redirect_uri") != s.RedirectURI:
		reply(w, map[string]any{"ok": false, "error": "bad_redirect_uri"})
	default:
		s.codeUsed = true
		reply(w, map[string]any{
			"ok": true, "access_token": s.BotToken, "token_type": "bot", "scope": r.Form.Get("scope"),
			"bot_user_id": s.BotUserID, "app_id": s.AppID,
			"team":                  map[string]string{"id": s.TeamID, "name": s.TeamName},
			"enterprise":            nil,
			"is_enterprise_install": false,
			"authed_user":           map[string]string{"id": s.AuthedUserID},
			"incoming_webhook": map[string]string{"channel": s.ChannelName, "channel_id": s.ChannelID,
				"configuration_url": "https://acme.slack.com/services/B1", "url": "https://hooks.slack.com/services/T/B/x"},
		})
	}
}

// ResetCode makes the OAuth code valid again (a new install).
func (s *Server) ResetCode(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Code, s.codeUsed = code, false
}

func (s *Server) usersList(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	start, _ := strconv.Atoi(r.Form.Get("cursor"))
	members := []map[string]any{
		{"id": s.BotUserID, "team_id": s.TeamID, "name": "livesupportbot", "is_bot": true, "profile": map[string]any{}},
		{"id": "USLACKBOT", "team_id": s.TeamID, "name": "slackbot", "profile": map[string]any{}},
	}
	for _, u := range s.users {
		members = append(members, map[string]any{"id": u.ID, "team_id": s.TeamID, "name": u.Name, "real_name": u.RealName,
			"deleted": u.Deleted, "is_bot": u.IsBot,
			"profile": map[string]any{"real_name": u.RealName, "display_name": u.DisplayName, "email": u.Email, "image_192": u.Image192}})
	}
	end := min(len(members), start+limit)
	if start > end {
		start = end
	}
	next := ""
	if end < len(members) {
		next = strconv.Itoa(end)
	}
	reply(w, map[string]any{"ok": true, "members": members[start:end], "response_metadata": map[string]string{"next_cursor": next}})
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	ch, text, thread := r.Form.Get("channel"), r.Form.Get("text"), r.Form.Get("thread_ts")
	if ch != s.ChannelID {
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if text == "" {
		reply(w, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	var meta map[string]any
	if m := r.Form.Get("metadata"); m != "" {
		if err := json.Unmarshal([]byte(m), &meta); err != nil {
			reply(w, map[string]any{"ok": false, "error": "invalid_metadata_format"})
			return
		}
	}
	s.tsCounter++
	ts := fmt.Sprintf("1700000000.%06d", s.tsCounter)
	s.messages = append(s.messages, &Message{Channel: ch, TS: ts, ThreadTS: thread, Text: text, Metadata: meta})
	msg := map[string]any{"type": "message", "text": text, "ts": ts, "user": s.BotUserID, "bot_id": s.BotID}
	if thread != "" {
		msg["thread_ts"] = thread
	}
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "message": msg})
}

// replies answers conversations.replies: the parent and its replies, oldest
// first, with their metadata only when include_all_metadata is set.
func (s *Server) replies(w http.ResponseWriter, r *http.Request) {
	ch, ts := r.Form.Get("channel"), r.Form.Get("ts")
	withMeta := r.Form.Get("include_all_metadata") == "1" || r.Form.Get("include_all_metadata") == "true"
	var out []map[string]any
	for _, m := range s.messages {
		if m.Channel != ch || m.Deleted || (m.TS != ts && m.ThreadTS != ts) {
			continue
		}
		msg := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "user": s.BotUserID, "bot_id": s.BotID}
		if m.ThreadTS != "" {
			msg["thread_ts"] = m.ThreadTS
		} else {
			msg["thread_ts"] = m.TS
		}
		if withMeta && m.Metadata != nil {
			msg["metadata"] = m.Metadata
		}
		out = append(out, msg)
	}
	if len(out) == 0 {
		reply(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	reply(w, map[string]any{"ok": true, "messages": out, "has_more": false, "response_metadata": map[string]string{"next_cursor": ""}})
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	ch, ts := r.Form.Get("channel"), r.Form.Get("ts")
	for _, m := range s.messages {
		if m.Channel == ch && m.TS == ts && !m.Deleted {
			m.Deleted = true
			reply(w, map[string]any{"ok": true, "channel": ch, "ts": ts})
			return
		}
	}
	reply(w, map[string]any{"ok": false, "error": "message_not_found"})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// Sign returns the X-Slack-Signature of a body sent at unix time ts with Slack's
// v0 scheme: "v0=" + hex(HMAC-SHA256(secret, "v0:<ts>:<body>")).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%d:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}
