// Package zendeskfake is a Zendesk Support account for tests and the local
// stack: an HTTP server speaking the wire format of the three API calls
// shared/zendesk makes (GET /api/v2/users/me.json, POST
// /api/v2/tickets.json with its Idempotency-Key, PUT
// /api/v2/tickets/{id}.json), with Basic auth "email/token:apitoken"
// checked and Zendesk's error answers (401, 404 RecordNotFound, 422
// RecordInvalid for a closed ticket, 429 with Retry-After). Tickets and their
// comments are kept in memory.
//
// It plays the agents too: AgentComment adds a comment as an agent would in
// Zendesk's agent workspace and, when a webhook is registered (Webhook),
// posts the signed zen:event-type:ticket.comment_added event to it, as
// Zendesk does, retrying a failed delivery with the same invocation id.
// CommentEvent and SignedHeaders build the same event and headers for a
// test to post itself.
//
// Point a zendesk.Client at it with BaseURL: fake.URL().
package zendeskfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/fakeserver"
)

// The fake's ids: Zendesk's are JSON integers, tickets counted per account,
// users and comments large.
const (
	AccountID     uint64 = 22129848
	FirstUserID   uint64 = 8447388090001
	FirstTicketID uint64 = 5001
	FirstEventID  uint64 = 30064117810001
)

// RetryAfter is the Retry-After (seconds) of the fake's 429 answers.
const RetryAfter = 1

// Comment is a comment of a ticket.
type Comment struct {
	ID       string
	AuthorID string
	Body     string
	Public   bool
	At       time.Time
}

// Ticket is a ticket the fake holds.
type Ticket struct {
	ID             string
	Subject        string
	Status         string // "new", "open", "pending", "solved", "closed"
	RequesterID    string
	SubmitterID    string
	ExternalID     string
	Tags           []string
	IdempotencyKey string // the key it was created with, if any
	Comments       []Comment
	CreatedAt      time.Time
}

// User is a user of the account: an agent (AddAgent, AcceptAnyAgent) or an
// end user (a ticket's requester).
type User struct {
	ID    string
	Name  string
	Email string
	Role  string // "agent" or "end-user"
}

// Delivery is one try of a webhook delivery.
type Delivery struct {
	InvocationID string
	Attempt      int // 1, 2, 3
	Status       int // the HTTP status answered; 0 for a network error
	Body         []byte
}

type user struct {
	User
	token string
}

type idemRecord struct {
	sum  [sha256.Size]byte
	code int
	body []byte
}

// Server is the fake Zendesk. It is safe for concurrent use.
type Server struct {
	fakeserver.Host

	mu          sync.Mutex
	users       map[string]*user // by id
	agents      map[string]*user // by email
	endUsers    map[string]*user // by email
	acceptAny   bool
	tickets     map[string]*Ticket
	order       []string
	keys        map[string]idemRecord
	faults      fakeserver.Faults[int]
	lose        int
	nextUser    uint64
	nextTicket  uint64
	nextEvent   uint64
	hookURL     string
	hookSecret  string
	echo        bool
	deliveries  []Delivery
	invocations uint64

	pending sync.WaitGroup
	hc      *http.Client
}

// New starts a fake on a local port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := fakeserver.Serve(tb, newServer())
	tb.Cleanup(s.pending.Wait) // runs before the server closes
	return s
}

// Start starts a fake for the local stack on addr ("127.0.0.1:4030"; a
// missing host is 127.0.0.1, never every interface). Close stops it.
func Start(addr string) (*Server, error) {
	return fakeserver.Listen("zendeskfake", addr, newServer())
}

func newServer() *Server {
	return &Server{users: map[string]*user{}, agents: map[string]*user{}, endUsers: map[string]*user{},
		tickets: map[string]*Ticket{}, keys: map[string]idemRecord{}, nextUser: FirstUserID,
		nextTicket: FirstTicketID, nextEvent: FirstEventID, hc: &http.Client{Timeout: 10 * time.Second}}
}

// Close waits for the webhook deliveries under way and stops the server.
func (s *Server) Close() {
	s.pending.Wait()
	s.Host.Close()
}

