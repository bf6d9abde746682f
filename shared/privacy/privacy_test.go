package privacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/suppression"
)

func TestErase_LeavesNoResidueOfTheSubject(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.seed(f.tenant, "alice."+strings.ToLower(ids.Secret(4))+"@example.com", 5)
	bob := f.seed(f.tenant, "bob."+strings.ToLower(ids.Secret(4))+"@example.com", 3)
	other := f.newTenant()
	aliceElsewhere := f.seed(other, alice.email, 2) // same person at another tenant

	// An earlier export leaves a file in the bucket and a request naming her.
	exp := f.request(chat.PrivacyExport, chat.ReasonSubjectRequest, chat.PrivacySubject{Email: alice.email})
	if err := f.exporter.Handle(ctx, ev(exp)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.bucket.Objects(t)); n != 1 {
		t.Fatalf("bucket has %d objects before erasure, want 1", n)
	}
	before := len(f.scanAll())

	er := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
	if err := f.eraser.Handle(ctx, ev(er)); err != nil {
		t.Fatal(err)
	}

	got := f.get(er.ID)
	if got.Status != chat.PrivacyCompleted || !got.SubjectErased || got.Subject != nil {
		t.Fatalf("request after erasure: status %s erased %v subject %+v", got.Status, got.SubjectErased, got.Subject)
	}
	// Everything about her, in both tables, is gone; what remains holds none of
	// her identifiers, her message text, or her conversation ids.
	for _, it := range f.scanAll() {
		for _, v := range append(alice.identifiers(), alice.text, alice.convs[0], alice.convs[1]) { // text covers the expired message
			if it.pk == store.ContactPK(other.ID, aliceElsewhere.contactID) || strings.Contains(it.pk, other.ID) {
				continue // the other tenant's copy of the same email is not hers to erase here
			}
			if strings.Contains(it.json, v) {
				t.Errorf("%s item %s/%s still holds %q: %s", it.table, it.pk, it.sk, v, it.json)
			}
		}
	}
	for key, body := range f.bucket.Objects(t) {
		for _, v := range alice.identifiers() {
			if strings.Contains(key, v) || strings.Contains(string(body), v) {
				t.Errorf("object %s still holds %q", key, v)
			}
		}
	}
	if n := len(f.bucket.Objects(t)); n != 0 {
		t.Errorf("bucket has %d objects after erasure, want 0 (her export file deleted)", n)
	}
	// Bob and the other tenant are untouched.
	for _, p := range []person{bob, aliceElsewhere} {
		tid := p.tenantID
		c, err := f.st.Contact(ctx, tid, p.contactID)
		if err != nil || c.Email != p.email {
			t.Errorf("contact %s after erasing someone else: %v, %+v", p.contactID, err, c)
		}
		msgs, _, err := f.st.History(ctx, tid, p.convs[1], "", 100)
		if err != nil || len(msgs) == 0 {
			t.Errorf("history of %s after erasing someone else: %d messages, %v", p.contactID, len(msgs), err)
		}
	}
	// Reads of the erased subject answer not found.
	if _, err := f.st.Contact(ctx, f.tenant.ID, alice.contactID); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("contact read after erasure: %v, want not found", err)
	}
	if _, err := f.st.Conversation(ctx, f.tenant.ID, alice.convs[1]); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("conversation read after erasure: %v, want not found", err)
	}
	// The earlier export request is scrubbed too.
	if old := f.get(exp.ID); old.Subject != nil || old.DownloadURL != "" || !old.SubjectErased {
		t.Errorf("earlier export request keeps %+v / %q", old.Subject, old.DownloadURL)
	}
	// Her live connection was closed, the channel hook called for her.
	if !slices.Equal(f.mgmt.closed, []string{alice.connection}) {
		t.Errorf("closed connections %v, want [%s]", f.mgmt.closed, alice.connection)
	}
	if calls := f.hook.Calls(); !slices.Equal(calls, []string{f.tenant.ID + "/" + alice.contactID}) {
		t.Errorf("erase hook calls %v", calls)
	}
	// The tombstone holds hashes and counts only.
	tomb, err := f.st.Tombstone(ctx, f.tenant.ID, er.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tomb.SubjectHashes) != 3 {
		t.Errorf("tombstone hashes %v, want 3 (email, contact, channel identity)", tomb.SubjectHashes)
	}
	// What changed: the erase request and its pointer came, her items went (that
	// pointer among them); 3 suppressions, the tombstone and 2 audit events
	// (start, complete) came.
	after := len(f.scanAll())
	deleted := got.Counts["dataItems"] + got.Counts["archiveItems"]
	if deleted != 22 || after != before+2-deleted+3+1+2 {
		t.Errorf("counts %v: %d items before, %d after", got.Counts, before, after)
	}
	if got.Counts["exportFiles"] != 1 || got.Counts["connections"] != 1 || got.Counts["conversations"] != 1 {
		t.Errorf("counts %v", got.Counts)
	}
}

