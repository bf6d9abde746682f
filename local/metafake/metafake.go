// Package metafake is Meta's Graph API for tests and the local stack: an HTTP
// server speaking the wire format of the Messenger, Instagram and WhatsApp
// Send APIs (POST /v21.0/{account}/messages with a Bearer token, JSON in and
// out, Graph error answers) and of WhatsApp media (GET /v21.0/{media id},
// then the media URL with the same token), plus a public CDN for Messenger
// attachments. It records every send it carries out, can refuse the next
// sends with a Graph error or carry one out and lose its answer. It also
// builds signed webhook payloads (MessengerPayload, WhatsAppPayload, Sign...)
// for tests and local/cmd/metasign.
//
// Point a meta.Graph at it with BaseURL: fake.URL().
package metafake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// Version is the Graph API version in the fake's paths.
const Version = "v21.0"

// Send is one send the fake carried out (a lost answer included).
type Send struct {
	Account       string         // the page, Instagram account or phone_number_id in the path
	Token         string         // the Bearer token
	Body          map[string]any // the JSON body as sent
	Recipient     string         // recipient.id, or WhatsApp's to
	MessagingType string         // "RESPONSE", "MESSAGE_TAG"... ("" on WhatsApp)
	Tag           string         // "HUMAN_AGENT"...
	Type          string         // "text" or "template"
	Text          string         // message.text or text.body
	Template      string         // the template's name
	ID            string         // the message id answered: "m_<n>" or "wamid.<n>"
}

type media struct {
	mime string
	data []byte
}

type fault struct{ status, code, subcode int }

// Server is the fake Graph API. It is safe for concurrent use.
type Server struct {
	fakeserver.Host

	mu       sync.Mutex
	accounts map[string]string // account id -> token
	sends    []Send
	media    map[string]media
	cdn      map[string]media
	faults   fakeserver.Faults[fault]
	lose     int
	n        int
	// acceptAll: see AcceptAnyAccount.
	acceptAll bool
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	return fakeserver.Serve(tb, newServer())
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4010"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("metafake", addr, newServer())
}

// AcceptAnyAccount makes the fake take sends of accounts it was not told of,
// each with the first token it sends (the local stack: tenants connect any
// account id and token through the admin API).
func (s *Server) AcceptAnyAccount() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAll = true
}

func newServer() *Server {
	return &Server{accounts: map[string]string{}, media: map[string]media{}, cdn: map[string]media{}}
}

// URL is the Graph API base URL to give meta.Graph: the server's URL and
// "/v21.0".
func (s *Server) URL() string { return s.Host.URL() + "/" + Version }

// AddAccount makes accountID (a page id, an Instagram account id or a
// phone_number_id) a sender with its token. Sends from an unknown account,
// or with another token, are refused with Graph's code 190.
func (s *Server) AddAccount(accountID, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[accountID] = token
}

// AddMedia adds a WhatsApp media: GET {URL}/{mediaID} with any account's token
// answers its url on this server, which serves data with the same token.
func (s *Server) AddMedia(mediaID, mime string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[mediaID] = media{mime, data}
}

// CDN serves data publicly (as Messenger's attachment CDN) and returns its
// URL.
func (s *Server) CDN(name, mime string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cdn[name] = media{mime, data}
	return s.Host.URL() + "/cdn/" + name + "?oh=fake-signature"
}

// FailNext refuses the next n sends with a Graph error: HTTP status, error
// code and subcode (429/4, 500/2, 400/131047...). A 429 says Retry-After: 1.
func (s *Server) FailNext(n, status, code, subcode int) {
	s.faults.Add(n, fault{status, code, subcode})
}

// LoseNext makes the next n sends take effect (recorded, with an id) and then
// answer 500, as when Meta sent but its answer never arrived.
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

