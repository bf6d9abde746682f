// Package googlefake is Google's OAuth 2.0 and Dialogflow detectIntent, for
// tests and the local stack: an HTTP server speaking the wire format of the
// consent page (GET /auth, which consents at once: no browser), the token
// endpoint (POST /token: the authorization_code and refresh_token grants,
// the client authenticated in the form or with HTTP Basic) and detectIntent
// of Dialogflow ES (v2) and CX (v3), with and without a location and an
// environment in the path.
//
// OAuth: like Google it issues access tokens "ya29.…" of an hour (3599 s;
// SetTokenLife changes it) and refresh tokens "1//…" that it never rotates;
// a refresh token is issued when the consent asked access_type=offline and
// either prompt=consent or it is the client's first consent (IssueCode's
// codes always give one). Codes are single-use. A revoked refresh token
// (Revoke) answers 400 invalid_grant "Token has been expired or revoked.".
// The code exchange also answers an id_token: an unsigned JWT with the
// account's email, picture and locale, as Google's has.
//
// detectIntent needs a bearer access token the fake issued, not expired
// (ExpireAccessTokens) nor of a revoked grant; else it answers 401
// UNAUTHENTICATED. Errors are Google's: {"error":{"code","message","status"}}.
// Every call is recorded (Calls, CallsFor), whatever it was answered. The
// agent's answer is scripted by the visitor's text (lower-cased; the first
// rule that matches):
//
//   - contains "handoff" or "human": the text HandoffText and a handoff (CX:
//     a liveAgentHandoff message; ES: a custom payload {"handoff": true});
//   - contains "fail": 500 INTERNAL;
//   - contains "slow": the answer below after SlowDelay (30 s), or nothing
//     once the request's context ends;
//   - contains "quota": 429 RESOURCE_EXHAUSTED (no Retry-After);
//   - contains "bye": the answer below, ending the conversation (CX:
//     an endInteraction message; ES: diagnosticInfo.end_conversation);
//   - anything else: the answer "Bot: <text>". ES: fulfillmentText and two
//     fulfillmentMessages, a text of no platform "Bot: <text>" and a text of
//     the TELEGRAM platform "Bot (telegram): <text>". CX: a text message
//     "Bot: <text>" of no channel and one "Bot (telegram): <text>" of the
//     channel "telegram".
//
// Respond overrides the script for a test.
//
// Point dialogflow.Client at it with BaseURL: fake.URL(), and the OAuth
// config with Endpoint().
package googlefake

import (
	"crypto/rand"
	"encoding/base64"
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

	"golang.org/x/oauth2"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// TokenLife is the default life of the access tokens the fake issues
// (Google's: expires_in 3599).
const TokenLife = 3599 * time.Second

// Scope is Dialogflow's OAuth 2.0 scope, the scope the fake grants.
const Scope = "https://www.googleapis.com/auth/dialogflow"

// HandoffText is the text of the scripted handoff answer.
const HandoffText = "Connecting you to a person."

// SlowDelay is how long a "slow" text waits for its answer.
const SlowDelay = 30 * time.Second

// MaxText is the most characters of a query's text (Dialogflow's: 256).
const MaxText = 256

// Call is one detectIntent call the fake received.
type Call struct {
	Edition     string // "es" (v2) or "cx" (v3)
	Project     string
	Location    string // "global" when the path names none
	Agent       string // CX
	Environment string // "" when the path names none
	Session     string
	Text        string
	Language    string // ES: queryInput.text.languageCode; CX: queryInput.languageCode
	Channel     string // CX: queryParams.channel
	Token       string // the bearer token sent ("" if none)
	Status      int    // the HTTP status answered; 0 while unanswered
}

// grant is an account's consent to a client.
type grant struct {
	clientID string
	revoked  bool
}

type access struct {
	g       *grant
	expires time.Time
}

// code is an authorization code not yet exchanged.
type code struct {
	clientID    string
	redirectURI string // "" to check none
	refresh     bool   // the exchange issues a refresh token
}

// Server is the fake Google. It is safe for concurrent use.
type Server struct {
	fakeserver.Host

	mu        sync.Mutex
	acceptAny bool
	clients   map[string]string // client id: secret
	consented map[string]bool   // clients with a consent
	codes     map[string]*code
	usedCodes map[string]bool
	refresh   map[string]*grant
	access    map[string]*access
	life      time.Duration
	refreshes int
	calls     []Call
	respond   func(Call) (int, any)
	accounts  int
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	return fakeserver.Serve(tb, newServer())
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4040"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("googlefake", addr, newServer())
}

func newServer() *Server {
	return &Server{clients: map[string]string{}, consented: map[string]bool{}, codes: map[string]*code{},
		usedCodes: map[string]bool{}, refresh: map[string]*grant{}, access: map[string]*access{}, life: TokenLife}
}

// URL is the server's URL: Dialogflow's base URL (dialogflow.Client's
// BaseURL).
func (s *Server) URL() string { return s.Host.URL() }

// AuthURL is the consent page's URL, URL()+"/auth".
func (s *Server) AuthURL() string { return s.Host.URL() + "/auth" }

// TokenURL is the token endpoint's URL, URL()+"/token".
func (s *Server) TokenURL() string { return s.Host.URL() + "/token" }

// Endpoint is the fake's OAuth 2.0 endpoint, the client authenticated in
// the form's parameters (as Google's).
func (s *Server) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: s.AuthURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInParams}
}