// URL is the account's base URL to give zendesk.Client (as
// https://<subdomain>.zendesk.com).
func (s *Server) URL() string { return s.Host.URL() }

// AddAgent makes email an agent named name whose API token is token, and
// returns the agent's user id. Calls with another token for email, or an
// unknown email, are refused with 401.
func (s *Server) AddAgent(email, token, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.newUser(name, email, "agent")
	u.token = token
	s.agents[strings.ToLower(email)] = u
	return u.ID
}

// AcceptAnyAgent makes the fake take any email and non-empty token not added
// with AddAgent as an agent's (the local stack: tenants connect any
// credentials through the admin API). Such an agent is created on first use,
// named "Local agent".
func (s *Server) AcceptAnyAgent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptAny = true
}

// Webhook registers url as the account's webhook of comment_added events,
// signed with secret: AgentComment posts its event there ("" url: none).
func (s *Server) Webhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookURL, s.hookSecret = url, secret
}

// EchoAPIComments makes the webhook also get the events of comments made
// through the API (a ticket's first comment, AddComment), as Zendesk sends
// them: after the call has answered, in the background (Flush waits for
// them). A bridge must recognise its own comments.
func (s *Server) EchoAPIComments() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.echo = true
}

// Flush waits for the webhook deliveries under way.
func (s *Server) Flush() { s.pending.Wait() }

// Deliveries returns every webhook delivery try so far, in order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// FailNext answers the next n API requests with the HTTP status (429 with
// Retry-After: RetryAfter, 500, 503, 401...) and Zendesk's error body,
// without carrying them out.
func (s *Server) FailNext(n, status int) {
	s.faults.Add(n, status)
}

// LoseNext makes the next n ticket writes take effect and then answer 500,
// as when Zendesk made the change but its answer never arrived (a create
// retried with the same idempotency key then gets the original answer).
func (s *Server) LoseNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose += n
}

// Tickets returns copies of the tickets, in the order they were created.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ticket, 0, len(s.order))
	for _, id := range s.order {
		if t, ok := s.tickets[id]; ok {
			out = append(out, t.clone())
		}
	}
	return out
}

// Ticket returns a copy of the ticket id, and whether it exists.
func (s *Server) Ticket(id string) (Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	return t.clone(), true
}

// User returns the user id (an agent or a requester), and whether it exists.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return u.User, true
}

// SetStatus sets a ticket's status ("solved", "closed": a closed ticket
// refuses updates with 422). It reports whether the ticket exists.
func (s *Server) SetStatus(ticketID, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[ticketID]
	if ok {
		t.Status = status
	}
	return ok
}

// DeleteTicket deletes a ticket: calls on it answer 404.
func (s *Server) DeleteTicket(ticketID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tickets, ticketID)
}

// AgentComment adds a comment of user authorID ("": the ticket's submitter,
// the API's agent) to the ticket, as an agent replying in Zendesk would, and
// returns its id ("" if the ticket or the user does not exist). With a
// webhook registered it then posts the comment's signed event (CommentEvent)
// to it, before returning: up to 3 tries while the answer is not 2xx, all
// with the same invocation id (Deliveries records them). An author who is
// not an agent (the requester) gives an event with is_staff false.
func (s *Server) AgentComment(ticketID, authorID, body string, public bool) string {
	s.mu.Lock()
	t, ok := s.tickets[ticketID]
	if !ok {
		s.mu.Unlock()
		return ""
	}
	if authorID == "" {
		authorID = t.SubmitterID
	}
	if _, ok := s.users[authorID]; !ok {
		s.mu.Unlock()
		return ""
	}
	c := s.addComment(t, authorID, body, public)
	if t.Status == "new" {
		t.Status = "open"
	}
	hook, secret := s.hookURL, s.hookSecret
	var event []byte
	if hook != "" {
		event = s.commentEvent(t, c)
	}
	s.mu.Unlock()
	if hook != "" {
		s.deliver(hook, secret, event)
	}
	return c.ID
}