func TestExport_HasEverythingAboutTheSubjectAndNothingElse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.seed(f.tenant, "alice."+strings.ToLower(ids.Secret(4))+"@example.com", 4)
	bob := f.seed(f.tenant, "bob."+strings.ToLower(ids.Secret(4))+"@example.com", 3)
	other := f.newTenant()
	elsewhere := f.seed(other, alice.email, 2)

	for _, subject := range []chat.PrivacySubject{{ContactID: alice.contactID}, {Email: strings.ToUpper(alice.email)}} {
		r := f.request(chat.PrivacyExport, chat.ReasonSubjectRequest, subject)
		if err := f.exporter.Handle(ctx, ev(r)); err != nil {
			t.Fatal(err)
		}
		got := f.get(r.ID)
		if got.Status != chat.PrivacyCompleted || got.DownloadURL == "" {
			t.Fatalf("export %+v: status %s url %q errors %v", subject, got.Status, got.DownloadURL, got.Errors)
		}
		if d := got.DownloadExpiresAt.Sub(*got.CompletedAt); d != jobs.DefaultLinkTTL {
			t.Errorf("link lives %v, want 7 days", d)
		}
		// The link works, and serves the document.
		res, err := http.Get(got.DownloadURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("download: %d %s", res.StatusCode, body)
		}
		var doc jobs.Document
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.SchemaVersion != jobs.SchemaVersion || doc.RequestID != r.ID {
			t.Errorf("document header %d %s", doc.SchemaVersion, doc.RequestID)
		}
		head, err := f.bucket.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.bucket.Name), Key: aws.String(jobs.ExportKey(f.tenant.ID, r.ID))})
		if err != nil || head.ServerSideEncryption == "" {
			t.Errorf("export file encryption %v: %v", head, err)
		}
		if len(doc.Contacts) != 1 || !doc.Contacts[0].MarketingOptOut || doc.Contacts[0].Email != alice.email {
			t.Errorf("contacts %+v, want hers with marketingOptOut", doc.Contacts)
		}
		// Completeness: every item the tables hold about her is in the document.
		want := map[string]bool{}
		about := []string{store.ContactPK(f.tenant.ID, alice.contactID)}
		for _, v := range alice.convs {
			about = append(about, store.ConversationPK(f.tenant.ID, v))
		}
		for _, it := range f.scanAll() {
			if slices.Contains(about, it.pk) && !strings.Contains(it.json, " expired") {
				want[it.table+" "+it.pk+" "+it.sk] = true
			}
		}
		if strings.Contains(string(body), alice.text+" expired") {
			t.Error("export holds an expired message")
		}
		gotParts := map[string]bool{}
		for _, p := range doc.Parts {
			gotParts[p.Table+" "+p.Key.PK+" "+p.Key.SK] = true
			if !p.DataClass.Valid() || p.Retention.Policy == "" || (p.Retention.ExpiresAt == nil && !p.Retention.LegalHold) {
				t.Errorf("part %s/%s lacks class or retention: %+v", p.Key.PK, p.Key.SK, p)
			}
		}
		for k := range want {
			if !gotParts[k] {
				t.Errorf("export misses %s", k)
			}
		}
		for k := range gotParts {
			if !want[k] {
				t.Errorf("export has %s, which is not about her", k)
			}
		}
		if len(want) < 15 {
			t.Errorf("only %d items about her: seed is wrong", len(want))
		}
		// Nothing of another subject or tenant.
		for _, v := range append(bob.identifiers(), bob.text, other.ID, elsewhere.contactID, elsewhere.text) {
			if strings.Contains(string(body), v) {
				t.Errorf("export holds %q of someone else", v)
			}
		}
		if !strings.Contains(string(body), alice.text) || !strings.Contains(string(body), alice.text+" archived") {
			t.Errorf("export lacks her messages, live or archived")
		}
	}
}