// AddClient adds (or updates) an OAuth 2.0 client.
func (s *Server) AddClient(clientID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = secret
}

// AcceptAnyClient makes the fake take any non-empty client id and secret,
// any authorization code it has not seen (as an offline consent: a refresh
// token is issued) and any refresh token it has not seen (the local stack:
// its refresh tokens outlive a restart of the fake). Codes stay
// single-use, revoked refresh tokens revoked, and access tokens are only
// those the fake issued.
func (s *Server) AcceptAnyClient() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAny = true
}

// IssueCode is a new authorization code of an offline consent to clientID,
// as the consent page would redirect with: its exchange gives a refresh
// token, whatever the redirect_uri.
func (s *Server) IssueCode(clientID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consented[clientID] = true
	return s.newCode(&code{clientID: clientID, refresh: true})
}

func (s *Server) newCode(c *code) string {
	k := "4/0A" + random(24)
	s.codes[k] = c
	return k
}

// SetTokenLife sets the life (expires_in) of the access tokens issued from
// now on.
func (s *Server) SetTokenLife(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life = d
}

// Revoke revokes the grant of refreshToken (the owner removed our access):
// the refresh token answers invalid_grant, its access tokens 401. It reports
// whether refreshToken was a live refresh token (in AcceptAnyClient mode an
// unknown one is revoked too).
func (s *Server) Revoke(refreshToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[refreshToken]
	if !ok {
		s.refresh[refreshToken] = &grant{revoked: true}
		return false
	}
	live := !g.revoked
	g.revoked = true
	return live
}

// RefreshCount is how many refresh_token grants the fake answered with an
// access token.
func (s *Server) RefreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// ExpireAccessTokens makes every access token issued so far answer 401;
// those of later refreshes are valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

// Calls returns the detectIntent calls so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsFor is how many detectIntent calls named session.
func (s *Server) CallsFor(session string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Session == session {
			n++
		}
	}
	return n
}

// Respond overrides the script for the authenticated, well-formed calls:
// f's status and body are answered (body JSON-encoded, or as is if it is a
// string or []byte); a status of 0 falls back to the script. f runs
// without the fake's lock and may be called concurrently. nil restores the
// script.
func (s *Server) Respond(f func(Call) (status int, body any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = f
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/auth" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.authorize(w, r)
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		s.token(w, r)
	case strings.HasSuffix(r.URL.Path, ":detectIntent") && r.Method == http.MethodPost:
		s.detectIntent(w, r)
	default:
		googleError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL was not found on this server.")
	}
}

// clientOK says if id and secret are a client's (s.mu held).
func (s *Server) clientOK(id, secret string) bool {
	known, ok := s.clients[id]
	if s.acceptAny {
		return id != "" && secret != "" && (!ok || known == secret)
	}
	return ok && id != "" && known == secret
}

