// Package wechatfake is WeChat's Official Account API for tests and the
// local stack: an HTTP server speaking the wire format of
// cgi-bin/stable_token, cgi-bin/get_api_domain_ip,
// cgi-bin/message/custom/send and cgi-bin/media/get (the access token in the
// access_token query parameter, JSON in and out, refusals as an errcode in
// an HTTP 200 answer). Like WeChat it issues access tokens that a forced
// stable_token invalidates at once, and refuses customer-service messages
// outside the 48 hours after a contact's message, or over 5 of them, when it
// was told of the contact's messages (UserMessage). It records every send it
// carries out, can refuse the next calls with an errcode or an HTTP error,
// expire the tokens, or refuse every call for the caller's IP (40164).
// Unlike WeChat it does not call the server URL. It also builds webhook
// payloads (TextMessage, ImageMessage, Event), signs them (Sign, Signed) and
// encrypts them for safe mode (Encrypt).
//
// Point a wechat.Provider at it with BaseURL: fake.URL().
package wechatfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// TokenLife is the life of the access tokens the fake issues, in seconds, as
// WeChat's.
const TokenLife = 7200

// WeChat's errcodes the fake answers.
const (
	CodeOK               = 0
	CodeSystemBusy       = -1
	CodeInvalidToken     = 40001
	CodeInvalidOpenID    = 40003
	CodeInvalidMediaID   = 40007
	CodeInvalidMsgType   = 40008
	CodeInvalidAppID     = 40013
	CodeInvalidSecret    = 40125
	CodeIPNotWhitelisted = 40164
	CodeTokenMissing     = 41001
	CodeTokenExpired     = 42001
	CodeEmptyData        = 44002
	CodeTooLong          = 45002
	CodeReplyTimeLimit   = 45015
	CodeReplyCountLimit  = 45047
)

var codeMessages = map[int]string{
	CodeOK: "ok", CodeSystemBusy: "system error", CodeInvalidToken: "invalid credential, access_token is invalid or not latest",
	CodeInvalidOpenID: "invalid openid", CodeInvalidMediaID: "invalid media_id", CodeInvalidMsgType: "invalid message type",
	CodeInvalidAppID: "invalid appid", CodeInvalidSecret: "invalid appsecret",
	CodeIPNotWhitelisted: "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist",
	CodeTokenMissing:     "access_token missing", CodeTokenExpired: "access_token expired", CodeEmptyData: "empty post data",
	CodeTooLong: "content size out of limit", 43004: "require subscribe", 43019: "require remove blacklist",
	45009: "reach max api daily quota limit", 45011: "api minute-quota reach limit, mustslower! retry next minute",
	CodeReplyTimeLimit: "response out of time limit or subscription is canceled", CodeReplyCountLimit: "out of response count limit",
}

// Send is one customer-service message the fake carried out.
type Send struct {
	AppID  string // the account the token is of
	Token  string // the access token used
	ToUser string // touser: the contact's openid
	Text   string // text.content
}

type account struct {
	appID, secret string
	token         string    // the token in use, "" if none
	issued        time.Time // when token was issued
	n             int       // tokens issued so far
}

type media struct {
	mime string
	data []byte
}

// user is what the fake knows of a contact's window: their last message and
// the sends since.
type user struct {
	last  time.Time
	sends int
}

// fault is an injected refusal: an errcode, or an HTTP status when http is
// set.
type fault struct{ code, http int }

// Server is the fake WeChat API. It is safe for concurrent use.
type Server struct {
	fakeserver.Host

	mu           sync.Mutex
	accounts     map[string]*account // by app id
	tokens       map[string]*account // every token issued, by token
	acceptAll    bool
	refuseIP     bool
	sends        []Send
	media        map[string]media
	users        map[string]*user
	faults       fakeserver.Faults[fault]
	tokenFetches int
	now          func() time.Time
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	return fakeserver.Serve(tb, newServer())
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4030"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("wechatfake", addr, newServer())
}

func newServer() *Server {
	return &Server{accounts: map[string]*account{}, tokens: map[string]*account{}, media: map[string]media{},
		users: map[string]*user{}, now: time.Now}
}

// URL is the API's base URL to give wechat.Provider (the paths start with
// "/cgi-bin/").
func (s *Server) URL() string { return s.Host.URL() }

// SetClock makes now the fake's clock (token lives and the 48-hour window).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddAccount makes appID an account with the app secret secret. A token
// request of an unknown app id is refused with 40013, of a wrong secret with
// 40125.
func (s *Server) AddAccount(appID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[appID] = &account{appID: appID, secret: secret}
}

// AcceptAnyAccount makes the fake take any non-empty app id and secret as an
// account's (the local stack: tenants connect any credentials through the
// admin API); the first secret given for an app id is its secret.
func (s *Server) AcceptAnyAccount() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAll = true
}

// RefuseIP makes every call answer 40164 (the caller's IP is not on the
// account's whitelist) while on.
func (s *Server) RefuseIP(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseIP = on
}

// ExpireTokens makes every token issued so far expired: calls with them
// answer 42001, and the next stable_token issues a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.token != "" {
			a.issued = time.Time{}
		}
	}
}

// AddMedia serves data of type mime as the media mediaID through media/get.
// A video (mime video/...) is answered as WeChat does: the JSON of its
// download URL, served by the fake too.
func (s *Server) AddMedia(mediaID, mime string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[mediaID] = media{mime, data}
}

// UserMessage tells the fake that openid sent a message at at: sends to them
// are then refused after 48 hours (45015) or after 5 sends (45047) since
// their last message. Sends to a contact the fake was never told of are not
// checked.
func (s *Server) UserMessage(openid string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[openid] = &user{last: at}
}