func TestProcess_TwiceOrConcurrentlyGivesOneResult(t *testing.T) {
	for _, tc := range []struct {
		name       string
		typ        string
		concurrent bool
	}{
		{"export twice", chat.PrivacyExport, false},
		{"export at once", chat.PrivacyExport, true},
		{"erase twice", chat.PrivacyErase, false},
		{"erase at once", chat.PrivacyErase, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 6)
			r := f.request(tc.typ, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
			handle := f.exporter.Handle
			if tc.typ == chat.PrivacyErase {
				handle = f.eraser.Handle
			}
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i := range errs {
				if tc.concurrent {
					wg.Add(1)
					go func() { defer wg.Done(); errs[i] = handle(ctx, ev(r)) }()
				} else {
					errs[i] = handle(ctx, ev(r))
				}
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("handle: %v", err)
				}
			}
			got := f.get(r.ID)
			if got.Status != chat.PrivacyCompleted || got.Attempts < 1 {
				t.Fatalf("status %s attempts %d errors %v", got.Status, got.Attempts, got.Errors)
			}
			events, _, err := f.st.AuditEvents(ctx, f.tenant.ID, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			completes := 0
			for _, e := range events {
				if e.Action == "privacy."+tc.typ+".complete" {
					completes++
				}
			}
			if completes != 1 {
				t.Errorf("%d completion events, want 1", completes)
			}
			if tc.typ == chat.PrivacyExport {
				if n := len(f.bucket.Objects(t)); n != 1 {
					t.Errorf("%d export files, want 1", n)
				}
				if got.Counts["items"] < 15 {
					t.Errorf("counts %v", got.Counts)
				}
				return
			}
			// Erase: 6 messages + 6 markers + an expired message + meta in Data,
			// 1 meta + 2 messages in Archive conversations, profile + connection +
			// identity + pointer + request pointer in Data, pointer in Archive.
			if got.Counts["dataItems"] != 19 || got.Counts["archiveItems"] != 4 {
				t.Errorf("counts %v, want dataItems 19 archiveItems 4", got.Counts)
			}
			if n := len(f.hook.Calls()); n != 1 {
				t.Errorf("hook called %d times, want 1", n)
			}
			if _, err := f.st.Tombstone(ctx, f.tenant.ID, r.ID); err != nil {
				t.Errorf("tombstone: %v", err)
			}
		})
	}
}

