// Package linefake is LINE's Messaging API for tests and the local stack: an
// HTTP server speaking the wire format of the calls shared/line makes (GET
// /v2/bot/info, PUT /v2/bot/channel/webhook/endpoint, POST
// /v2/bot/message/reply and /push with a Bearer channel access token, GET
// /v2/bot/message/{id}/content), with LINE's error answers. One server is
// both the API host and the content host. It records every send it carries
// out, honours X-Line-Retry-Key (a push whose key was accepted answers 409 and
// is not sent again), takes each reply token once, and can refuse the next
// sends or carry one out and lose its answer. It also builds signed webhook
// payloads (TextEvent, Events, Sign...).
//
// Point a line.Provider at it with APIURL and DataURL: fake.URL().
package linefake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// Kinds of sends.
const (
	KindReply = "reply"
	KindPush  = "push"
)

// Send is one text message the fake sent (a lost answer included).
type Send struct {
	Token      string // the Bearer channel access token
	Kind       string // KindReply or KindPush
	To         string // the push's to ("" for a reply)
	ReplyToken string // the reply's token ("" for a push)
	Text       string
	RetryKey   string // the push's X-Line-Retry-Key, if any
	ID         string // the message id answered
}

type channelInfo struct {
	botUserID, name, endpoint string
}

type content struct {
	mime string
	data []byte
}

// accepted is a push accepted under a retry key: its request id and answer.
type accepted struct {
	requestID string
	ids       []string
}

// Server is the fake Messaging API. It is safe for concurrent use.
type Server struct {
	fakeserver.Host

	mu          sync.Mutex
	channels    map[string]*channelInfo // token -> channel
	acceptAll   bool
	sends       []Send
	retryKeys   map[string]accepted // token + " " + retry key -> the accepted push
	replyTokens map[string]bool     // issued reply token -> still valid
	contents    map[string]content
	faults      fakeserver.Faults[int]
	lose        int
	n           int
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	return fakeserver.Serve(tb, newServer())
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4020"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("linefake", addr, newServer())
}

func newServer() *Server {
	return &Server{channels: map[string]*channelInfo{}, retryKeys: map[string]accepted{},
		replyTokens: map[string]bool{}, contents: map[string]content{}}
}

// URL is the base URL of both hosts, for line.Provider's APIURL and DataURL.
func (s *Server) URL() string { return s.Host.URL() }

// AddChannel makes token the channel access token of a channel whose bot has
// user id botUserID (the webhook's destination) and display name name. Calls
// with an unknown token answer 401.
func (s *Server) AddChannel(token, botUserID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[token] = &channelInfo{botUserID: botUserID, name: name}
}

// AcceptAnyChannel makes the fake take any non-empty token it was not told
// of, as a channel whose bot user id is BotUserID(token) (the local stack:
// tenants connect any token through the admin API).
func (s *Server) AcceptAnyChannel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAll = true
}

// BotUserID is the bot user id AcceptAnyChannel gives token's channel: "U"
// and 32 hex digits, as LINE's user ids.
func BotUserID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "U" + hex.EncodeToString(sum[:16])
}

// Endpoint is the webhook endpoint set for token's channel ("" if none).
func (s *Server) Endpoint(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[token]; c != nil {
		return c.endpoint
	}
	return ""
}

// AddContent adds a message's content: GET /v2/bot/message/{messageID}/content
// with any known token answers data as mime.
func (s *Server) AddContent(messageID, mime string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contents[messageID] = content{mime, data}
}

// IssueReplyToken returns a new reply token the fake takes once. Replies with
// a token it did not issue, or used, answer 400 "Invalid reply token".
func (s *Server) IssueReplyToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	sum := sha256.Sum256([]byte("reply " + strconv.Itoa(s.n)))
	t := hex.EncodeToString(sum[:16])
	s.replyTokens[t] = true
	return t
}

// ExpireReplyTokens makes every issued reply token invalid, as a minute
// passing does.
func (s *Server) ExpireReplyTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.replyTokens {
		s.replyTokens[t] = false
	}
}

// FailNext refuses the next n replies or pushes with HTTP status (429, 500,
// 400...). A 429 says Retry-After: 1.
func (s *Server) FailNext(n, status int) {
	s.faults.Add(n, status)
}

// LoseNext makes the next n replies or pushes take effect (recorded, with an
// id, a push's retry key accepted) and then answer 500, as when LINE sent but
// its answer never arrived.
func (s *Server) LoseNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose += n
}

// Sends returns the text messages sent so far, in order.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Send(nil), s.sends...)
}

