// Package telegramfake is Telegram's Bot API for tests and the local stack:
// an HTTP server speaking the wire format of the methods the provider calls
// (POST /bot<token>/<method> with a JSON body: getMe, setWebhook,
// deleteWebhook, getWebhookInfo, sendMessage, getFile) and of file downloads
// (GET /file/bot<token>/<file_path>), with the Bot API's answers
// ({"ok":true,"result":...} or {"ok":false,"error_code":...}). It records the
// webhook each bot registers and every message it sends, can refuse the next
// sends with an error code or carry one out and lose its answer. It also
// builds webhook updates (TextUpdate, PhotoUpdate, BlockedUpdate...) for
// tests.
//
// Point a telegram.Provider at it with BaseURL: fake.URL().
package telegramfake

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// SecretHeader is the webhook request header with the secret token, as API
// Gateway passes it (lower case).
const SecretHeader = "x-telegram-bot-api-secret-token"

// Send is one message the fake sent (a lost answer included).
type Send struct {
	Token     string // the bot's token
	ChatID    string // chat_id as sent, in decimal for a number
	Text      string
	MessageID int64 // the message_id answered
}

type webhook struct {
	url, secret string
	allowed     []string
}

type bot struct {
	id       int64
	username string
	hook     webhook
}

type file struct {
	mime string
	data []byte
}

type fault struct{ code, retryAfter int }

// Server is the fake Bot API. It is safe for concurrent use.
type Server struct {
	fakeserver.Host

	mu        sync.Mutex
	bots      map[string]*bot // by token
	acceptAll bool
	sends     []Send
	files     map[string]file // by file id
	faults    fakeserver.Faults[fault]
	lose      int
	n         int64
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	return fakeserver.Serve(tb, newServer())
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4011"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("telegramfake", addr, newServer())
}

func newServer() *Server {
	return &Server{bots: map[string]*bot{}, files: map[string]file{}}
}

// URL is the Bot API base to give telegram.Provider.BaseURL.
func (s *Server) URL() string { return s.Host.URL() }

// AddBot makes token a bot's, with its id and username. Calls with an unknown
// token are refused with 401 Unauthorized (unless AcceptAnyBot).
func (s *Server) AddBot(token string, id int64, username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bots[token] = &bot{id: id, username: username}
}

// AcceptAnyBot makes any token a bot on its first use (the local stack:
// tenants connect any token through the admin API), with a stable id: the
// digits before the token's colon, if it has them, else one derived from
// the token.
func (s *Server) AcceptAnyBot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAll = true
}

// BotID is the id AcceptAnyBot gives token.
func BotID(token string) int64 {
	if digits, _, ok := strings.Cut(token, ":"); ok {
		if id, err := strconv.ParseInt(digits, 10, 64); err == nil && id > 0 {
			return id
		}
	}
	h := fnv.New64a()
	h.Write([]byte(token))
	return int64(h.Sum64()%9_000_000_000) + 1_000_000_000
}

// AddFile adds a file: getFile of fileID answers its file_path, which serves
// data as mime to any bot.
func (s *Server) AddFile(fileID, mime string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[fileID] = file{mime, data}
}

// FailNext refuses the next n sendMessage calls with error code (429, 403,
// 400, 500...); a 429 carries parameters.retry_after = retryAfter.
func (s *Server) FailNext(n, code, retryAfter int) {
	s.faults.Add(n, fault{code, retryAfter})
}

// LoseNext makes the next n sendMessage calls take effect (recorded, with a
// message id) and then answer 500, as when Telegram sent but its answer never
// arrived.
func (s *Server) LoseNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose += n
}

// Sends returns the messages sent so far, in order.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Send(nil), s.sends...)
}

// Webhook returns the webhook token's bot registered ("" and nil if none).
func (s *Server) Webhook(token string) (url, secretToken string, allowed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bots[token]
	if !ok {
		return "", "", nil
	}
	return b.hook.url, b.hook.secret, append([]string(nil), b.hook.allowed...)
}