func TestErase_RetryAfterAFailedStepCompletesWithFullCounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 6)
	f.hook.fail = 1
	r := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, chat.PrivacySubject{Email: alice.email})
	if err := f.eraser.Handle(ctx, ev(r)); err == nil {
		t.Fatal("first attempt succeeded with a failing hook")
	}
	mid := f.get(r.ID)
	if mid.Status != chat.PrivacyProcessing || len(mid.Errors) != 1 || !strings.Contains(mid.Errors[0], "channel erase hook") {
		t.Fatalf("after failed attempt: %s %v", mid.Status, mid.Errors)
	}
	for _, e := range mid.Errors {
		if strings.Contains(e, alice.email) || strings.Contains(e, alice.contactID) {
			t.Errorf("error %q names the subject", e)
		}
	}
	if err := f.eraser.Handle(ctx, ev(r)); err != nil {
		t.Fatal(err)
	}
	got := f.get(r.ID)
	if got.Status != chat.PrivacyCompleted || got.Counts["dataItems"] != 19 || got.Counts["archiveItems"] != 4 || got.Attempts != 2 {
		t.Errorf("after retry: %s counts %v attempts %d", got.Status, got.Counts, got.Attempts)
	}
}

func TestErase_FailsAfterTheLastAttempt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 1)
	f.hook.fail = 10
	r := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
	for range jobs.DefaultMaxAttempts {
		if err := f.eraser.Handle(ctx, ev(r)); err == nil {
			t.Fatal("attempt succeeded with a failing hook")
		}
	}
	got := f.get(r.ID)
	if got.Status != chat.PrivacyFailed || len(got.Errors) != jobs.DefaultMaxAttempts || got.StatusReason == "" {
		t.Errorf("status %s reason %q errors %v", got.Status, got.StatusReason, got.Errors)
	}
	if err := f.eraser.Handle(ctx, ev(r)); err != nil {
		t.Errorf("a failed request is finished: %v", err)
	}
}

func TestErase_LegalHoldBlocks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hold   func(f *fixture, p person)
		reason string
	}{
		{"contact on hold", func(f *fixture, p person) {
			if _, err := f.st.SetContactHold(context.Background(), f.tenant.ID, p.contactID, true); err != nil {
				f.t.Fatal(err)
			}
		}, "legal hold on the contact"},
		{"tenant on hold", func(f *fixture, p person) {
			f.tenant.LegalHold = true
			f.put(f.tt.Data, map[string]any{"PK": store.TenantPK(f.tenant.ID), "SK": store.SKProfile, "ID": f.tenant.ID,
				"Status": "active", "LegalHold": true, "entity": "tenant", "dataClass": "personal"})
		}, "legal hold on the tenant account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 2)
			tc.hold(f, alice)
			before := len(f.scanAll())
			r := f.request(chat.PrivacyErase, chat.ReasonChildUnder13, chat.PrivacySubject{ContactID: alice.contactID})
			if err := f.eraser.Handle(ctx, ev(r)); err != nil {
				t.Fatal(err)
			}
			got := f.get(r.ID)
			if got.Status != chat.PrivacyBlocked || got.StatusReason != tc.reason {
				t.Errorf("status %s reason %q, want blocked %q", got.Status, got.StatusReason, tc.reason)
			}
			if _, err := f.st.Contact(ctx, f.tenant.ID, alice.contactID); err != nil {
				t.Errorf("held contact: %v", err)
			}
			if ok, _ := f.st.IsSuppressed(ctx, f.tenant.ID, chat.SuppressEmail, alice.email); ok {
				t.Error("held subject suppressed")
			}
			if len(f.hook.Calls()) != 0 || len(f.mgmt.closed) != 0 {
				t.Error("held subject's channel copies or connections touched")
			}
			// Only the request pointer and audit events were added.
			if after := len(f.scanAll()); after < before {
				t.Errorf("items %d -> %d: something was deleted", before, after)
			}
		})
	}
}

