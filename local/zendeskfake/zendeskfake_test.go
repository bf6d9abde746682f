package zendeskfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/zendeskfake"
	"github.com/livesupportbot/backend/shared/zendesk"
)

// call makes one API request as email/token and returns the status, the
// answer and its X-Idempotency-Lookup.
func call(t *testing.T, f *zendeskfake.Server, method, path, email, token, key, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL()+path, strings.NewReader(body))
	if email != "" {
		req.SetBasicAuth(email+"/token", token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw), res.Header.Get("X-Idempotency-Lookup")
}

const create = `{"ticket":{"subject":"Chat","comment":{"body":"hello","public":true},"requester":{"name":"Vi","email":"vi@example.test"},"external_id":"c1"}}`

func TestAuthAndIdempotency(t *testing.T) {
	f := zendeskfake.New(t)
	agent := f.AddAgent("sam@acme.test", "tok", "Sam")
	if code, raw, _ := call(t, f, "GET", "/api/v2/users/me.json", "sam@acme.test", "tok", "", ""); code != 200 ||
		!strings.Contains(raw, `"id":`+agent+`,`) || !strings.Contains(raw, `"role":"agent"`) {
		t.Fatalf("me: %d %s", code, raw)
	}
	if code, _, _ := call(t, f, "GET", "/api/v2/users/me.json", "sam@acme.test", "nope", "", ""); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, raw, _ := call(t, f, "GET", "/api/v2/users/me.json", "", "", "", ""); code != 200 || !strings.Contains(raw, `"id":null`) {
		t.Fatalf("anonymous: %d %s", code, raw)
	}
	if code, _, _ := call(t, f, "POST", "/api/v2/tickets.json", "", "", "", create); code != 401 {
		t.Fatalf("create without auth: %d", code)
	}

	code, first, lookup := call(t, f, "POST", "/api/v2/tickets.json", "sam@acme.test", "tok", "k1", create)
	if code != 201 || lookup != "miss" || !strings.Contains(first, `"id":5001,`) {
		t.Fatalf("create: %d %s %s", code, lookup, first)
	}
	code, again, lookup := call(t, f, "POST", "/api/v2/tickets.json", "sam@acme.test", "tok", "k1", create)
	if code != 201 || lookup != "hit" || again != first {
		t.Fatalf("replay: %d %s %s", code, lookup, again)
	}
	if code, raw, _ := call(t, f, "POST", "/api/v2/tickets.json", "sam@acme.test", "tok", "k1", strings.Replace(create, "Chat", "Other", 1)); code != 400 ||
		!strings.Contains(raw, "IdempotentRequestError") {
		t.Fatalf("reused key: %d %s", code, raw)
	}
	if tks := f.Tickets(); len(tks) != 1 || tks[0].ExternalID != "c1" || tks[0].SubmitterID != agent || tks[0].Comments[0].AuthorID != agent {
		t.Fatalf("tickets %+v", tks)
	}
	if code, raw, _ := call(t, f, "PUT", "/api/v2/tickets/5001.json", "sam@acme.test", "tok", "", `{"ticket":{"comment":{"body":"x","author_id":1}}}`); code != 422 {
		t.Fatalf("unknown author: %d %s", code, raw)
	}

	f.AcceptAnyAgent()
	if code, _, _ := call(t, f, "GET", "/api/v2/users/me.json", "any@local.test", "whatever", "", ""); code != 200 {
		t.Fatalf("any agent: %d", code)
	}
	if code, _, _ := call(t, f, "GET", "/api/v2/users/me.json", "sam@acme.test", "nope", "", ""); code != 401 {
		t.Fatalf("a known agent's wrong token with AcceptAnyAgent: %d", code)
	}
}