// CommentEvent is the body of the zen:event-type:ticket.comment_added event
// Zendesk posts for the ticket's comment (nil if either does not exist): the
// ticket's detail with ids as strings, the comment and its author with ids as
// JSON numbers, an event id that is the same for the same comment.
func (s *Server) CommentEvent(ticketID, commentID string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[ticketID]
	if !ok {
		return nil
	}
	for _, c := range t.Comments {
		if c.ID == commentID {
			return s.commentEvent(t, c)
		}
	}
	return nil
}

// SignedHeaders are the headers Zendesk sends body with at the time at,
// signed with the webhook's secret (lower-case names, as API Gateway passes
// them): the signature, its timestamp and the invocation id.
func SignedHeaders(secret string, body []byte, at time.Time, invocationID string) map[string]string {
	ts := at.UTC().Format("2006-01-02T15:04:05Z")
	return map[string]string{
		"x-zendesk-webhook-signature":           sign(secret, ts, body),
		"x-zendesk-webhook-signature-timestamp": ts,
		"x-zendesk-webhook-invocation-id":       invocationID,
	}
}

// newUser adds a user. s.mu is held.
func (s *Server) newUser(name, email, role string) *user {
	u := &user{User: User{ID: strconv.FormatUint(s.nextUser, 10), Name: name, Email: email, Role: role}}
	s.nextUser++
	s.users[u.ID] = u
	return u
}

// addComment appends a comment. s.mu is held.
func (s *Server) addComment(t *Ticket, authorID, body string, public bool) Comment {
	c := Comment{ID: strconv.FormatUint(s.nextEvent, 10), AuthorID: authorID, Body: body, Public: public,
		At: time.Now().UTC()}
	s.nextEvent++
	t.Comments = append(t.Comments, c)
	return c
}