// FailNext refuses the next n API calls (any path) with errcode (45047,
// 42001, -1...), in an HTTP 200 answer as WeChat does.
func (s *Server) FailNext(n, errcode int) {
	s.faults.Add(n, fault{code: errcode})
}

// FailHTTP refuses the next n API calls with the HTTP status code (500,
// 502...) and no WeChat answer.
func (s *Server) FailHTTP(n, status int) {
	s.faults.Add(n, fault{http: status})
}

// Sends returns the sends carried out so far, in order.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Send(nil), s.sends...)
}

// TokenFetches is how many stable_token calls issued or returned a token.
func (s *Server) TokenFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenFetches
}

// ServeHTTP serves the API and the video downloads.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/video/"); ok && r.Method == http.MethodGet {
		s.serveVideo(w, r, id)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/cgi-bin/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseIP {
		answer(w, CodeIPNotWhitelisted)
		return
	}
	if f, ok := s.faults.Next(); ok {
		if f.http != 0 {
			w.WriteHeader(f.http)
			return
		}
		answer(w, f.code)
		return
	}
	switch {
	case path == "stable_token" && r.Method == http.MethodPost:
		s.stableToken(w, r)
		return
	case path == "get_api_domain_ip" && r.Method == http.MethodGet,
		path == "message/custom/send" && r.Method == http.MethodPost,
		path == "media/get" && r.Method == http.MethodGet:
	default:
		http.NotFound(w, r)
		return
	}
	a, code := s.account(r.URL.Query().Get("access_token"))
	if code != CodeOK {
		answer(w, code)
		return
	}
	switch path {
	case "get_api_domain_ip":
		reply(w, map[string]any{"ip_list": []string{"101.226.103.0/25", "101.226.233.128/25", "58.247.206.128/25"}})
	case "message/custom/send":
		s.send(w, r, a)
	case "media/get":
		s.serveMedia(w, r)
	}
}

// account is the account of token, or the errcode refusing it. s.mu is
// held.
func (s *Server) account(token string) (*account, int) {
	if token == "" {
		return nil, CodeTokenMissing
	}
	a, ok := s.tokens[token]
	switch {
	case !ok || a.token != token:
		return nil, CodeInvalidToken
	case s.expired(a):
		return nil, CodeTokenExpired
	}
	return a, CodeOK
}

// expired tells that a's token in use is past its life. s.mu is held.
func (s *Server) expired(a *account) bool {
	return a.token == "" || !s.now().Before(a.issued.Add(TokenLife*time.Second))
}

func (s *Server) stableToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		answer(w, CodeEmptyData)
		return
	}
	if body.GrantType != "client_credential" {
		answer(w, 40002)
		return
	}
	a, ok := s.accounts[body.AppID]
	if !ok && s.acceptAll && body.AppID != "" && body.Secret != "" {
		a = &account{appID: body.AppID, secret: body.Secret}
		s.accounts[body.AppID], ok = a, true
	}
	switch {
	case !ok:
		answer(w, CodeInvalidAppID)
		return
	case body.Secret != a.secret:
		answer(w, CodeInvalidSecret)
		return
	}
	if body.ForceRefresh || s.expired(a) {
		a.n++
		sum := sha256.Sum256([]byte(a.appID + "\x00" + a.secret + "\x00" + strconv.Itoa(a.n)))
		a.token, a.issued = "ACCESS_"+hex.EncodeToString(sum[:16]), s.now()
		s.tokens[a.token] = a
	}
	s.tokenFetches++
	left := TokenLife - int(s.now().Sub(a.issued)/time.Second)
	reply(w, map[string]any{"access_token": a.token, "expires_in": max(left, 1)})
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, a *account) {
	var body struct {
		ToUser  string `json:"touser"`
		MsgType string `json:"msgtype"`
		Text    struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		answer(w, CodeEmptyData)
		return
	}
	switch {
	case body.ToUser == "":
		answer(w, CodeInvalidOpenID)
		return
	case body.MsgType != "text":
		answer(w, CodeInvalidMsgType)
		return
	case body.Text.Content == "":
		answer(w, CodeEmptyData)
		return
	case len(body.Text.Content) > 2048:
		answer(w, CodeTooLong)
		return
	}
	if u, ok := s.users[body.ToUser]; ok {
		switch {
		case s.now().Sub(u.last) > 48*time.Hour:
			answer(w, CodeReplyTimeLimit)
			return
		case u.sends >= 5:
			answer(w, CodeReplyCountLimit)
			return
		}
		u.sends++
	}
	s.sends = append(s.sends, Send{AppID: a.appID, Token: a.token, ToUser: body.ToUser, Text: body.Text.Content})
	answer(w, CodeOK)
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("media_id")
	m, ok := s.media[id]
	switch {
	case !ok:
		// WeChat answers this error as text/plain.
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, `{"errcode":%d,"errmsg":"invalid media_id"}`, CodeInvalidMediaID)
		return
	case strings.HasPrefix(m.mime, "video/"):
		reply(w, map[string]any{"video_url": s.Host.URL() + "/video/" + url.PathEscape(id)})
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Header().Set("Content-Disposition", `attachment; filename="`+url.PathEscape(id)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	w.Write(m.data)
}

func (s *Server) serveVideo(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	m, ok := s.media[id]
	s.mu.Unlock()
	if !ok || !strings.HasPrefix(m.mime, "video/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	w.Write(m.data)
}

// answer is WeChat's errcode and errmsg in an HTTP 200, as WeChat answers.
func answer(w http.ResponseWriter, code int) {
	msg, ok := codeMessages[code]
	if !ok {
		msg = "error"
	}
	if code != CodeOK {
		msg += " rid: 6650a1b2-0c3d4e5f-1a2b3c4d"
	}
	reply(w, map[string]any{"errcode": code, "errmsg": msg})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(v)
}