// hookRecorder is a webhook endpoint that verifies and parses what it gets
// with shared/zendesk, answering fail statuses first.
type hookRecorder struct {
	mu     sync.Mutex
	fail   []int
	events []*zendesk.CommentEvent
	invs   []string
	errs   []error
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	hdr := map[string]string{}
	for k := range r.Header {
		hdr[strings.ToLower(k)] = r.Header.Get(k)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.invs = append(h.invs, zendesk.InvocationID(hdr))
	if err := zendesk.Verify(hdr, body, "s3cret", time.Now()); err != nil {
		h.errs = append(h.errs, err)
		w.WriteHeader(401)
		return
	}
	if len(h.fail) > 0 {
		w.WriteHeader(h.fail[0])
		h.fail = h.fail[1:]
		return
	}
	ev, err := zendesk.ParseEvent(body)
	if err != nil {
		h.errs = append(h.errs, err)
	}
	h.events = append(h.events, ev)
}

func TestAgentCommentWebhook(t *testing.T) {
	f := zendeskfake.New(t)
	agent := f.AddAgent("sam@acme.test", "tok", "Sam Agent")
	c := &zendesk.Client{Email: "sam@acme.test", APIToken: "tok", BaseURL: f.URL()}
	tk, err := c.CreateTicket(context.Background(), zendesk.NewTicket{Subject: "Chat", Body: "hi", RequesterEmail: "vi@example.test",
		RequesterName: "Vi", ExternalID: "conv_1"}, "k")
	if err != nil {
		t.Fatal(err)
	}
	rec := &hookRecorder{fail: []int{503}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f.Webhook(srv.URL, "s3cret")

	id := f.AgentComment(tk.ID, agent, "How can I help?", true)
	if id == "" {
		t.Fatal("no comment")
	}
	rec.mu.Lock()
	if len(rec.errs) != 0 || len(rec.events) != 1 || len(rec.invs) != 2 || rec.invs[0] == "" || rec.invs[0] != rec.invs[1] {
		t.Fatalf("deliveries: errs %v, %d events, invocations %v", rec.errs, len(rec.events), rec.invs)
	}
	ev := rec.events[0]
	rec.mu.Unlock()
	if ev == nil || ev.TicketID != tk.ID || ev.CommentID != id || ev.Body != "How can I help?" || !ev.Public ||
		ev.AuthorID != agent || !ev.AuthorStaff || ev.AuthorName != "Sam Agent" || ev.ExternalID != "conv_1" ||
		ev.RequesterID != tk.RequesterID || ev.EventID == "" || ev.At.IsZero() {
		t.Fatalf("event %+v", ev)
	}
	if d := f.Deliveries(); len(d) != 2 || d[0].Status != 503 || d[1].Status != 200 || d[1].Attempt != 2 {
		t.Fatalf("deliveries %+v", d)
	}

	// The same comment's event, built again, is the same event; a requester's
	// comment is not staff's.
	var a, b map[string]any
	json.Unmarshal(f.CommentEvent(tk.ID, id), &a)
	json.Unmarshal(f.Deliveries()[1].Body, &b)
	if a["id"] != b["id"] || f.CommentEvent(tk.ID, "1") != nil {
		t.Fatalf("CommentEvent ids %v %v", a["id"], b["id"])
	}
	f.Webhook("", "")
	own := f.AgentComment(tk.ID, tk.RequesterID, "thanks", true)
	ev, err = zendesk.ParseEvent(f.CommentEvent(tk.ID, own))
	if err != nil || ev.AuthorStaff || ev.AuthorID != tk.RequesterID {
		t.Fatalf("requester's event %+v, %v", ev, err)
	}
	if f.AgentComment("404", agent, "x", true) != "" || f.AgentComment(tk.ID, "1", "x", true) != "" {
		t.Fatal("a comment on no ticket or by no user")
	}

	// SignedHeaders sign as shared/zendesk verifies.
	body := f.CommentEvent(tk.ID, own)
	at := time.Now().Add(-time.Minute)
	h := zendeskfake.SignedHeaders("s3cret", body, at, "inv-9")
	if err := zendesk.Verify(h, body, "s3cret", time.Now()); err != nil || zendesk.InvocationID(h) != "inv-9" {
		t.Fatalf("SignedHeaders: %v", err)
	}
}

func TestEchoAPIComments(t *testing.T) {
	f := zendeskfake.New(t)
	f.AcceptAnyAgent()
	rec := &hookRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f.Webhook(srv.URL, "s3cret")
	f.EchoAPIComments()
	c := &zendesk.Client{Email: "a@local.test", APIToken: "t", BaseURL: f.URL()}
	tk, err := c.CreateTicket(context.Background(), zendesk.NewTicket{Body: "transcript"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.AddComment(context.Background(), tk.ID, zendesk.Comment{Body: "more", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	f.Flush()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 2 || len(rec.errs) != 0 {
		t.Fatalf("%d events, errs %v", len(rec.events), rec.errs)
	}
	seen := map[string]bool{}
	for _, ev := range rec.events {
		seen[ev.CommentID] = true
	}
	if !seen[id] {
		t.Fatalf("no event of the API's comment %s", id)
	}
}