// authorize is the consent page: it consents at once and redirects to
// redirect_uri with the code and the state.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		_ = r.ParseForm()
		q = r.Form
	}
	id, redirect := q.Get("client_id"), q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, known := s.clients[id]
	switch {
	case id == "" || (!known && !s.acceptAny):
		http.Error(w, "Error 401: invalid_client. The OAuth client was not found.", http.StatusUnauthorized)
		return
	case redirect == "" || err != nil || !ru.IsAbs():
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "Error 400: unsupported_response_type", http.StatusBadRequest)
		return
	case strings.TrimSpace(q.Get("scope")) == "":
		http.Error(w, "Error 400: invalid_request. Missing required parameter: scope", http.StatusBadRequest)
		return
	}
	prompts := strings.Fields(q.Get("prompt"))
	refresh := q.Get("access_type") == "offline" && (slices.Contains(prompts, "consent") || !s.consented[id])
	s.consented[id] = true
	k := s.newCode(&code{clientID: id, redirectURI: redirect, refresh: refresh})
	v := ru.Query()
	v.Set("code", k)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	v.Set("scope", q.Get("scope"))
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

// token is POST /token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.clientOK(id, secret) {
		if _, known := s.clients[id]; known || s.acceptAny {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		} else {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		}
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		s.exchange(w, r, id)
	case "refresh_token":
		s.refreshGrant(w, r, id)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
	}
}

// exchange is the authorization_code grant (s.mu held).
func (s *Server) exchange(w http.ResponseWriter, r *http.Request, clientID string) {
	k := r.PostForm.Get("code")
	c, ok := s.codes[k]
	if !ok && s.acceptAny && k != "" && !s.usedCodes[k] {
		c, ok = &code{clientID: clientID, refresh: true}, true
	}
	switch {
	case !ok || c.clientID != clientID:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Malformed auth code.")
		return
	case c.redirectURI != "" && r.PostForm.Get("redirect_uri") != c.redirectURI:
		oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
		return
	}
	delete(s.codes, k)
	s.usedCodes[k] = true
	g := &grant{clientID: clientID}
	s.accounts++
	ans := s.issue(g)
	if c.refresh {
		rt := "1//0g" + random(32)
		s.refresh[rt] = g
		ans["refresh_token"] = rt
	}
	ans["id_token"] = idToken(clientID, s.accounts)
	reply(w, http.StatusOK, ans)
}

// refreshGrant is the refresh_token grant (s.mu held): a new access token,
// the refresh token unchanged (not in the answer).
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, clientID string) {
	rt := r.PostForm.Get("refresh_token")
	g, ok := s.refresh[rt]
	if !ok && s.acceptAny && rt != "" {
		g, ok = &grant{clientID: clientID}, true
		s.refresh[rt] = g
	}
	switch {
	case !ok || g.revoked:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	case g.clientID != clientID:
		oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Unauthorized")
		return
	}
	s.refreshes++
	reply(w, http.StatusOK, s.issue(g))
}

// issue is a new access token's answer (s.mu held).
func (s *Server) issue(g *grant) map[string]any {
	tok := "ya29.a0" + random(32)
	s.access[tok] = &access{g: g, expires: time.Now().Add(s.life)}
	return map[string]any{"access_token": tok, "expires_in": int(s.life / time.Second), "scope": Scope, "token_type": "Bearer"}
}

// idToken is a fake OpenID Connect id_token (unsigned) of the n-th account.
func idToken(clientID string, n int) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	claims := map[string]any{"iss": "https://accounts.google.com", "azp": clientID, "aud": clientID,
		"sub": strconv.Itoa(100000000000000000 + n), "email": "account" + strconv.Itoa(n) + "@example.com", "email_verified": true,
		"picture": "https://lh3.googleusercontent.com/a/fake" + strconv.Itoa(n), "locale": "en", "iat": now, "exp": now + 3600}
	return enc(map[string]string{"alg": "RS256", "kid": "googlefake", "typ": "JWT"}) + "." + enc(claims) + "." +
		base64.RawURLEncoding.EncodeToString([]byte("googlefake-signature"))
}