// ServeHTTP serves the Graph API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	path := strings.Trim(r.URL.Path, "/")
	switch {
	case strings.HasPrefix(path, "cdn/") && r.Method == http.MethodGet:
		s.serveCDN(w, strings.TrimPrefix(path, "cdn/"))
	case strings.HasPrefix(path, "media/") && r.Method == http.MethodGet:
		s.serveMediaBytes(w, strings.TrimPrefix(path, "media/"), token)
	case strings.HasPrefix(path, Version+"/"):
		rest := strings.Split(strings.TrimPrefix(path, Version+"/"), "/")
		switch {
		case len(rest) == 2 && rest[1] == "messages" && r.Method == http.MethodPost:
			s.send(w, r, rest[0], token)
		case len(rest) == 1 && r.Method == http.MethodGet:
			s.mediaInfo(w, rest[0], token)
		default:
			graphError(w, http.StatusBadRequest, 100, 0, "Unsupported request")
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, account, token string) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		graphError(w, http.StatusBadRequest, 100, 0, "Invalid JSON body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want, known := s.accounts[account]
	if !known && s.acceptAll && token != "" {
		s.accounts[account], want, known = token, token, true // the first token an account sends with is its own
	}
	switch {
	case !known:
		graphError(w, http.StatusBadRequest, 190, 0, "Invalid OAuth access token for this object")
		return
	case token == "" || token != want:
		graphError(w, http.StatusUnauthorized, 190, 0, "Invalid OAuth access token")
		return
	}
	if f, ok := s.faults.Next(); ok {
		if f.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		graphError(w, f.status, f.code, f.subcode, "Injected failure")
		return
	}
	rec, msg := parseSend(body)
	if msg != "" {
		graphError(w, http.StatusBadRequest, 100, 0, msg)
		return
	}
	s.n++
	rec.Account, rec.Token, rec.Body = account, token, body
	var answer any
	if body["messaging_product"] == "whatsapp" {
		rec.ID = "wamid." + strconv.Itoa(s.n)
		answer = map[string]any{"messaging_product": "whatsapp",
			"contacts": []map[string]string{{"input": rec.Recipient, "wa_id": rec.Recipient}},
			"messages": []map[string]string{{"id": rec.ID}}}
	} else {
		rec.ID = "m_" + strconv.Itoa(s.n)
		answer = map[string]string{"recipient_id": rec.Recipient, "message_id": rec.ID}
	}
	s.sends = append(s.sends, rec)
	if s.lose > 0 {
		s.lose--
		graphError(w, http.StatusInternalServerError, 2, 0, "Service temporarily unavailable")
		return
	}
	reply(w, http.StatusOK, answer)
}

// parseSend reads a Send API body, or says what is wrong with it.
func parseSend(body map[string]any) (Send, string) {
	str := func(m any, key string) string {
		mm, _ := m.(map[string]any)
		v, _ := mm[key].(string)
		return v
	}
	var rec Send
	if body["messaging_product"] == "whatsapp" {
		rec.Recipient, rec.Type = str(body, "to"), str(body, "type")
		switch rec.Type {
		case "text":
			rec.Text = str(body["text"], "body")
			if rec.Text == "" || utf8.RuneCountInString(rec.Text) > 4096 {
				return rec, "text.body must have 1 to 4096 characters"
			}
		case "template":
			rec.Template = str(body["template"], "name")
			if m, _ := body["template"].(map[string]any); rec.Template == "" || str(m["language"], "code") == "" {
				return rec, "template needs a name and a language code"
			}
		default:
			return rec, "unsupported message type"
		}
		if rec.Recipient == "" {
			return rec, "to is required"
		}
		return rec, ""
	}
	rec.Recipient, rec.MessagingType, rec.Tag = str(body["recipient"], "id"), str(body, "messaging_type"), str(body, "tag")
	rec.Type, rec.Text = "text", str(body["message"], "text")
	switch {
	case rec.Recipient == "":
		return rec, "recipient.id is required"
	case rec.Text == "" || utf8.RuneCountInString(rec.Text) > 2000:
		return rec, "message.text must have 1 to 2000 characters"
	case rec.MessagingType == "MESSAGE_TAG" && rec.Tag == "", rec.MessagingType != "MESSAGE_TAG" && rec.Tag != "":
		return rec, "a tag goes with messaging_type MESSAGE_TAG"
	case rec.MessagingType != "RESPONSE" && rec.MessagingType != "UPDATE" && rec.MessagingType != "MESSAGE_TAG":
		return rec, "invalid messaging_type"
	}
	return rec, ""
}

func (s *Server) knownToken(token string) bool {
	for _, t := range s.accounts {
		if token != "" && t == token {
			return true
		}
	}
	return false
}

func (s *Server) mediaInfo(w http.ResponseWriter, id, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.knownToken(token) {
		graphError(w, http.StatusUnauthorized, 190, 0, "Invalid OAuth access token")
		return
	}
	m, ok := s.media[id]
	if !ok {
		graphError(w, http.StatusBadRequest, 100, 33, "Unsupported get request")
		return
	}
	sum := sha256.Sum256(m.data)
	reply(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp", "id": id, "mime_type": m.mime,
		"sha256": hex.EncodeToString(sum[:]), "file_size": len(m.data),
		"url": s.Host.URL() + "/media/" + id + "?ext=" + strconv.Itoa(len(id)) + "&hash=fake"})
}

func (s *Server) serveMediaBytes(w http.ResponseWriter, id, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.knownToken(token) {
		graphError(w, http.StatusUnauthorized, 190, 0, "Invalid OAuth access token")
		return
	}
	m, ok := s.media[id]
	if !ok {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	w.Write(m.data)
}

func (s *Server) serveCDN(w http.ResponseWriter, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.cdn[name]
	if !ok {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	w.Write(m.data)
}

func graphError(w http.ResponseWriter, status, code, subcode int, message string) {
	e := map[string]any{"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AfakeTrace"}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	reply(w, status, map[string]any{"error": e})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