// ServeHTTP serves the Bot API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok && r.Method == http.MethodGet {
		token, filePath, _ := strings.Cut(rest, "/")
		s.serveFile(w, token, filePath)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, _ := strings.Cut(rest, "/")
	if !ok || method == "" || strings.Contains(method, "/") {
		fail(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		fail(w, http.StatusMethodNotAllowed, "Method Not Allowed", 0)
		return
	}
	in := map[string]any{}
	if r.ContentLength != 0 && r.Method == http.MethodPost {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, "Bad Request: can't parse JSON", 0)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bot(token)
	if b == nil {
		fail(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	switch method {
	case "getMe":
		ok200(w, map[string]any{"id": b.id, "is_bot": true, "first_name": "Bot " + b.username, "username": b.username,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false})
	case "setWebhook":
		s.setWebhook(w, b, in)
	case "deleteWebhook":
		b.hook = webhook{}
		ok200(w, true)
	case "getWebhookInfo":
		ok200(w, map[string]any{"url": b.hook.url, "has_custom_certificate": false, "pending_update_count": 0,
			"allowed_updates": b.hook.allowed})
	case "sendMessage":
		s.sendMessage(w, token, in)
	case "getFile":
		id := str(in["file_id"])
		f, ok := s.files[id]
		if !ok {
			fail(w, http.StatusBadRequest, "Bad Request: invalid file_id", 0)
			return
		}
		ok200(w, map[string]any{"file_id": id, "file_unique_id": "u" + id, "file_size": len(f.data), "file_path": "files/" + id})
	default:
		fail(w, http.StatusNotFound, "Not Found", 0)
	}
}

// bot is token's bot, made on first use under AcceptAnyBot; nil if unknown.
func (s *Server) bot(token string) *bot {
	b, ok := s.bots[token]
	if !ok && s.acceptAll && token != "" {
		id := BotID(token)
		b = &bot{id: id, username: "local_" + strconv.FormatInt(id, 10) + "_bot"}
		s.bots[token] = b
	}
	return b
}

func (s *Server) setWebhook(w http.ResponseWriter, b *bot, in map[string]any) {
	hook := webhook{url: str(in["url"]), secret: str(in["secret_token"])}
	if list, ok := in["allowed_updates"].([]any); ok {
		for _, v := range list {
			hook.allowed = append(hook.allowed, str(v))
		}
	}
	switch {
	case hook.url == "":
		fail(w, http.StatusBadRequest, "Bad Request: bad webhook: an HTTPS URL must be provided for webhook", 0)
		return
	case hook.secret != "" && !validSecret(hook.secret):
		fail(w, http.StatusBadRequest, "Bad Request: secret token contains unallowed characters", 0)
		return
	}
	b.hook = hook
	ok200(w, true)
}

func (s *Server) sendMessage(w http.ResponseWriter, token string, in map[string]any) {
	rec := Send{Token: token, ChatID: str(in["chat_id"]), Text: str(in["text"])}
	switch {
	case rec.ChatID == "":
		fail(w, http.StatusBadRequest, "Bad Request: chat_id is empty", 0)
		return
	case strings.TrimSpace(rec.Text) == "":
		fail(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	case utf8.RuneCountInString(rec.Text) > 4096:
		fail(w, http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}
	if f, ok := s.faults.Next(); ok {
		fail(w, f.code, injected(f.code, f.retryAfter), f.retryAfter)
		return
	}
	s.n++
	rec.MessageID = s.n
	s.sends = append(s.sends, rec)
	if s.lose > 0 {
		s.lose--
		fail(w, http.StatusInternalServerError, "Internal Server Error", 0)
		return
	}
	chatID, _ := strconv.ParseInt(rec.ChatID, 10, 64)
	ok200(w, map[string]any{"message_id": rec.MessageID, "date": 0, "text": rec.Text,
		"chat": map[string]any{"id": chatID, "type": "private"}})
}

func (s *Server) serveFile(w http.ResponseWriter, token, filePath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := strings.CutPrefix(filePath, "files/")
	f, found := s.files[id]
	if s.bot(token) == nil || !ok || !found {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", f.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	w.Write(f.data)
}

// str is a JSON string or number as a string ("" for anything else).
func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func validSecret(s string) bool {
	if len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func ok200(w http.ResponseWriter, result any) {
	reply(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

// injected is the description Telegram gives with an error code.
func injected(code, retryAfter int) string {
	switch code {
	case http.StatusBadRequest:
		return "Bad Request: chat not found"
	case http.StatusForbidden:
		return "Forbidden: bot was blocked by the user"
	case http.StatusTooManyRequests:
		return "Too Many Requests: retry after " + strconv.Itoa(retryAfter)
	}
	return http.StatusText(code)
}

// fail answers a Bot API error; a 429 carries retry_after.
func fail(w http.ResponseWriter, code int, description string, retryAfter int) {
	ans := map[string]any{"ok": false, "error_code": code, "description": description}
	if code == http.StatusTooManyRequests {
		ans["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	reply(w, code, ans)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
