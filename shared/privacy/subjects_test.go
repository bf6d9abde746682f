package privacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
)

const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"

// browse records what the widget records of a visitor who never chats: page
// views, a device, a live connection. No contact profile exists.
func (f *fixture) browse(tenant *chat.Tenant, visitor string, pages ...string) {
	f.t.Helper()
	ctx := context.Background()
	for _, p := range pages {
		if _, err := usage.RecordPageView(ctx, f.st, tenant, visitor, usage.PageViewFrame{Path: p, TimeOnPageMs: 1200},
			usage.Client{SourceIP: "198.51.100.23", UserAgent: firefox}); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.st.PutConnection(ctx, &chat.Connection{ID: "conn-" + visitor + "=", TenantID: tenant.ID, ContactID: visitor,
		ConnectedAt: time.Now().UTC()}); err != nil {
		f.t.Fatal(err)
	}
}

// create submits a request through the service, as the admin API does, and
// waits for its processing.
func (f *fixture) create(typ string, subject chat.PrivacySubject) (*chat.PrivacyRequest, error) {
	f.t.Helper()
	r, err := f.svc.Create(context.Background(), f.tenant, privacy.Actor{KeyID: "k1", Role: "admin"},
		privacy.CreateInput{Type: typ, Reason: chat.ReasonSubjectRequest, Subject: subject})
	if errs := f.inproc.Wait(); len(errs) > 0 {
		f.t.Fatalf("processing: %v", errs)
	}
	if err != nil {
		return nil, err
	}
	return f.get(r.ID), nil
}

// exported reads the export file of a completed request.
func (f *fixture) exported(r *chat.PrivacyRequest) jobs.Document {
	f.t.Helper()
	var doc jobs.Document
	body, ok := f.bucket.Objects(f.t)[jobs.ExportKey(r.TenantID, r.ID)]
	if !ok || r.Status != chat.PrivacyCompleted {
		f.t.Fatalf("request %s: status %s, file found %v", r.ID, r.Status, ok)
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		f.t.Fatal(err)
	}
	return doc
}

func entities(doc jobs.Document) map[string]int {
	out := map[string]int{}
	for _, p := range doc.Parts {
		out[p.Entity]++
	}
	return out
}

// A visitor who only browsed has usage and technical data under their visitor
// id and no contact profile: a request by visitor id exports it and erases
// it, and a scan of both tables and the bucket finds nothing of them after.
func TestBrowseOnlyVisitor_ExportAndEraseByVisitorID(t *testing.T) {
	f := newFixture(t)
	visitor, neighbour := ids.New(ids.Contact), ids.New(ids.Contact)
	f.browse(f.tenant, visitor, "/pricing", "/docs/setup")
	f.browse(f.tenant, neighbour, "/")
	other := f.newTenant()
	f.browse(other, visitor, "/elsewhere") // the same id at another tenant is not this tenant's to touch

	exp, err := f.create(chat.PrivacyExport, chat.PrivacySubject{VisitorID: visitor})
	if err != nil {
		t.Fatalf("export by visitor id: %v", err)
	}
	doc := f.exported(exp)
	if got := entities(doc); got["pageView"] != 2 || got["device"] != 1 || got["connection"] != 1 || got["privacyRequestPointer"] != 1 || len(got) != 4 {
		t.Fatalf("export parts %v, want 2 page views, a device, a connection and the request's pointer", got)
	}
	if doc.Subject.VisitorID != visitor || len(doc.Contacts) != 0 {
		t.Fatalf("export subject %+v contacts %+v", doc.Subject, doc.Contacts)
	}
	for _, p := range doc.Parts {
		if p.Data["path"] == "/elsewhere" {
			t.Fatal("the export holds the other tenant's page view")
		}
	}

	// Its contact id is the same id: a request by contact id finds the same
	// data (before, it answered 404: no contact profile).
	byContact, err := f.create(chat.PrivacyExport, chat.PrivacySubject{ContactID: visitor})
	if err != nil {
		t.Fatalf("export by contact id: %v", err)
	}
	if got := entities(f.exported(byContact)); got["pageView"] != 2 || got["device"] != 1 {
		t.Fatalf("export by contact id: %v", got)
	}

	er, err := f.create(chat.PrivacyErase, chat.PrivacySubject{VisitorID: visitor})
	if err != nil {
		t.Fatalf("erase by visitor id: %v", err)
	}
	if er.Status != chat.PrivacyCompleted || er.Counts["dataItems"] != 7 {
		t.Fatalf("erasure: status %s counts %v", er.Status, er.Counts)
	}
	for _, it := range f.scanAll() {
		if strings.Contains(it.json, visitor) && !strings.Contains(it.pk, other.ID) {
			t.Errorf("%s item %s/%s still names the visitor: %s", it.table, it.pk, it.sk, it.json)
		}
	}
	for key, body := range f.bucket.Objects(t) {
		if strings.Contains(string(body), visitor) {
			t.Errorf("bucket object %s still names the visitor", key)
		}
	}
	ctx := context.Background()
	if views, _ := f.st.PageViews(ctx, f.tenant.ID, neighbour); len(views) != 1 {
		t.Fatalf("the neighbour's page views: %d, want 1", len(views))
	}
	if views, _ := f.st.PageViews(ctx, other.ID, visitor); len(views) != 1 {
		t.Fatalf("the other tenant's page views: %d, want 1", len(views))
	}
	// The erased visitor id is suppressed: a second request finds nothing to
	// act on, and the ingest paths refuse it.
	if ok, _ := f.st.IsSuppressed(ctx, f.tenant.ID, chat.SuppressContact, visitor); !ok {
		t.Fatal("the erased visitor id is not suppressed")
	}
	if _, err := f.create(chat.PrivacyExport, chat.PrivacySubject{VisitorID: visitor}); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("export of the erased visitor: %v, want not found", err)
	}
}