func (t *Ticket) clone() Ticket {
	c := *t
	c.Tags = slices.Clone(t.Tags)
	c.Comments = slices.Clone(t.Comments)
	return c
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/api/v2/") {
		zendeskError(w, http.StatusNotFound)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		zendeskError(w, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if code, ok := s.faults.Next(); ok {
		s.mu.Unlock()
		zendeskError(w, code)
		return
	}
	var echo []echoed
	defer func() {
		hook, secret := s.hookURL, s.hookSecret
		s.mu.Unlock()
		if hook == "" {
			return
		}
		for _, e := range echo { // after the answer, as Zendesk
			s.pending.Add(1)
			go func() {
				defer s.pending.Done()
				s.deliver(hook, secret, e.event)
			}()
		}
	}()
	agent, authed := s.authenticate(r)
	switch {
	case r.URL.Path == "/api/v2/users/me.json" && r.Method == http.MethodGet:
		switch {
		case agent != nil:
			reply(w, http.StatusOK, map[string]any{"user": s.userJSON(agent)})
		case authed:
			zendeskError(w, http.StatusUnauthorized)
		default: // no credentials: Zendesk answers the anonymous user
			reply(w, http.StatusOK, map[string]any{"user": map[string]any{"id": nil, "url": nil,
				"name": "Anonymous user", "email": "invalid@example.com", "role": "end-user", "active": true}})
		}
	case agent == nil:
		zendeskError(w, http.StatusUnauthorized)
	case r.URL.Path == "/api/v2/tickets.json" && r.Method == http.MethodPost:
		echo = s.createTicket(w, r, agent, raw)
	case strings.HasPrefix(r.URL.Path, "/api/v2/tickets/") && strings.HasSuffix(r.URL.Path, ".json") && r.Method == http.MethodPut:
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2/tickets/"), ".json")
		echo = s.updateTicket(w, agent, id, raw)
	default:
		reply(w, http.StatusNotFound, map[string]any{"error": "InvalidEndpoint", "description": "Not found"})
	}
}

// echoed is a comment event to post once the call has answered.
type echoed struct{ event []byte }

// authenticate reads Basic auth "email/token:apitoken": the agent, and
// whether any credentials came. s.mu is held.
func (s *Server) authenticate(r *http.Request) (*user, bool) {
	name, token, ok := r.BasicAuth()
	if !ok {
		return nil, r.Header.Get("Authorization") != ""
	}
	email, isToken := strings.CutSuffix(name, "/token")
	if !isToken || email == "" || token == "" {
		return nil, true
	}
	key := strings.ToLower(email)
	if a, ok := s.agents[key]; ok {
		if a.token != "" && a.token != token {
			return nil, true
		}
		return a, true
	}
	if !s.acceptAny {
		return nil, true
	}
	a := s.newUser("Local agent", email, "agent")
	s.agents[key] = a
	return a, true
}

// ticketBody is a request's ticket (the fields the fake reads).
type ticketBody struct {
	Ticket struct {
		Subject    string         `json:"subject"`
		ExternalID *string        `json:"external_id"`
		Tags       []string       `json:"tags"`
		Status     string         `json:"status"`
		Comment    *commentBody   `json:"comment"`
		Requester  *requesterBody `json:"requester"`
	} `json:"ticket"`
}

type commentBody struct {
	Body     string       `json:"body"`
	Public   *bool        `json:"public"`
	AuthorID *json.Number `json:"author_id"`
}

type requesterBody struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, agent *user, raw []byte) []echoed {
	key := r.Header.Get("Idempotency-Key")
	sum := sha256.Sum256(raw)
	if rec, ok := s.keys[key]; key != "" && ok {
		if rec.sum != sum {
			reply(w, http.StatusBadRequest, map[string]any{"error": "IdempotentRequestError",
				"description": "The request does not match the original request of this idempotency key"})
			return nil
		}
		w.Header().Set("X-Idempotency-Lookup", "hit")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(rec.code)
		w.Write(rec.body)
		return nil
	}
	var in ticketBody
	if err := decodeJSON(raw, &in); err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidJSON", "description": "Invalid JSON"})
		return nil
	}
	c := in.Ticket.Comment
	if c == nil || strings.TrimSpace(c.Body) == "" {
		invalid(w, "base", "Description: cannot be blank")
		return nil
	}
	requester := agent
	if rq := in.Ticket.Requester; rq != nil {
		if !strings.Contains(rq.Email, "@") {
			invalid(w, "requester", "Requester: Email is invalid")
			return nil
		}
		requester = s.endUser(rq.Name, rq.Email)
	}
	t := &Ticket{ID: strconv.FormatUint(s.nextTicket, 10), Subject: in.Ticket.Subject, Status: "new",
		RequesterID: requester.ID, SubmitterID: agent.ID, Tags: slices.Clone(in.Ticket.Tags),
		IdempotencyKey: key, CreatedAt: time.Now().UTC()}
	if in.Ticket.ExternalID != nil {
		t.ExternalID = *in.Ticket.ExternalID
	}
	author, ok := s.author(c, agent) // the submitter authors the first comment
	if !ok {
		invalid(w, "author_id", "Author: is invalid")
		return nil
	}
	s.nextTicket++
	s.tickets[t.ID] = t
	s.order = append(s.order, t.ID)
	first := s.addComment(t, author, c.Body, c.Public == nil || *c.Public)
	body, _ := json.Marshal(map[string]any{"ticket": s.ticketJSON(t), "audit": s.auditJSON(t, first)})
	if key != "" {
		s.keys[key] = idemRecord{sum: sum, code: http.StatusCreated, body: body}
		w.Header().Set("X-Idempotency-Lookup", "miss")
	}
	if s.lose > 0 {
		s.lose--
		zendeskError(w, http.StatusInternalServerError)
	} else {
		w.Header().Set("Location", s.Host.URL()+"/api/v2/tickets/"+t.ID+".json")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	}
	return s.echoOf(t, first)
}

