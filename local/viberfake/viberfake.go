// Package viberfake is Viber's REST Bot API for tests and the local stack: an
// HTTP server speaking the wire format of set_webhook, get_account_info and
// send_message (POST /pa/<method> with the X-Viber-Auth-Token header, JSON
// in and out, HTTP 200 with a non-zero status for a refusal) and a public
// media CDN. Like Viber it issues message tokens above 2^53, as JSON
// integers. It records every send it carries out, can refuse the next sends
// with a Viber status or an HTTP error, or carry one out and lose its answer.
// Unlike Viber it does not call the webhook set_webhook registers. It also
// builds webhook payloads (TextMessage, PictureMessage, Event) and signs them
// (Sign).
//
// Point a viber.Provider at it with BaseURL: fake.URL().
package viberfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// FirstMessageToken is the message_token of the fake's first send; the
// next ones count up. It is above 2^53, as Viber's are: a client that decodes
// it through float64 gets another number.
const FirstMessageToken uint64 = 5491540939539838373

// Send is one send the fake carried out (a lost answer included).
type Send struct {
	Token      string // the X-Viber-Auth-Token
	Receiver   string // receiver: the contact's Viber id
	SenderName string // sender.name
	Text       string
	Token64    string // the message_token answered, as a decimal string
}

// Viber's status codes the fake answers.
const (
	statusOK             = 0
	statusInvalidURL     = 1
	statusInvalidToken   = 2
	statusBadData        = 3
	statusMissingData    = 4
	statusNotSubscribed  = 6
	statusTooManyRequest = 12
)

var statusMessages = map[int]string{
	statusOK: "ok", statusInvalidURL: "invalidUrl", statusInvalidToken: "invalidAuthToken", statusBadData: "badData",
	statusMissingData: "missingData", 5: "receiverNotRegistered", statusNotSubscribed: "receiverNotSubscribed",
	11: "receiverNoSuitableDevice", statusTooManyRequest: "tooManyRequests",
}

type account struct {
	id, name string
	webhook  string
	events   []string
}

type media struct {
	mime string
	data []byte
}

// fault is an injected refusal: a Viber status, or an HTTP status when http
// is set.
type fault struct{ status, http int }

// Server is the fake Viber API. It is safe for concurrent use.
type Server struct {
	fakeserver.Host

	mu           sync.Mutex
	accounts     map[string]*account // by auth token
	acceptAll    bool
	sends        []Send
	cdn          map[string]media
	faults       fakeserver.Faults[fault]
	lose         int
	next         uint64
	unsubscribed map[string]bool
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	return fakeserver.Serve(tb, newServer())
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4020"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("viberfake", addr, newServer())
}

func newServer() *Server {
	return &Server{accounts: map[string]*account{}, cdn: map[string]media{}, next: FirstMessageToken,
		unsubscribed: map[string]bool{}}
}

// URL is the API's base URL to give viber.Provider: the server's URL and
// "/pa".
func (s *Server) URL() string { return s.Host.URL() + "/pa" }

// AddAccount makes token the auth token of the account id ("pa:..."), named
// name. Calls with an unknown token are refused with status 2
// (invalidAuthToken).
func (s *Server) AddAccount(token, id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[token] = &account{id: id, name: name}
}

// AcceptAnyAccount makes the fake take any non-empty token as an account's
// (the local stack: tenants connect any token through the admin API). The
// account's id is "pa:" and a hash of the token, its name "Local Viber bot".
func (s *Server) AcceptAnyAccount() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAll = true
}

// Webhook is the webhook URL registered with token and its event types ("",
// nil if none).
func (s *Server) Webhook(token string) (url string, events []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[token]
	if !ok {
		return "", nil
	}
	return a.webhook, append([]string(nil), a.events...)
}

// CDN serves data publicly (as Viber's media CDN) and returns its URL.
func (s *Server) CDN(name, mime string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cdn[name] = media{mime, data}
	return s.Host.URL() + "/media/" + url.PathEscape(name)
}

// Unsubscribe makes receiver a user who left the account: later sends to
// them are refused with status 6 (receiverNotSubscribed).
func (s *Server) Unsubscribe(receiver string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsubscribed[receiver] = true
}

