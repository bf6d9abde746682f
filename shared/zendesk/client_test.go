package zendesk_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/zendeskfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/zendesk"
)

const (
	agentEmail = "sam.agent@acme.test"
	apiToken   = "tok-6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"
	secretText = "my card number is 4111"
)

func setup(t *testing.T) (*zendeskfake.Server, *zendesk.Client, string) {
	t.Helper()
	f := zendeskfake.New(t)
	agent := f.AddAgent(agentEmail, apiToken, "Sam Agent")
	return f, &zendesk.Client{Subdomain: "acme", Email: agentEmail, APIToken: apiToken, BaseURL: f.URL()}, agent
}

// clean fails when err names a credential, a comment's text or a URL.
func clean(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{apiToken, agentEmail, secretText, "http://", "https://"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q names %q", err, s)
		}
	}
}

var ticket = zendesk.NewTicket{Subject: "Chat with Vi", Body: "Transcript:\nVi: hello\n" + secretText,
	RequesterName: "Vi Sitor", RequesterEmail: "vi@example.test", ExternalID: "conv_01J", Tags: []string{"livesupportbot", "web"}}

func TestMe(t *testing.T) {
	f, c, agent := setup(t)
	u, err := c.Me(context.Background())
	if err != nil || u != (zendesk.User{ID: agent, Name: "Sam Agent", Role: "agent"}) {
		t.Fatalf("Me: %+v, %v", u, err)
	}
	bad := *c
	bad.APIToken = "wrong-token"
	_, err = bad.Me(context.Background())
	var se *zendesk.StatusError
	if !errors.Is(err, zendesk.ErrRefused) || !errors.As(err, &se) || se.HTTPStatus != 401 {
		t.Fatalf("Me with a wrong token: %v, want a refused 401", err)
	}
	clean(t, err)
	f.FailNext(1, http.StatusForbidden)
	if _, err := c.Me(context.Background()); !errors.Is(err, zendesk.ErrRefused) || !strings.Contains(err.Error(), "403 (Forbidden)") {
		t.Fatalf("Me answered 403: %v", err)
	}
	for _, ans := range []string{
		`{"user":{"id":null,"url":null,"name":"Anonymous user","email":"invalid@example.com","role":"end-user"}}`,
		`{"user":{"id":8447388090777,"name":"Vi","role":"end-user"}}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, ans) }))
		defer srv.Close()
		anon := zendesk.Client{Email: agentEmail, APIToken: apiToken, BaseURL: srv.URL}
		if u, err := anon.Me(context.Background()); !errors.Is(err, zendesk.ErrRefused) {
			t.Fatalf("Me of %s: %+v, %v; want ErrRefused", ans, u, err)
		}
	}
}

// TestDefaultBaseURL checks the URL and the Basic auth of a Client without a
// BaseURL.
func TestDefaultBaseURL(t *testing.T) {
	var got *http.Request
	rt := roundTrip(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"user":{"id":1,"name":"A","role":"admin"}}`)),
			Header: http.Header{}}, nil
	})
	c := zendesk.Client{Subdomain: "acme-eu", Email: agentEmail, APIToken: apiToken, HTTPClient: &http.Client{Transport: rt}}
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	user, pass, _ := got.BasicAuth()
	if got.URL.String() != "https://acme-eu.zendesk.com/api/v2/users/me.json" || user != agentEmail+"/token" || pass != apiToken {
		t.Fatalf("request %s as %q:%q", got.URL, user, pass)
	}
	for _, sub := range []string{"", "evil.com/x?", "Acme", "-acme", "acme.zendesk.com", strings.Repeat("a", 64)} {
		c.Subdomain = sub
		if _, err := c.Me(context.Background()); !errors.Is(err, zendesk.ErrRefused) || !strings.Contains(err.Error(), "subdomain") {
			t.Fatalf("subdomain %q: %v", sub, err)
		}
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCreateTicketIdempotent(t *testing.T) {
	f, c, agent := setup(t)
	ctx := context.Background()
	first, err := c.CreateTicket(ctx, ticket, "conv_01J:handoff")
	if err != nil || first.ID == "" || first.RequesterID == "" || first.RequesterID == agent || first.Status != "new" || first.Replayed {
		t.Fatalf("CreateTicket: %+v, %v", first, err)
	}
	again, err := c.CreateTicket(ctx, ticket, "conv_01J:handoff")
	if err != nil || again.ID != first.ID || again.RequesterID != first.RequesterID || !again.Replayed {
		t.Fatalf("CreateTicket again with the key: %+v, %v; want %+v replayed", again, err, first)
	}
	if n := len(f.Tickets()); n != 1 {
		t.Fatalf("%d tickets after a replay, want 1", n)
	}
	tk, _ := f.Ticket(first.ID)
	if tk.Subject != ticket.Subject || tk.ExternalID != "conv_01J" || strings.Join(tk.Tags, ",") != "livesupportbot,web" ||
		len(tk.Comments) != 1 || tk.Comments[0].Body != ticket.Body || !tk.Comments[0].Public || tk.IdempotencyKey != "conv_01J:handoff" {
		t.Fatalf("ticket %+v", tk)
	}
	if u, _ := f.User(tk.RequesterID); u.Email != "vi@example.test" || u.Name != "Vi Sitor" || u.Role != "end-user" {
		t.Fatalf("requester %+v", u)
	}

	// The same key with another ticket is refused, creating nothing.
	other := ticket
	other.Subject = "another"
	_, err = c.CreateTicket(ctx, other, "conv_01J:handoff")
	if !errors.Is(err, zendesk.ErrRefused) || !strings.Contains(err.Error(), "400 (IdempotentRequestError)") {
		t.Fatalf("CreateTicket with a reused key: %v", err)
	}
	clean(t, err)

	// A create whose answer is lost, retried with its key: one ticket.
	f.LoseNext(1)
	if _, err := c.CreateTicket(ctx, other, "conv_02:handoff"); err == nil || errors.Is(err, zendesk.ErrRefused) {
		t.Fatalf("CreateTicket with a lost answer: %v, want a transient error", err)
	}
	retried, err := c.CreateTicket(ctx, other, "conv_02:handoff")
	if err != nil || !retried.Replayed || len(f.Tickets()) != 2 {
		t.Fatalf("retry: %+v, %v, %d tickets", retried, err, len(f.Tickets()))
	}

	// Without an email the API's agent is the requester.
	anon := zendesk.NewTicket{Subject: "Chat", Body: "hello"}
	tk2, err := c.CreateTicket(ctx, anon, "")
	if err != nil || tk2.RequesterID != agent {
		t.Fatalf("CreateTicket without a requester: %+v, %v", tk2, err)
	}
	if _, err := c.CreateTicket(ctx, anon, ""); err != nil || len(f.Tickets()) != 4 {
		t.Fatalf("without a key every create is a ticket: %v, %d", err, len(f.Tickets()))
	}
}

func TestCreateTicketRefusedBeforeTheCall(t *testing.T) {
	f, c, _ := setup(t)
	for _, tc := range []struct {
		name string
		t    zendesk.NewTicket
		key  string
	}{
		{"no body", zendesk.NewTicket{Subject: "x", Body: "  "}, "k"},
		{"key too long", ticket, strings.Repeat("k", 256)},
		{"key with a newline", ticket, "k\nX-Evil: 1"},
	} {
		_, err := c.CreateTicket(context.Background(), tc.t, tc.key)
		if !errors.Is(err, zendesk.ErrRefused) {
			t.Fatalf("%s: %v, want ErrRefused", tc.name, err)
		}
		clean(t, err)
	}
	noCreds := zendesk.Client{BaseURL: f.URL()}
	if _, err := noCreds.CreateTicket(context.Background(), ticket, "k"); !errors.Is(err, zendesk.ErrRefused) {
		t.Fatalf("without credentials: %v", err)
	}
	if n := len(f.Tickets()); n != 0 {
		t.Fatalf("%d tickets", n)
	}
}

func TestAddComment(t *testing.T) {
	f, c, agent := setup(t)
	ctx := context.Background()
	tk, err := c.CreateTicket(ctx, ticket, "k1")
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.AddComment(ctx, tk.ID, zendesk.Comment{Body: "Vi: are you there?", Public: true, AuthorID: tk.RequesterID})
	if err != nil || id == "" {
		t.Fatalf("AddComment: %q, %v", id, err)
	}
	note, err := c.AddComment(ctx, tk.ID, zendesk.Comment{Body: "internal note"})
	if err != nil || note == "" || note == id {
		t.Fatalf("AddComment of a note: %q, %v", note, err)
	}
	got, _ := f.Ticket(tk.ID)
	if len(got.Comments) != 3 || got.Comments[1] != (zendeskfake.Comment{ID: id, AuthorID: tk.RequesterID, Body: "Vi: are you there?", Public: true, At: got.Comments[1].At}) ||
		got.Comments[2].AuthorID != agent || got.Comments[2].Public {
		t.Fatalf("comments %+v", got.Comments)
	}

	for _, tc := range []struct {
		name   string
		prep   func()
		ticket string
		code   string
	}{
		{"closed", func() { f.SetStatus(tk.ID, "closed") }, tk.ID, "422 (RecordInvalid)"},
		{"deleted", func() { f.DeleteTicket(tk.ID) }, tk.ID, "404 (RecordNotFound)"},
		{"unknown ticket", func() {}, "1", "404 (RecordNotFound)"},
		{"not a ticket id", func() {}, "../users/me", "not a positive integer"},
		{"empty ticket id", func() {}, "", "not a positive integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prep()
			_, err := c.AddComment(ctx, tc.ticket, zendesk.Comment{Body: secretText, Public: true})
			if !errors.Is(err, zendesk.ErrRefused) || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("AddComment: %v, want ErrRefused naming %q", err, tc.code)
			}
			clean(t, err)
		})
	}
	if _, err := c.AddComment(ctx, "5001", zendesk.Comment{Body: "x", AuthorID: "me"}); !errors.Is(err, zendesk.ErrRefused) {
		t.Fatalf("author id not an integer: %v", err)
	}
}