func (s *Server) updateTicket(w http.ResponseWriter, agent *user, id string, raw []byte) []echoed {
	t, ok := s.tickets[id]
	if !ok {
		reply(w, http.StatusNotFound, map[string]any{"error": "RecordNotFound", "description": "Not found"})
		return nil
	}
	if t.Status == "closed" {
		invalid(w, "status", "Status: closed prevents ticket update")
		return nil
	}
	var in ticketBody
	if err := decodeJSON(raw, &in); err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidJSON", "description": "Invalid JSON"})
		return nil
	}
	c := in.Ticket.Comment
	if c != nil && strings.TrimSpace(c.Body) == "" {
		invalid(w, "base", "Comment: cannot be blank")
		return nil
	}
	if st := in.Ticket.Status; st != "" && !slices.Contains([]string{"new", "open", "pending", "hold", "solved", "closed"}, st) {
		invalid(w, "status", "Status: is invalid")
		return nil
	}
	var added *Comment
	if c != nil {
		author, ok := s.author(c, agent)
		if !ok {
			invalid(w, "author_id", "Author: is invalid")
			return nil
		}
		cm := s.addComment(t, author, c.Body, c.Public == nil || *c.Public)
		added = &cm
	}
	switch {
	case in.Ticket.Status != "":
		t.Status = in.Ticket.Status
	case t.Status == "new":
		t.Status = "open"
	}
	ans := map[string]any{"ticket": s.ticketJSON(t)}
	if added != nil {
		ans["audit"] = s.auditJSON(t, *added)
	} else {
		ans["audit"] = map[string]any{"id": s.audit(), "ticket_id": json.Number(t.ID), "events": []any{}}
	}
	if s.lose > 0 {
		s.lose--
		zendeskError(w, http.StatusInternalServerError)
	} else {
		reply(w, http.StatusOK, ans)
	}
	if added == nil {
		return nil
	}
	return s.echoOf(t, *added)
}

// author is the id of a comment's author: author_id if it names a user,
// else the calling agent. s.mu is held.
func (s *Server) author(c *commentBody, agent *user) (string, bool) {
	if c.AuthorID == nil {
		return agent.ID, true
	}
	id := c.AuthorID.String()
	_, ok := s.users[id]
	return id, ok
}

// endUser is the end user of email, created if new. s.mu is held.
func (s *Server) endUser(name, email string) *user {
	key := strings.ToLower(email)
	if a, ok := s.agents[key]; ok {
		return a
	}
	if u, ok := s.endUsers[key]; ok {
		return u
	}
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	u := s.newUser(name, email, "end-user")
	s.endUsers[key] = u
	return u
}

// audit issues an audit id. s.mu is held.
func (s *Server) audit() json.Number {
	id := json.Number(strconv.FormatUint(s.nextEvent, 10))
	s.nextEvent++
	return id
}

// echoOf is the event of an API-made comment to post, if EchoAPIComments.
// s.mu is held.
func (s *Server) echoOf(t *Ticket, c Comment) []echoed {
	if !s.echo || s.hookURL == "" {
		return nil
	}
	return []echoed{{event: s.commentEvent(t, c)}}
}

func (s *Server) userJSON(u *user) map[string]any {
	return map[string]any{"id": json.Number(u.ID), "url": s.Host.URL() + "/api/v2/users/" + u.ID + ".json",
		"name": u.Name, "email": u.Email, "role": u.Role, "active": true, "verified": true}
}

func (s *Server) ticketJSON(t *Ticket) map[string]any {
	var ext any
	if t.ExternalID != "" {
		ext = t.ExternalID
	}
	desc := ""
	if len(t.Comments) > 0 {
		desc = t.Comments[0].Body
	}
	return map[string]any{"id": json.Number(t.ID), "url": s.Host.URL() + "/api/v2/tickets/" + t.ID + ".json",
		"external_id": ext, "subject": t.Subject, "raw_subject": t.Subject, "description": desc,
		"status": t.Status, "requester_id": json.Number(t.RequesterID), "submitter_id": json.Number(t.SubmitterID),
		"assignee_id": nil, "tags": nonNil(t.Tags), "via": map[string]any{"channel": "api"},
		"created_at": stamp(t.CreatedAt), "updated_at": stamp(time.Now())}
}

func (s *Server) auditJSON(t *Ticket, c Comment) map[string]any {
	return map[string]any{"id": s.audit(), "ticket_id": json.Number(t.ID), "created_at": stamp(c.At),
		"author_id": json.Number(c.AuthorID), "via": map[string]any{"channel": "api"},
		"events": []any{map[string]any{"id": json.Number(c.ID), "type": "Comment", "author_id": json.Number(c.AuthorID),
			"body": c.Body, "plain_body": c.Body, "public": c.Public, "attachments": []any{}}}}
}

