// Package xfake is X's API for direct messages over the Account Activity API,
// for tests and the local stack: an HTTP server speaking the wire format of
// the OAuth 2.0 token endpoint (the refresh_token grant, rotating: a used
// refresh token is void), the app's bearer token (client_credentials),
// users/me, the app's webhooks (list, register), the Account Activity
// subscriptions (subscribe, unsubscribe) and DM sends. Like X it issues
// numeric event ids as strings, answers v2 problems ({"title","detail",
// "type","status"}) and OAuth errors ({"error","error_description"}), and
// names the reset of a 429 in x-rate-limit-reset. It records every DM it
// sends, can refuse the next sends with an HTTP status, expire the access
// tokens it issued and revoke a grant. Unlike X it neither checks a new
// webhook with a CRC nor delivers events to it. It also builds webhook
// payloads (DM, OwnDM, MediaDM) and signs them (Sign) and CRC tokens (CRC).
//
// Point an xdm.Provider at it with BaseURL: fake.URL().
package xfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// FirstEventID is the dm_event_id of the fake's first send; the next ones
// count up.
const FirstEventID uint64 = 1853241553271119873

// FirstWebhookID is the id of the first webhook registered; the next ones
// count up.
const FirstWebhookID uint64 = 1146654567674912769

// TokenLife is the life of the access tokens the fake issues (X's: two
// hours), the expires_in of its refresh answers.
const TokenLife = 2 * time.Hour

// RateLimitWindow is how far ahead x-rate-limit-reset names the end of a
// refusal for rate FailNext injects (X's DM windows: 15 minutes).
const RateLimitWindow = 15 * time.Minute

// TextLimit is the most characters of a DM the fake takes (X's: 10,000).
const TextLimit = 10000

// Account is an X account with the app the tenant connects it through: the
// app's consumer key and secret and OAuth 2.0 client, the account's grant
// (its first refresh token) and the account itself.
type Account struct {
	ConsumerKey, ConsumerSecret string
	ClientID, ClientSecret      string
	RefreshToken                string
	UserID, Username, Name      string
}

// Send is one DM the fake sent.
type Send struct {
	ParticipantID  string // the recipient, of the URL
	Text           string
	Token          string // the access token used
	SenderID       string // the account of the token
	EventID        string // the dm_event_id answered
	ConversationID string // the dm_conversation_id answered
}

// Webhook is a webhook an app registered, with the accounts subscribed to
// it.
type Webhook struct {
	ID          string
	URL         string
	ConsumerKey string // the app's
	Subscribers []string
}

type user struct{ id, username, name string }

// grant is an account's OAuth 2.0 grant to a client.
type grant struct {
	userID, clientID string
	revoked          bool
}

type access struct {
	g       *grant
	expires time.Time
}

type hook struct {
	id, url, app string
	created      time.Time
	subs         map[string]bool
}

// Server is the fake X API. It is safe for concurrent use.
type Server struct {
	fakeserver.Host
	mux *http.ServeMux

	mu         sync.Mutex
	acceptAll  bool
	apps       map[string]string // consumer key: secret
	appTokens  map[string]string // bearer token: consumer key
	clients    map[string]string // client id: secret
	users      map[string]*user
	refresh    map[string]*grant // live refresh tokens
	used       map[string]bool   // refresh tokens used (void)
	access     map[string]*access
	hooks      []*hook
	nextHook   uint64
	hookLimit  int // webhooks per app (0: no limit)
	nextEvent  uint64
	sends      []Send
	faults     fakeserver.Faults[int]
	refreshes  int
	accountSeq int
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	return fakeserver.Serve(tb, newServer())
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4030"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("xfake", addr, newServer())
}