func TestAdmit_ReingestAfterErasure(t *testing.T) {
	for _, tc := range []struct {
		setting string
		refused bool
	}{{"", true}, {suppression.ReingestRefuse, true}, {suppression.ReingestNewContact, false}} {
		t.Run("setting="+tc.setting, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			f.tenant.ReingestAfterErasure = tc.setting
			alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 3)
			r := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
			if err := f.eraser.Handle(ctx, ev(r)); err != nil {
				t.Fatal(err)
			}
			for _, id := range []suppression.Identity{
				{ContactID: alice.contactID},
				{ContactID: ids.New(ids.Contact), Email: strings.ToUpper(alice.email)},
				{ContactID: ids.New(ids.Contact), Channel: "slack", ExternalID: alice.channelID},
			} {
				adm, err := suppression.Admit(ctx, f.st, f.tenant, id)
				if tc.refused {
					if chat.ErrorCode(err) != chat.EForbidden {
						t.Errorf("admit %+v: %v, want refused", id, err)
					}
					if _, err := f.st.Contact(ctx, f.tenant.ID, alice.contactID); !errors.Is(err, chat.ErrNotFound) {
						t.Errorf("erased contact re-created: %v", err)
					}
					continue
				}
				if err != nil || !adm.Fresh || adm.ContactID == alice.contactID || adm.ContactID == "" {
					t.Fatalf("admit %+v: %+v %v, want a fresh contact", id, adm, err)
				}
				// The new contact starts empty: none of the old data comes back.
				c, cvID, err := f.st.OpenConversation(ctx, f.tenant.ID, adm.ContactID, chat.ChannelWidget, f.tenant.Periods())
				if err != nil {
					t.Fatal(err)
				}
				msgs, _, _ := f.st.History(ctx, f.tenant.ID, cvID, "", 100)
				if c.Name != "" || c.Email != "" || len(msgs) != 0 || cvID == alice.convs[1] {
					t.Errorf("new contact linked to old data: %+v, %d messages", c, len(msgs))
				}
			}
			// A never-erased identity is admitted as it is.
			fresh := ids.New(ids.Contact)
			adm, err := suppression.Admit(ctx, f.st, f.tenant, suppression.Identity{ContactID: fresh, Email: "new@example.com"})
			if err != nil || adm.Fresh || adm.ContactID != fresh {
				t.Errorf("unrelated identity: %+v %v", adm, err)
			}
		})
	}
}

func TestService_CreateValidatesAndProcessesAtOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 2)
	actor := privacy.Actor{KeyID: "k1", Role: "owner"}
	bad := []privacy.CreateInput{
		{Type: "delete", Reason: chat.ReasonSubjectRequest, Subject: chat.PrivacySubject{ContactID: alice.contactID}},
		{Type: "erase", Reason: "because", Subject: chat.PrivacySubject{ContactID: alice.contactID}},
		{Type: "erase", Reason: chat.ReasonLegal},
		{Type: "erase", Reason: chat.ReasonLegal, Subject: chat.PrivacySubject{ContactID: alice.contactID, Email: alice.email}},
		{Type: "export", Reason: chat.ReasonLegal, Subject: chat.PrivacySubject{Email: "not an email"}},
		{Type: "export", Reason: chat.ReasonLegal, Subject: chat.PrivacySubject{ContactID: "c#x"}},
	}
	for _, in := range bad {
		if _, err := f.svc.Create(ctx, f.tenant, actor, in); chat.ErrorCode(err) != chat.EInvalid {
			t.Errorf("create %+v: %v, want invalid", in, err)
		}
	}
	other := f.newTenant()
	if _, err := f.svc.Create(ctx, other, actor, privacy.CreateInput{Type: "erase", Reason: chat.ReasonLegal,
		Subject: chat.PrivacySubject{ContactID: alice.contactID}}); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("foreign contact: %v, want not found", err)
	}
	if list, _, _ := f.st.PrivacyRequests(ctx, f.tenant.ID, "", 10); len(list) != 0 {
		t.Fatalf("bad input stored %d requests", len(list))
	}

	// A child's data is erased at once: the request is processed as it is created.
	r, err := f.svc.Create(ctx, f.tenant, actor, privacy.CreateInput{Type: "erase", Reason: chat.ReasonChildUnder13,
		Subject: chat.PrivacySubject{ContactID: alice.contactID}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != chat.PrivacyReceived || r.DueAt.Sub(r.ReceivedAt) != 30*24*time.Hour {
		t.Errorf("created %s due %v", r.Status, r.DueAt.Sub(r.ReceivedAt))
	}
	if errs := f.inproc.Wait(); len(errs) != 0 {
		t.Fatal(errs)
	}
	got, err := f.svc.Get(ctx, f.tenant, actor, r.ID)
	if err != nil || got.Status != chat.PrivacyCompleted {
		t.Fatalf("child erasure: %+v %v", got, err)
	}
	if _, err := f.svc.Get(ctx, other, actor, r.ID); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("foreign tenant reads request: %v", err)
	}
	// Every step is audited, with ids only.
	events, _, _ := f.st.AuditEvents(ctx, f.tenant.ID, 100, "")
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), alice.contactID) || strings.Contains(string(b), alice.email) {
			t.Errorf("audit event %s holds personal data", b)
		}
	}
	for _, a := range []string{"privacy.erase.receive", "privacy.erase.start", "privacy.erase.complete", "privacy.request.read"} {
		if !slices.Contains(actions, a) {
			t.Errorf("audit trail %v lacks %s", actions, a)
		}
	}
}