// commentEvent is the ticket event of c. s.mu is held.
func (s *Server) commentEvent(t *Ticket, c Comment) []byte {
	author := s.users[c.AuthorID]
	var ext any
	if t.ExternalID != "" {
		ext = t.ExternalID
	}
	desc := ""
	if len(t.Comments) > 0 {
		desc = t.Comments[0].Body
	}
	ev := map[string]any{
		"account_id": AccountID,
		"detail": map[string]any{"actor_id": c.AuthorID, "assignee_id": nil, "brand_id": "360000000001",
			"created_at": stamp(t.CreatedAt), "custom_status": "1", "description": desc, "external_id": ext,
			"form_id": "360000000002", "group_id": nil, "id": t.ID, "is_public": true, "organization_id": nil,
			"priority": nil, "requester_id": t.RequesterID, "status": strings.ToUpper(t.Status), "subject": t.Subject,
			"submitter_id": t.SubmitterID, "tags": nonNil(t.Tags), "type": nil, "updated_at": stamp(c.At),
			"via": map[string]any{"channel": "web_service"}},
		"event": map[string]any{"comment": map[string]any{"id": json.Number(c.ID), "body": c.Body,
			"is_public": c.Public, "author": map[string]any{"id": json.Number(c.AuthorID),
				"is_staff": author != nil && author.Role != "end-user", "name": nameOf(author)}}},
		"id":                    eventID(c.ID),
		"subject":               "zen:ticket:" + t.ID,
		"time":                  c.At.Format("2006-01-02T15:04:05.000000000Z"),
		"type":                  "zen:event-type:ticket.comment_added",
		"zendesk_event_version": "2022-11-06",
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // maps of strings, numbers and bools always marshal
	}
	return b
}

// deliver posts a signed event to the webhook: up to 3 tries while the answer
// is not 2xx, with the same invocation id, each signed when sent.
func (s *Server) deliver(hook, secret string, event []byte) {
	s.mu.Lock()
	s.invocations++
	inv := "01HZ" + strconv.FormatUint(s.invocations, 10) + "ZDFAKE"
	s.mu.Unlock()
	for attempt := 1; attempt <= 3; attempt++ {
		status := s.post(hook, secret, event, inv)
		s.mu.Lock()
		s.deliveries = append(s.deliveries, Delivery{InvocationID: inv, Attempt: attempt, Status: status, Body: event})
		s.mu.Unlock()
		if status/100 == 2 {
			return
		}
		time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
	}
}

// post makes one try; 0 for a network error.
func (s *Server) post(hook, secret string, event []byte, inv string) int {
	req, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(event))
	if err != nil {
		return 0
	}
	for k, v := range SignedHeaders(secret, event, time.Now(), inv) {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Zendesk Webhook")
	req.Header.Set("X-Zendesk-Account-Id", strconv.FormatUint(AccountID, 10))
	res, err := s.hc.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	return res.StatusCode
}

// eventID is a UUID-shaped id, the same for the same comment.
func eventID(commentID string) string {
	h := sha256.Sum256([]byte("zendeskfake comment_added " + commentID))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

func nameOf(u *user) string {
	if u == nil {
		return "Unknown user"
	}
	return u.Name
}

func nonNil(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// decodeJSON decodes a request body, numbers kept exact.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// invalid answers Zendesk's 422 RecordInvalid with one detail.
func invalid(w http.ResponseWriter, field, desc string) {
	reply(w, http.StatusUnprocessableEntity, map[string]any{"error": "RecordInvalid",
		"description": "Record validation errors", "details": map[string]any{field: []any{map[string]any{"description": desc}}}})
}

// zendeskError answers status with Zendesk's error body.
func zendeskError(w http.ResponseWriter, status int) {
	body := map[string]any{"error": http.StatusText(status)}
	switch status {
	case http.StatusUnauthorized:
		body = map[string]any{"error": "Couldn't authenticate you"}
	case http.StatusForbidden:
		body = map[string]any{"error": "Forbidden", "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."}
	case http.StatusNotFound:
		body = map[string]any{"error": "RecordNotFound", "description": "Not found"}
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
		body = map[string]any{"error": "TooManyRequests", "description": "You have exceeded the rate limit"}
	case http.StatusUnprocessableEntity:
		body = map[string]any{"error": "RecordInvalid", "description": "Record validation errors"}
	}
	reply(w, status, body)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