func newServer() *Server {
	s := &Server{apps: map[string]string{}, appTokens: map[string]string{}, clients: map[string]string{},
		users: map[string]*user{}, refresh: map[string]*grant{}, used: map[string]bool{}, access: map[string]*access{},
		nextHook: FirstWebhookID, nextEvent: FirstEventID, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /oauth2/token", s.appToken)
	s.mux.HandleFunc("POST /2/oauth2/token", s.refreshToken)
	s.mux.HandleFunc("GET /2/users/me", s.me)
	s.mux.HandleFunc("GET /2/webhooks", s.listWebhooks)
	s.mux.HandleFunc("POST /2/webhooks", s.createWebhook)
	s.mux.HandleFunc("DELETE /2/webhooks/{id}", s.deleteWebhook)
	s.mux.HandleFunc("POST /2/account_activity/webhooks/{id}/subscriptions/all", s.subscribe)
	s.mux.HandleFunc("DELETE /2/account_activity/webhooks/{id}/subscriptions/{user}/all", s.unsubscribe)
	s.mux.HandleFunc("POST /2/dm_conversations/with/{participant}/messages", s.send)
	return s
}

// URL is the API's base URL to give xdm.Provider: the server's URL.
func (s *Server) URL() string { return s.Host.URL() }

// AddAccount adds an account and its app. Blank fields are filled (the
// n-th account: consumer key "xfake-consumer-key-n", user id 1500000000000000000+n,
// username "xfake_user_n"...) and the account is returned whole. An app
// whose consumer key or client id is known already is updated.
func (s *Server) AddAccount(a Account) Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountSeq++
	n := strconv.Itoa(s.accountSeq)
	fill := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	fill(&a.ConsumerKey, "xfake-consumer-key-"+n)
	fill(&a.ConsumerSecret, "xfake-consumer-secret-"+n+"-"+random(8))
	fill(&a.ClientID, "xfake-client-id-"+n)
	fill(&a.ClientSecret, "xfake-client-secret-"+n+"-"+random(8))
	fill(&a.RefreshToken, "xfake-refresh-"+random(16))
	fill(&a.UserID, strconv.FormatUint(1500000000000000000+uint64(s.accountSeq), 10))
	fill(&a.Username, "xfake_user_"+n)
	fill(&a.Name, "X account "+n)
	s.apps[a.ConsumerKey] = a.ConsumerSecret
	s.clients[a.ClientID] = a.ClientSecret
	s.users[a.UserID] = &user{id: a.UserID, username: a.Username, name: a.Name}
	s.refresh[a.RefreshToken] = &grant{userID: a.UserID, clientID: a.ClientID}
	return a
}

// AcceptAnyAccount makes the fake take any non-empty consumer key and
// secret, client id and secret, and refresh token it has not seen (the
// local stack: tenants connect any credentials through the admin API). A
// refresh token used once stays void. The account of a client is stable: its
// user id is derived from the client id, its username "local_" and a hash.
// Access tokens are still only those the fake issued.
func (s *Server) AcceptAnyAccount() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAll = true
}

// Sends returns the DMs sent so far, in order.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sends)
}

// FailNext refuses the next n DM sends (made with a valid token) with the
// HTTP status: 403 as X refuses a recipient who does not take the account's
// DMs, 429 with x-rate-limit-reset RateLimitWindow ahead, 401, 5xx...
func (s *Server) FailNext(n, status int) {
	s.faults.Add(n, status)
}

// ExpireAccessTokens makes every access token issued so far answer 401;
// tokens of later refreshes are valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

// Revoke revokes the grant refreshToken belongs to (the owner revoked the
// app's access): its refresh token answers 400 invalid_request, its access
// tokens 401. It reports whether refreshToken was a live refresh token.
func (s *Server) Revoke(refreshToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[refreshToken]
	if ok {
		g.revoked = true
	}
	return ok
}

// RevokeUser revokes every grant of the account userID (the owner removed
// the app in X's settings), whichever refresh token it is at now.
func (s *Server) RevokeUser(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if g.userID == userID {
			g.revoked = true
		}
	}
}