// TestAddCommentAnswer reads the comment id from the audit: exact above 2^53,
// "" when the answer has no Comment event.
func TestAddCommentAnswer(t *testing.T) {
	ans := `{"ticket":{"id":1},"audit":{"id":2,"events":[{"id":3,"type":"Change"},{"id":9007199254740993,"type":"Comment"}]}}`
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		io.WriteString(w, ans)
	}))
	defer srv.Close()
	c := zendesk.Client{Email: agentEmail, APIToken: apiToken, BaseURL: srv.URL + "/"}
	id, err := c.AddComment(context.Background(), "0012", zendesk.Comment{Body: "a <b> & c", Public: true, AuthorID: "9007199254740995"})
	if err != nil || id != "9007199254740993" {
		t.Fatalf("AddComment: %q, %v", id, err)
	}
	if body != `{"ticket":{"comment":{"author_id":9007199254740995,"body":"a <b> & c","public":true}}}`+"\n" {
		t.Fatalf("body %s", body)
	}
	ans = `{"ticket":{"id":1},"audit":{"events":[]}}`
	if id, err := c.AddComment(context.Background(), "12", zendesk.Comment{Body: "x"}); err != nil || id != "" {
		t.Fatalf("AddComment without a Comment event: %q, %v", id, err)
	}
	ans = `not json`
	if _, err := c.AddComment(context.Background(), "12", zendesk.Comment{Body: "x"}); err == nil || errors.Is(err, zendesk.ErrRefused) {
		t.Fatalf("AddComment of a garbled answer: %v, want transient", err)
	}
}