// FailNext refuses the next n sends with Viber's status (12:
// tooManyRequests, 6: receiverNotSubscribed, 99: a general error...), in an
// HTTP 200 answer as Viber does.
func (s *Server) FailNext(n, status int) {
	s.faults.Add(n, fault{status: status})
}

// FailHTTP refuses the next n sends with the HTTP status code (500, 429...)
// and no Viber answer.
func (s *Server) FailHTTP(n, code int) {
	s.faults.Add(n, fault{http: code})
}

// LoseNext makes the next n sends take effect (recorded, with a token) and
// then answer HTTP 500, as when Viber sent but its answer never arrived.
func (s *Server) LoseNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose += n
}

// Sends returns the sends carried out so far, in order.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Send(nil), s.sends...)
}

// ServeHTTP serves the API and the CDN.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, "/media/"); ok && r.Method == http.MethodGet {
		s.serveMedia(w, r, name)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/pa/")
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		status(w, statusBadData)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(r.Header.Get("X-Viber-Auth-Token"))
	if a == nil {
		status(w, statusInvalidToken)
		return
	}
	switch method {
	case "set_webhook":
		s.setWebhook(w, a, body)
	case "get_account_info":
		reply(w, http.StatusOK, map[string]any{"status": statusOK, "status_message": "ok", "id": a.id, "name": a.name,
			"uri": "viberfake", "category": "Local", "webhook": a.webhook, "event_types": a.events,
			"subscribers_count": 0, "members": []any{}})
	case "send_message":
		s.send(w, r.Header.Get("X-Viber-Auth-Token"), body)
	default:
		status(w, statusBadData)
	}
}

// account is token's account, nil if the token is refused. s.mu is held.
func (s *Server) account(token string) *account {
	if a, ok := s.accounts[token]; ok {
		return a
	}
	if !s.acceptAll || token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	a := &account{id: "pa:" + hex.EncodeToString(sum[:8]), name: "Local Viber bot"}
	s.accounts[token] = a
	return a
}

func (s *Server) setWebhook(w http.ResponseWriter, a *account, body map[string]any) {
	raw, _ := body["url"].(string)
	if raw == "" {
		a.webhook, a.events = "", nil
		status(w, statusOK)
		return
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		status(w, statusInvalidURL)
		return
	}
	events := []string{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"}
	if list, ok := body["event_types"].([]any); ok {
		events = nil
		for _, e := range list {
			if e, ok := e.(string); ok {
				events = append(events, e)
			}
		}
	}
	a.webhook, a.events = raw, events
	reply(w, http.StatusOK, map[string]any{"status": statusOK, "status_message": "ok",
		"chat_hostname": "SN-CHAT-05_", "event_types": events})
}

func (s *Server) send(w http.ResponseWriter, token string, body map[string]any) {
	if f, ok := s.faults.Next(); ok {
		if f.http != 0 {
			w.WriteHeader(f.http)
			return
		}
		status(w, f.status)
		return
	}
	str := func(m any, key string) string {
		mm, _ := m.(map[string]any)
		v, _ := mm[key].(string)
		return v
	}
	rec := Send{Token: token, Receiver: str(body, "receiver"), SenderName: str(body["sender"], "name"), Text: str(body, "text")}
	switch n := utf8.RuneCountInString(rec.SenderName); {
	case rec.Receiver == "" || n == 0 || rec.Text == "":
		status(w, statusMissingData)
		return
	case n > 28 || utf8.RuneCountInString(rec.Text) > 7000 || str(body, "type") != "text":
		status(w, statusBadData)
		return
	case s.unsubscribed[rec.Receiver]:
		status(w, statusNotSubscribed)
		return
	}
	token64 := s.next
	s.next++
	rec.Token64 = strconv.FormatUint(token64, 10)
	s.sends = append(s.sends, rec)
	if s.lose > 0 {
		s.lose--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	reply(w, http.StatusOK, map[string]any{"status": statusOK, "status_message": "ok", "message_token": token64,
		"chat_hostname": "SN-CHAT-05_", "billing_status": 1})
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	m, ok := s.cdn[name]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	w.Write(m.data)
}

// status answers Viber's status code in an HTTP 200, as Viber does.
func status(w http.ResponseWriter, code int) {
	msg, ok := statusMessages[code]
	if !ok {
		msg = "generalError"
	}
	reply(w, http.StatusOK, map[string]any{"status": code, "status_message": msg, "chat_hostname": "SN-CHAT-05_"})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