// RefreshCount is how many refreshes the fake granted.
func (s *Server) RefreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Webhooks returns the webhooks registered, in order, with their
// subscribers (sorted).
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Webhook
	for _, h := range s.hooks {
		w := Webhook{ID: h.id, URL: h.url, ConsumerKey: h.app}
		for u := range h.subs {
			w.Subscribers = append(w.Subscribers, u)
		}
		slices.Sort(w.Subscribers)
		out = append(out, w)
	}
	return out
}

// Subscribed reports whether the account userID is subscribed to a webhook.
func (s *Server) Subscribed(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hooks {
		if h.subs[userID] {
			return true
		}
	}
	return false
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mux.ServeHTTP(w, r)
}

// The handlers run with s.mu held.

// appToken is POST /oauth2/token: the app's bearer token, one per app.
func (s *Server) appToken(w http.ResponseWriter, r *http.Request) {
	key, secret, ok := r.BasicAuth()
	known, exists := s.apps[key]
	switch {
	case !ok || key == "" || secret == "" || (!s.acceptAll && (!exists || known != secret)):
		reply(w, http.StatusForbidden, map[string]any{"errors": []any{map[string]any{"code": 99,
			"message": "Unable to verify your credentials", "label": "authenticity_token_error"}}})
		return
	case r.PostFormValue("grant_type") != "client_credentials":
		reply(w, http.StatusForbidden, map[string]any{"errors": []any{map[string]any{"code": 170,
			"message": "Missing required parameter: grant_type", "label": "forbidden_missing_parameter"}}})
		return
	}
	if !exists {
		s.apps[key] = secret
	}
	for tok, k := range s.appTokens {
		if k == key {
			reply(w, http.StatusOK, map[string]string{"token_type": "bearer", "access_token": tok})
			return
		}
	}
	tok := "AAAAAAAAAAAAAAAAAAAAA" + random(24)
	s.appTokens[tok] = key
	reply(w, http.StatusOK, map[string]string{"token_type": "bearer", "access_token": tok})
}

// refreshToken is POST /2/oauth2/token: the refresh_token grant, rotating.
func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	known, exists := s.clients[id]
	if !ok || id == "" || secret == "" || (!s.acceptAll && (!exists || known != secret)) {
		oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Missing valid authorization header")
		return
	}
	if r.PostFormValue("grant_type") != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter [grant_type].")
		return
	}
	rt := r.PostFormValue("refresh_token")
	g, live := s.refresh[rt]
	if !live && s.acceptAll && rt != "" && !s.used[rt] {
		g = &grant{userID: s.localUser(id).id, clientID: id}
		live = true
	}
	if !live || g.revoked || g.clientID != id {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Value passed for the token was invalid.")
		return
	}
	delete(s.refresh, rt)
	s.used[rt] = true
	s.refreshes++
	next, acc := "xfake-refresh-"+random(16), "xfake-access-"+random(16)
	s.refresh[next] = g
	s.access[acc] = &access{g: g, expires: time.Now().Add(TokenLife)}
	reply(w, http.StatusOK, map[string]any{"token_type": "bearer", "expires_in": int(TokenLife / time.Second),
		"access_token": acc, "scope": "dm.read dm.write tweet.read users.read offline.access", "refresh_token": next})
}

// localUser is the stable account of a client the fake accepts without
// knowing it.
func (s *Server) localUser(clientID string) *user {
	sum := sha256.Sum256([]byte(clientID))
	id := strconv.FormatUint(1600000000000000000+binary.BigEndian.Uint64(sum[:8])%100000000000000000, 10)
	u, ok := s.users[id]
	if !ok {
		u = &user{id: id, username: "local_" + hex.EncodeToString(sum[:3]), name: "Local X account"}
		s.users[id] = u
	}
	return u
}

// auth is the caller of r: the account of a valid user access token, or the
// app of an app bearer token (else both empty).
func (s *Server) auth(r *http.Request) (u *user, app string) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return nil, ""
	}
	if a, ok := s.access[tok]; ok && !a.g.revoked && time.Now().Before(a.expires) {
		return s.users[a.g.userID], ""
	}
	return nil, s.appTokens[tok]
}