// parsePath is the call of a detectIntent path (see Call), if it is one.
func parsePath(p string) (Call, bool) {
	rest, ok := strings.CutSuffix(p, ":detectIntent")
	if !ok {
		return Call{}, false
	}
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	lit := func(want string) bool {
		if len(segs) > 0 && segs[0] == want {
			segs = segs[1:]
			return true
		}
		return false
	}
	val := func(v *string) bool {
		if len(segs) > 0 && segs[0] != "" {
			*v, segs = segs[0], segs[1:]
			return true
		}
		return false
	}
	c := Call{Location: "global"}
	switch {
	case lit("v2"):
		c.Edition = "es"
		if !lit("projects") || !val(&c.Project) {
			return Call{}, false
		}
		if lit("locations") && !val(&c.Location) {
			return Call{}, false
		}
		if !lit("agent") {
			return Call{}, false
		}
		var user string
		if lit("environments") && (!val(&c.Environment) || !lit("users") || !val(&user)) {
			return Call{}, false
		}
	case lit("v3"):
		c.Edition = "cx"
		if !lit("projects") || !val(&c.Project) || !lit("locations") || !val(&c.Location) || !lit("agents") || !val(&c.Agent) {
			return Call{}, false
		}
		if lit("environments") && !val(&c.Environment) {
			return Call{}, false
		}
	default:
		return Call{}, false
	}
	if !lit("sessions") || !val(&c.Session) || len(segs) != 0 {
		return Call{}, false
	}
	return c, true
}