func TestErrors(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	tk, err := c.CreateTicket(ctx, ticket, "k1")
	if err != nil {
		t.Fatal(err)
	}
	f.FailNext(1, http.StatusTooManyRequests)
	_, err = c.AddComment(ctx, tk.ID, zendesk.Comment{Body: secretText})
	if d, ok := channel.RetryAfter(err); !ok || d != zendeskfake.RetryAfter*time.Second || errors.Is(err, zendesk.ErrRefused) {
		t.Fatalf("429: %v, want rate limited for %ds", err, zendeskfake.RetryAfter)
	}
	clean(t, err)
	for _, code := range []int{500, 503, 409} {
		f.FailNext(1, code)
		_, err := c.CreateTicket(ctx, ticket, "k2")
		var se *zendesk.StatusError
		if !errors.As(err, &se) || se.HTTPStatus != code || errors.Is(err, zendesk.ErrRefused) {
			t.Fatalf("%d: %v, want transient", code, err)
		}
		clean(t, err)
	}
	if n := len(f.Tickets()); n != 1 {
		t.Fatalf("%d tickets after failures", n)
	}

	// A network error names the host and path, no credentials.
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	down := zendesk.Client{Email: agentEmail, APIToken: apiToken, BaseURL: base}
	_, err = down.AddComment(ctx, "12", zendesk.Comment{Body: secretText})
	if err == nil || errors.Is(err, zendesk.ErrRefused) || !strings.Contains(err.Error(), strings.TrimPrefix(base, "http://")+"/api/v2/tickets/12.json") {
		t.Fatalf("network error: %v", err)
	}
	clean(t, err)

	// A timeout is transient.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond) }))
	defer slow.Close()
	timed := zendesk.Client{Email: agentEmail, APIToken: apiToken, BaseURL: slow.URL, HTTPClient: &http.Client{Timeout: 20 * time.Millisecond}}
	if _, err := timed.Me(ctx); err == nil || errors.Is(err, zendesk.ErrRefused) {
		t.Fatalf("timeout: %v", err)
	}
}