// userAuth is the account of r's user token, or nil after answering 401 (no
// valid token) or 403 (an app token, as X answers endpoints of user
// context).
func (s *Server) userAuth(w http.ResponseWriter, r *http.Request) *user {
	u, app := s.auth(r)
	switch {
	case u != nil:
		return u
	case app != "":
		problem(w, http.StatusForbidden, "Unsupported Authentication",
			"Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
			"https://api.twitter.com/2/problems/unsupported-authentication")
	default:
		problem(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized", "about:blank")
	}
	return nil
}

// appAuth is the app of r's bearer token, or "" after answering 401.
func (s *Server) appAuth(w http.ResponseWriter, r *http.Request) string {
	if _, app := s.auth(r); app != "" {
		return app
	}
	problem(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized", "about:blank")
	return ""
}

// me is GET /2/users/me.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	if u := s.userAuth(w, r); u != nil {
		reply(w, http.StatusOK, map[string]any{"data": map[string]string{"id": u.id, "name": u.name, "username": u.username}})
	}
}

func (h *hook) json() map[string]any {
	return map[string]any{"id": h.id, "url": h.url, "valid": true, "created_at": h.created.Format("2006-01-02T15:04:05.000Z")}
}

// listWebhooks is GET /2/webhooks: the app's.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	app := s.appAuth(w, r)
	if app == "" {
		return
	}
	var data []any
	for _, h := range s.hooks {
		if h.app == app {
			data = append(data, h.json())
		}
	}
	ans := map[string]any{"meta": map[string]int{"result_count": len(data)}}
	if len(data) > 0 {
		ans["data"] = data
	}
	reply(w, http.StatusOK, ans)
}