// Requests name their subject by exactly one identifier, of a person the
// tenant holds data about: unknown, foreign and malformed subjects change
// nothing.
func TestCreate_SubjectsAreCheckedBeforeAnythingIsWritten(t *testing.T) {
	f := newFixture(t)
	other := f.newTenant()
	foreign := ids.New(ids.Contact)
	f.browse(other, foreign, "/")
	before := len(f.scanAll())
	for _, c := range []struct {
		name    string
		subject chat.PrivacySubject
		code    string
	}{
		{"unknown visitor", chat.PrivacySubject{VisitorID: ids.New(ids.Contact)}, chat.ENotFound},
		{"another tenant's visitor", chat.PrivacySubject{VisitorID: foreign}, chat.ENotFound},
		{"unknown channel user", chat.PrivacySubject{Channel: "telegram", ExternalID: "bot1:42"}, chat.ENotFound},
		{"unknown slack member", chat.PrivacySubject{Channel: chat.ChannelSlack, ExternalID: "T1:U1"}, chat.ENotFound},
		{"two identifiers", chat.PrivacySubject{VisitorID: foreign, Email: "a@example.com"}, chat.EInvalid},
		{"none", chat.PrivacySubject{}, chat.EInvalid},
		{"channel without user", chat.PrivacySubject{Channel: "telegram", ExternalID: "bot1"}, chat.EInvalid},
		{"external id without channel", chat.PrivacySubject{ExternalID: "bot1:42"}, chat.EInvalid},
		{"bad visitor id", chat.PrivacySubject{VisitorID: "T#x#CONTACT"}, chat.EInvalid},
	} {
		_, err := f.create(chat.PrivacyExport, c.subject)
		if chat.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if after := len(f.scanAll()); after != before {
		t.Fatalf("refused requests wrote %d items", after-before)
	}
}

// A messaging channel's user is found by their channel identity, and a Slack
// member (an agent who replied from Slack) by theirs: each request exports
// and erases what is kept about that person, and nothing of anyone else.
func TestChannelIdentities_ExportAndErase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	contact := ids.New(ids.Contact)
	u, err := f.st.TouchChannelUser(ctx, f.tenant.ID, &chat.ChannelUser{Channel: "telegram", Account: "bot1", UserID: "4242",
		DisplayName: "Tg User", ContactID: contact}, time.Now(), f.tenant.Periods())
	if err != nil || u.ContactID != contact {
		t.Fatalf("channel user %+v %v", u, err)
	}
	f.browse(f.tenant, contact, "/help")
	for _, m := range []chat.SlackMember{{TeamID: "T1", UserID: "U1", DisplayName: "Agent One"}, {TeamID: "T1", UserID: "U2", DisplayName: "Agent Two"}} {
		if err := f.st.PutSlackMember(ctx, f.tenant.ID, &m, time.Now(), f.tenant.Periods()); err != nil {
			t.Fatal(err)
		}
	}

	exp, err := f.create(chat.PrivacyExport, chat.PrivacySubject{Channel: "telegram", ExternalID: "bot1:4242"})
	if err != nil {
		t.Fatal(err)
	}
	if got := entities(f.exported(exp)); got["channelUser"] != 1 || got["contactChannelUser"] != 1 || got["pageView"] != 1 {
		t.Fatalf("export of the telegram user: %v", got)
	}
	exp, err = f.create(chat.PrivacyExport, chat.PrivacySubject{Channel: chat.ChannelSlack, ExternalID: "T1:U1"})
	if err != nil {
		t.Fatal(err)
	}
	doc := f.exported(exp)
	if got := entities(doc); got["slackMember"] != 1 || got["privacyRequestPointer"] != 1 || len(got) != 2 || !strings.Contains(mustJSON(t, doc.Parts), "Agent One") {
		t.Fatalf("export of the slack member: %v", got)
	}

	for _, s := range []chat.PrivacySubject{{Channel: "telegram", ExternalID: "bot1:4242"}, {Channel: chat.ChannelSlack, ExternalID: "T1:U1"}} {
		if r, err := f.create(chat.PrivacyErase, s); err != nil || r.Status != chat.PrivacyCompleted {
			t.Fatalf("erase %+v: %+v %v", s, r, err)
		}
	}
	for _, it := range f.scanAll() {
		for _, v := range []string{contact, "4242", "Tg User", "Agent One", "MEMBER#T1#U1"} {
			if strings.Contains(it.json, v) {
				t.Errorf("%s item %s/%s still holds %q", it.table, it.pk, it.sk, v)
			}
		}
	}
	if ok, err := f.st.SubjectKnown(ctx, f.tenant.ID, &chat.PrivacySubject{Channel: chat.ChannelSlack, ExternalID: "T1:U2"}); !ok || err != nil {
		t.Fatalf("the other slack member is gone: %v %v", ok, err)
	}
	for key, body := range f.bucket.Objects(t) {
		if strings.Contains(string(body), "Agent One") || strings.Contains(string(body), contact) {
			t.Errorf("bucket object %s still holds an erased subject", key)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// interleaved is the store of an erasure during which the subject's widget
// connects and reports a page view, after the erasure gathered what to delete
// and before it suppressed the subject: an ingest that passed the erasure
// gate just before it closed.
type interleaved struct {
	jobs.EraseStore
	once    sync.Once
	between func()
}

func (s *interleaved) SubjectHoldings(ctx context.Context, tenantID string, contactIDs []string, live bool) (*store.Holdings, error) {
	h, err := s.EraseStore.SubjectHoldings(ctx, tenantID, contactIDs, live)
	s.once.Do(s.between)
	return h, err
}

// What a visitor's widget writes while their erasure runs, after the gate let
// it in, is erased with the rest: the erasure gathers again once the subject
// is suppressed.
func TestErase_WhatArrivesDuringTheErasureIsErasedToo(t *testing.T) {
	f := newFixture(t)
	visitor := ids.New(ids.Contact)
	f.browse(f.tenant, visitor, "/a")
	f.eraser.Store = &interleaved{EraseStore: f.st, between: func() {
		f.browse(f.tenant, visitor, "/b")
		if err := f.st.PutConnection(context.Background(), &chat.Connection{ID: "late=", TenantID: f.tenant.ID,
			ContactID: visitor, ConnectedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}}
	if r, err := f.create(chat.PrivacyErase, chat.PrivacySubject{VisitorID: visitor}); err != nil || r.Status != chat.PrivacyCompleted {
		t.Fatalf("erase: %+v %v", r, err)
	}
	for _, it := range f.scanAll() {
		if strings.Contains(it.json, visitor) {
			t.Errorf("%s item %s/%s written during the erasure survived it", it.table, it.pk, it.sk)
		}
	}
	if got := f.mgmt.closed; !slices.Contains(got, "late=") {
		t.Errorf("connections closed %v, want the late one too", got)
	}
}