func TestService_CreateMarksFailedWhenTheFunctionCannotStart(t *testing.T) {
	f := newFixture(t)
	f.svc.EraseFunction = "missing-fn"
	alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 1)
	_, err := f.svc.Create(context.Background(), f.tenant, privacy.Actor{KeyID: "k"}, privacy.CreateInput{
		Type: "erase", Reason: chat.ReasonSubjectRequest, Subject: chat.PrivacySubject{ContactID: alice.contactID}})
	if err == nil || chat.ErrorCode(err) != chat.EInternal {
		t.Fatalf("create: %v, want an internal error", err)
	}
	list, _, _ := f.st.PrivacyRequests(context.Background(), f.tenant.ID, "", 10)
	if len(list) != 1 || list[0].Status != chat.PrivacyFailed {
		t.Fatalf("requests %+v", list)
	}
}

func TestList_FlagsOverdueRequests(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 1)
	open := f.request(chat.PrivacyExport, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
	done := f.request(chat.PrivacyExport, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
	if err := f.exporter.Handle(ctx, ev(done)); err != nil {
		t.Fatal(err)
	}
	later := f.st.WithClock(func() time.Time { return time.Now().Add(31 * 24 * time.Hour) })
	page1, next, err := later.PrivacyRequests(ctx, f.tenant.ID, "", 1)
	if err != nil || len(page1) != 1 || next == "" {
		t.Fatalf("page 1: %d items, next %q, %v", len(page1), next, err)
	}
	page2, _, err := later.PrivacyRequests(ctx, f.tenant.ID, next, 1)
	if err != nil || len(page2) != 1 {
		t.Fatalf("page 2: %v %v", page2, err)
	}
	overdue := map[string]bool{page1[0].ID: page1[0].Overdue, page2[0].ID: page2[0].Overdue}
	if !overdue[open.ID] || overdue[done.ID] {
		t.Errorf("overdue flags %v: want %s overdue, %s not", overdue, open.ID, done.ID)
	}
	if now, _, _ := f.st.PrivacyRequests(ctx, f.tenant.ID, "", 10); now[0].Overdue || now[1].Overdue {
		t.Error("fresh requests flagged overdue")
	}
}

var _ = errors.New

func TestErase_ByEmailCoversEveryContactWithIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	email := "twice." + strings.ToLower(ids.Secret(4)) + "@example.com"
	first, second := f.seed(f.tenant, email, 2), f.seed(f.tenant, strings.ToUpper(email), 2)
	r := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, chat.PrivacySubject{Email: email})
	if err := f.eraser.Handle(ctx, ev(r)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []person{first, second} {
		if _, err := f.st.Contact(ctx, f.tenant.ID, p.contactID); !errors.Is(err, chat.ErrNotFound) {
			t.Errorf("contact %s: %v, want erased", p.contactID, err)
		}
		if ok, err := f.st.IsSuppressed(ctx, f.tenant.ID, chat.SuppressContact, p.contactID); !ok || err != nil {
			t.Errorf("contact %s not suppressed: %v", p.contactID, err)
		}
	}
	if got := f.get(r.ID); got.Counts["contacts"] != 2 || got.Counts["conversations"] != 2 {
		t.Errorf("counts %v", got.Counts)
	}
	if n := len(f.hook.Calls()); n != 2 {
		t.Errorf("hook called %d times, want once per contact", n)
	}
}