// createWebhook is POST /2/webhooks {"url"}.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	app := s.appAuth(w, r)
	if app == "" {
		return
	}
	var body struct {
		URL string `json:"url"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	if u, err := url.Parse(body.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		invalid(w, "The `url` body parameter value is not a valid webhook URL")
		return
	}
	n := 0
	for _, h := range s.hooks {
		if h.app == app && h.url == body.URL {
			problem(w, http.StatusBadRequest, "Duplicate URL", "A webhook with this URL is registered already.", "about:blank")
			return
		}
		if h.app == app {
			n++
		}
	}
	if s.hookLimit > 0 && n >= s.hookLimit {
		problem(w, http.StatusForbidden, "Forbidden", "The app has reached its limit of webhooks.", "about:blank")
		return
	}
	h := &hook{id: strconv.FormatUint(s.nextHook, 10), url: body.URL, app: app, created: time.Now().UTC(), subs: map[string]bool{}}
	s.nextHook++
	s.hooks = append(s.hooks, h)
	reply(w, http.StatusOK, map[string]any{"data": h.json()})
}

// deleteWebhook is DELETE /2/webhooks/{id} (the app's bearer token).
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	app := s.appAuth(w, r)
	if app == "" {
		return
	}
	for i, h := range s.hooks {
		if h.id == r.PathValue("id") && h.app == app {
			s.hooks = append(s.hooks[:i], s.hooks[i+1:]...)
			reply(w, http.StatusOK, map[string]any{"data": map[string]bool{"deleted": true}})
			return
		}
	}
	problem(w, http.StatusNotFound, "Not Found Error", "Could not find the webhook.", "about:blank")
}

// SetWebhookLimit makes registering more than n webhooks per app answer 403
// (X's tiers allow a few; 0: no limit).
func (s *Server) SetWebhookLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookLimit = n
}

// hookOf is the webhook of r's path, or nil after answering 404.
func (s *Server) hookOf(w http.ResponseWriter, r *http.Request) *hook {
	for _, h := range s.hooks {
		if h.id == r.PathValue("id") {
			return h
		}
	}
	problem(w, http.StatusNotFound, "Not Found Error", "Could not find the webhook.", "https://api.twitter.com/2/problems/resource-not-found")
	return nil
}

// subscribe is POST /2/account_activity/webhooks/{id}/subscriptions/all with
// the account's token: idempotent.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	u := s.userAuth(w, r)
	if u == nil {
		return
	}
	if h := s.hookOf(w, r); h != nil {
		h.subs[u.id] = true
		reply(w, http.StatusOK, map[string]any{"data": map[string]bool{"subscribed": true}})
	}
}

// unsubscribe is DELETE /2/account_activity/webhooks/{id}/subscriptions/{user}/all
// with the app's token: 404 if the account is not subscribed.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	app := s.appAuth(w, r)
	if app == "" {
		return
	}
	h := s.hookOf(w, r)
	switch {
	case h == nil:
	case h.app != app || !h.subs[r.PathValue("user")]:
		problem(w, http.StatusNotFound, "Not Found Error", "Could not find the subscription.", "https://api.twitter.com/2/problems/resource-not-found")
	default:
		delete(h.subs, r.PathValue("user"))
		reply(w, http.StatusOK, map[string]any{"data": map[string]bool{"subscribed": false}})
	}
}

// send is POST /2/dm_conversations/with/{participant}/messages {"text"}.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	u := s.userAuth(w, r)
	if u == nil {
		return
	}
	if status, ok := s.faults.Next(); ok {
		fail(w, status)
		return
	}
	var body struct {
		Text string `json:"text"`
	}
	pid := r.PathValue("participant")
	switch err := json.NewDecoder(r.Body).Decode(&body); {
	case err != nil:
		invalid(w, "The request body is not valid JSON")
		return
	case pid == "" || strings.Trim(pid, "0123456789") != "" || len(pid) > 20:
		invalid(w, "The `participant_id` path parameter value is not valid")
		return
	case pid == u.id:
		problem(w, http.StatusBadRequest, "Invalid Request", "You cannot send a Direct Message to yourself.", "about:blank")
		return
	case body.Text == "" || utf8.RuneCountInString(body.Text) > TextLimit:
		invalid(w, "The `text` body parameter value must be 1 to 10000 characters")
		return
	}
	ids := []string{u.id, pid} // the lower id first, as X names a conversation
	if len(ids[0]) > len(ids[1]) || (len(ids[0]) == len(ids[1]) && ids[0] > ids[1]) {
		ids[0], ids[1] = ids[1], ids[0]
	}
	rec := Send{ParticipantID: pid, Text: body.Text, Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "),
		SenderID: u.id, EventID: strconv.FormatUint(s.nextEvent, 10), ConversationID: ids[0] + "-" + ids[1]}
	s.nextEvent++
	s.sends = append(s.sends, rec)
	reply(w, http.StatusCreated, map[string]any{"data": map[string]string{"dm_conversation_id": rec.ConversationID, "dm_event_id": rec.EventID}})
}

// fail answers an injected refusal as X does.
func fail(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusForbidden:
		problem(w, status, "Forbidden", "You are not allowed to create a Direct Message with this recipient.", "about:blank")
	case http.StatusTooManyRequests:
		w.Header().Set("x-rate-limit-limit", "15")
		w.Header().Set("x-rate-limit-remaining", "0")
		w.Header().Set("x-rate-limit-reset", strconv.FormatInt(time.Now().Add(RateLimitWindow).Unix(), 10))
		problem(w, status, "Too Many Requests", "Too Many Requests", "about:blank")
	case http.StatusUnauthorized:
		problem(w, status, "Unauthorized", "Unauthorized", "about:blank")
	default:
		problem(w, status, http.StatusText(status), http.StatusText(status), "about:blank")
	}
}

func problem(w http.ResponseWriter, status int, title, detail, typ string) {
	reply(w, status, map[string]any{"title": title, "detail": detail, "type": typ, "status": status})
}

func invalid(w http.ResponseWriter, message string) {
	reply(w, http.StatusBadRequest, map[string]any{"errors": []any{map[string]any{"message": message}},
		"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
		"type": "https://api.twitter.com/2/problems/invalid-request"})
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	reply(w, status, map[string]string{"error": code, "error_description": description})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// random is n random bytes in hex.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