// ServeHTTP serves the Messaging API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	w.Header().Set("X-Line-Request-Id", fmt.Sprintf("req-%08d", s.n))
	ch := s.channel(token)
	if ch == nil {
		lineError(w, http.StatusUnauthorized, "Authentication failed. Confirm that the access token in the authorization header is valid.")
		return
	}
	path := r.URL.Path
	switch {
	case path == "/v2/bot/info" && r.Method == http.MethodGet:
		reply(w, http.StatusOK, map[string]string{"userId": ch.botUserID, "basicId": "@" + strings.ToLower(ch.botUserID[1:7]),
			"displayName": ch.name, "chatMode": "bot", "markAsReadMode": "manual"})
	case path == "/v2/bot/channel/webhook/endpoint" && r.Method == http.MethodPut:
		var body struct {
			Endpoint string `json:"endpoint"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Endpoint == "" {
			lineError(w, http.StatusBadRequest, "The request body has 1 error(s)")
			return
		}
		ch.endpoint = body.Endpoint
		reply(w, http.StatusOK, map[string]any{})
	case (path == "/v2/bot/message/reply" || path == "/v2/bot/message/push") && r.Method == http.MethodPost:
		s.send(w, r, token, strings.TrimPrefix(path, "/v2/bot/message/"))
	case strings.HasPrefix(path, "/v2/bot/message/") && strings.HasSuffix(path, "/content") && r.Method == http.MethodGet:
		c, ok := s.contents[strings.TrimSuffix(strings.TrimPrefix(path, "/v2/bot/message/"), "/content")]
		if !ok {
			lineError(w, http.StatusNotFound, "Not found")
			return
		}
		w.Header().Set("Content-Type", c.mime)
		w.Header().Set("Content-Length", strconv.Itoa(len(c.data)))
		w.Write(c.data)
	default:
		lineError(w, http.StatusNotFound, "Not found")
	}
}

// channel is token's channel, nil if the fake does not take the token.
func (s *Server) channel(token string) *channelInfo {
	if token == "" {
		return nil
	}
	if c := s.channels[token]; c != nil {
		return c
	}
	if !s.acceptAll {
		return nil
	}
	c := &channelInfo{botUserID: BotUserID(token), name: "Local LINE bot"}
	s.channels[token] = c
	return c
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// send serves a reply or a push (kind). Called with s.mu held.
func (s *Server) send(w http.ResponseWriter, r *http.Request, token, kind string) {
	var body struct {
		ReplyToken string `json:"replyToken"`
		To         string `json:"to"`
		Messages   []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		lineError(w, http.StatusBadRequest, "The request body has 1 error(s)")
		return
	}
	key := r.Header.Get("X-Line-Retry-Key")
	switch {
	case len(body.Messages) < 1 || len(body.Messages) > 5:
		lineError(w, http.StatusBadRequest, "The request body has 1 error(s)", "messages: Size must be between 1 and 5")
		return
	case kind == KindPush && body.To == "":
		lineError(w, http.StatusBadRequest, "The request body has 1 error(s)", "to: May not be empty")
		return
	case kind == KindReply && key != "":
		lineError(w, http.StatusBadRequest, "The retry key cannot be used with the reply API")
		return
	case key != "" && !uuidRE.MatchString(key):
		lineError(w, http.StatusBadRequest, "The value of the X-Line-Retry-Key header is invalid")
		return
	}
	for _, m := range body.Messages {
		if n := len(utf16.Encode([]rune(m.Text))); m.Type != "text" || n < 1 || n > 5000 {
			lineError(w, http.StatusBadRequest, "The request body has 1 error(s)", "messages[].text: Length must be between 1 and 5000")
			return
		}
	}
	if status, ok := s.faults.Next(); ok {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		lineError(w, status, "Injected failure")
		return
	}
	if key != "" {
		if a, ok := s.retryKeys[token+" "+key]; ok {
			w.Header().Set("X-Line-Accepted-Request-Id", a.requestID)
			reply(w, http.StatusConflict, map[string]any{"message": "The retry key is already accepted", "sentMessages": sentMessages(a.ids)})
			return
		}
	}
	if kind == KindReply {
		if !s.replyTokens[body.ReplyToken] {
			lineError(w, http.StatusBadRequest, "Invalid reply token")
			return
		}
		s.replyTokens[body.ReplyToken] = false
	}
	var ids []string
	for _, m := range body.Messages {
		s.n++
		id := strconv.Itoa(500000000000000000 + s.n)
		ids = append(ids, id)
		s.sends = append(s.sends, Send{Token: token, Kind: kind, To: body.To, ReplyToken: body.ReplyToken,
			Text: m.Text, RetryKey: key, ID: id})
	}
	if key != "" {
		s.retryKeys[token+" "+key] = accepted{requestID: w.Header().Get("X-Line-Request-Id"), ids: ids}
	}
	if s.lose > 0 {
		s.lose--
		lineError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	reply(w, http.StatusOK, map[string]any{"sentMessages": sentMessages(ids)})
}

func sentMessages(ids []string) []map[string]string {
	out := make([]map[string]string, len(ids))
	for i, id := range ids {
		out[i] = map[string]string{"id": id, "quoteToken": "q" + id}
	}
	return out
}

// lineError answers LINE's error form: a message and details.
func lineError(w http.ResponseWriter, status int, message string, details ...string) {
	body := map[string]any{"message": message}
	if len(details) > 0 {
		var ds []map[string]string
		for _, d := range details {
			prop, msg, _ := strings.Cut(d, ": ")
			ds = append(ds, map[string]string{"property": prop, "message": msg})
		}
		body["details"] = ds
	}
	reply(w, status, body)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