// racingStore erases the subject while an export runs, just before (or just
// after) its file is written: the export in flight must not leave its file or a
// link behind.
type racingStore struct {
	jobs.ObjectStore
	erase  func()
	before bool
}

func (r *racingStore) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if r.before {
		r.erase()
	}
	out, err := r.ObjectStore.PutObject(ctx, in, o...)
	if !r.before {
		r.erase()
	}
	return out, err
}

func TestExport_ErasedWhileRunningLeavesNothing(t *testing.T) {
	for _, before := range []bool{true, false} {
		t.Run(map[bool]string{true: "erased before the file is written", false: "erased after"}[before], func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 2)
			exp := f.request(chat.PrivacyExport, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
			er := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
			f.exporter.S3 = &racingStore{ObjectStore: f.bucket.S3, before: before, erase: func() {
				if err := f.eraser.Handle(ctx, ev(er)); err != nil {
					t.Errorf("erase: %v", err)
				}
			}}
			if err := f.exporter.Handle(ctx, ev(exp)); err != nil {
				t.Fatal(err)
			}
			if objs := f.bucket.Objects(t); len(objs) != 0 {
				t.Errorf("bucket keeps %d objects after the erasure", len(objs))
			}
			got := f.get(exp.ID)
			if got.Status != chat.PrivacyFailed || got.DownloadURL != "" || got.Subject != nil || !got.SubjectErased {
				t.Errorf("export request after the erasure: %s %q %+v", got.Status, got.DownloadURL, got.Subject)
			}
			if e := f.get(er.ID); e.Status != chat.PrivacyCompleted {
				t.Errorf("erasure %s %v", e.Status, e.Errors)
			}
		})
	}
}

// linkSigner is a fake privacy.LinkSigner that records what it signs.
type linkSigner struct{ bucket, key string }

func (l *linkSigner) SignGet(_ context.Context, bucket, key string, ttl time.Duration) (string, error) {
	l.bucket, l.key = bucket, key
	return "https://signed.example/" + key + "?ttl=" + ttl.Round(time.Hour).String(), nil
}

func TestService_GetSignsAFreshLinkUntilTheFileExpires(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.seed(f.tenant, "fresh."+strings.ToLower(ids.Secret(4))+"@example.com", 1)
	r := f.request(chat.PrivacyExport, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
	if err := f.exporter.Handle(ctx, ev(r)); err != nil {
		t.Fatal(err)
	}
	signer := &linkSigner{}
	f.svc.Presign, f.svc.Bucket = signer, "exports"
	got, err := f.svc.Get(ctx, f.tenant, privacy.Actor{KeyID: "k"}, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	key := jobs.ExportKey(f.tenant.ID, r.ID)
	if signer.bucket != "exports" || signer.key != key || got.DownloadURL != "https://signed.example/"+key+"?ttl=168h0m0s" {
		t.Errorf("fresh link %q (signed %s/%s)", got.DownloadURL, signer.bucket, signer.key)
	}
	// A request without a finished export gets no link.
	signer.key = ""
	er := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: alice.contactID})
	if got, err := f.svc.Get(ctx, f.tenant, privacy.Actor{KeyID: "k"}, er.ID); err != nil || got.DownloadURL != "" || signer.key != "" {
		t.Errorf("request without export: link %q, signed %q, %v", got.DownloadURL, signer.key, err)
	}
}