// detectIntent is POST …/sessions/{s}:detectIntent.
func (s *Server) detectIntent(w http.ResponseWriter, r *http.Request) {
	c, ok := parsePath(r.URL.Path)
	if !ok {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL was not found on this server.")
		return
	}
	var body struct {
		QueryInput struct {
			Text struct {
				Text         string `json:"text"`
				LanguageCode string `json:"languageCode"`
			} `json:"text"`
			LanguageCode string `json:"languageCode"`
		} `json:"queryInput"`
		QueryParams struct {
			Channel string `json:"channel"`
		} `json:"queryParams"`
	}
	bodyErr := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body)
	c.Text, c.Channel = body.QueryInput.Text.Text, body.QueryParams.Channel
	c.Language = body.QueryInput.LanguageCode
	if c.Edition == "es" {
		c.Language = body.QueryInput.Text.LanguageCode
	}
	c.Token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")

	s.mu.Lock()
	i := len(s.calls)
	s.calls = append(s.calls, c)
	a, valid := s.access[c.Token]
	valid = valid && c.Token != "" && !a.g.revoked && time.Now().Before(a.expires)
	respond := s.respond
	s.mu.Unlock()
	answer := func(status int, v any) {
		s.mu.Lock()
		s.calls[i].Status = status
		s.mu.Unlock()
		reply(w, status, v)
	}
	invalid := func(msg string) {
		answer(http.StatusBadRequest, errorBody(http.StatusBadRequest, "INVALID_ARGUMENT", msg))
	}

	switch {
	case !valid:
		answer(http.StatusUnauthorized, errorBody(http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."))
		return
	case bodyErr != nil:
		invalid("Invalid JSON payload received.")
		return
	case len(c.Session) > 36:
		invalid("Session Id should be at most 36 characters.")
		return
	case c.Edition == "cx" && len(c.Agent) != 36:
		invalid("Invalid agent id.")
		return
	case strings.TrimSpace(c.Text) == "":
		invalid("Input text not set.")
		return
	case utf8.RuneCountInString(c.Text) > MaxText:
		invalid("Input text exceeds 256 characters.")
		return
	case c.Language == "":
		invalid("Language code not set.")
		return
	}
	if respond != nil {
		if status, v := respond(c); status != 0 {
			answer(status, v)
			return
		}
	}
	lower := strings.ToLower(c.Text)
	switch {
	case strings.Contains(lower, "handoff") || strings.Contains(lower, "human"):
		answer(http.StatusOK, handoff(c))
	case strings.Contains(lower, "fail"):
		answer(http.StatusInternalServerError, errorBody(http.StatusInternalServerError, "INTERNAL", "Internal error encountered."))
	case strings.Contains(lower, "slow"):
		select {
		case <-time.After(SlowDelay):
			answer(http.StatusOK, echo(c, false))
		case <-r.Context().Done():
			s.mu.Lock()
			s.calls[i].Status = 499 // the client went away
			s.mu.Unlock()
		}
	case strings.Contains(lower, "quota"):
		answer(http.StatusTooManyRequests, errorBody(http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			"Quota exceeded for quota metric 'Session requests' and limit 'Session requests per minute' of service 'dialogflow.googleapis.com'."))
	default:
		answer(http.StatusOK, echo(c, strings.Contains(lower, "bye")))
	}
}

// echo is the answer "Bot: <text>" (see the package doc).
func echo(c Call, end bool) map[string]any {
	text, tg := "Bot: "+c.Text, "Bot (telegram): "+c.Text
	if c.Edition == "es" {
		qr := map[string]any{"queryText": c.Text, "languageCode": c.Language, "parameters": map[string]any{},
			"allRequiredParamsPresent": true, "fulfillmentText": text,
			"fulfillmentMessages": []any{textMsg(text, "platform", ""), textMsg(tg, "platform", "TELEGRAM")},
			"intent":              esIntent(c, "Echo"), "intentDetectionConfidence": 1}
		if end {
			qr["diagnosticInfo"] = map[string]any{"end_conversation": true}
		}
		return map[string]any{"responseId": responseID(), "queryResult": qr}
	}
	msgs := []any{textMsg(text, "channel", ""), textMsg(tg, "channel", "telegram")}
	if end {
		msgs = append(msgs, map[string]any{"endInteraction": map[string]any{}})
	}
	return cxAnswer(c, msgs)
}

// handoff is the scripted handoff answer.
func handoff(c Call) map[string]any {
	if c.Edition == "es" {
		return map[string]any{"responseId": responseID(), "queryResult": map[string]any{"queryText": c.Text,
			"languageCode": c.Language, "parameters": map[string]any{}, "allRequiredParamsPresent": true,
			"fulfillmentText": HandoffText, "fulfillmentMessages": []any{textMsg(HandoffText, "platform", ""),
				map[string]any{"payload": map[string]any{"handoff": true}}},
			"intent": esIntent(c, "Handoff"), "intentDetectionConfidence": 1}}
	}
	return cxAnswer(c, []any{textMsg(HandoffText, "channel", ""),
		map[string]any{"liveAgentHandoff": map[string]any{"metadata": map[string]any{"reason": "visitor asked"}}}})
}

func textMsg(text, key, value string) map[string]any {
	m := map[string]any{"text": map[string]any{"text": []string{text}}}
	if value != "" {
		m[key] = value
	}
	return m
}

func esIntent(c Call, name string) map[string]any {
	return map[string]any{"name": "projects/" + c.Project + "/agent/intents/" + uuid(), "displayName": name}
}

func cxAnswer(c Call, msgs []any) map[string]any {
	agent := "projects/" + c.Project + "/locations/" + c.Location + "/agents/" + c.Agent
	return map[string]any{"responseId": responseID(), "queryResult": map[string]any{"text": c.Text,
		"languageCode": c.Language, "responseMessages": msgs,
		"currentPage":               map[string]any{"name": agent + "/flows/00000000-0000-0000-0000-000000000000/pages/START_PAGE", "displayName": "Start Page"},
		"intentDetectionConfidence": 1, "match": map[string]any{"matchType": "INTENT", "confidence": 1}}}
}

func responseID() string { return uuid() + "-" + random(4) }

func uuid() string {
	h := random(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func errorBody(code int, status, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message, "status": status}}
}

func googleError(w http.ResponseWriter, code int, status, message string) {
	reply(w, code, errorBody(code, status, message))
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	reply(w, status, map[string]string{"error": code, "error_description": description})
}

// reply answers v as JSON, or as is if it is a string or []byte.
func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	switch b := v.(type) {
	case []byte:
		_, _ = w.Write(b)
	case string:
		_, _ = w.Write([]byte(b))
	default:
		_ = json.NewEncoder(w).Encode(v)
	}
}

// random is n random bytes in hex.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
