package adminapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/suppression"
)

func TestPrivacyRequests_CreateProcessAndRead(t *testing.T) {
	inproc := &testaws.InProcess{}
	var bucket *testaws.Bucket
	e := newEnv(t, func(d *adminapi.Deps) {
		st := storeOf(d)
		bucket = testaws.NewBucket(t)
		exp := &jobs.Exporter{Store: st, S3: bucket.S3, Presign: bucket.Presigner(), Bucket: bucket.Name}
		er := &jobs.Eraser{Store: st, S3: bucket.S3, Bucket: bucket.Name}
		inproc.Handlers = map[string]func(context.Context, privacy.Event) error{"exp": exp.Handle, "era": er.Handle}
		d.Privacy = &privacy.Service{Store: st, Invoker: inproc, ExportFunction: "exp", EraseFunction: "era"}
	})
	ctx := context.Background()
	a, b := e.newTenant("A"), e.newTenant("B")
	contact := ids.New(ids.Contact)
	if _, err := e.store.Identify(ctx, a.ID, contact, "Ann", "ann@example.com", (&chat.Tenant{}).Periods()); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"unknown type", `{"type":"purge","subject":{"contactId":"` + contact + `"},"reason":"legal"}`, 400},
		{"no subject", `{"type":"export","subject":{},"reason":"legal"}`, 400},
		{"unknown field", `{"type":"export","subject":{"contactId":"` + contact + `"},"reason":"legal","x":1}`, 400},
		{"unknown contact", `{"type":"export","subject":{"contactId":"` + ids.New(ids.Contact) + `"},"reason":"legal"}`, 404},
	} {
		wantProblem(t, tc.name, e.call(http.MethodPost, "/v1/privacy-requests", a.OwnerKey, tc.body), tc.status)
	}
	wantProblem(t, "another tenant's contact", e.call(http.MethodPost, "/v1/privacy-requests", b.OwnerKey,
		`{"type":"erase","subject":{"contactId":"`+contact+`"},"reason":"subject_request"}`), 404)

	// Correction and opt-out through PATCH /v1/contacts/{id} show in the export.
	wantStatus(t, "correct contact", e.call(http.MethodPatch, "/v1/contacts/"+contact, a.OwnerKey,
		`{"name":"Ann Corrected","marketingOptOut":true}`), http.StatusOK)

	res := e.call(http.MethodPost, "/v1/privacy-requests", a.OwnerKey,
		`{"type":"export","subject":{"email":"Ann@Example.com"},"reason":"subject_request"}`)
	wantStatus(t, "create export", res, http.StatusAccepted)
	var created struct {
		ID, Status string
		DueAt      time.Time
	}
	json.Unmarshal([]byte(res.Body), &created)
	if !ids.Valid(ids.Request, created.ID) || created.Status != "received" || time.Until(created.DueAt) < 29*24*time.Hour {
		t.Fatalf("created %s", res.Body)
	}
	if errs := inproc.Wait(); len(errs) != 0 {
		t.Fatal(errs)
	}
	res = e.call(http.MethodGet, "/v1/privacy-requests/"+created.ID, a.OwnerKey, "")
	wantStatus(t, "get", res, 200)
	got := res.json(t)
	if got["status"] != "completed" || got["downloadUrl"] == nil || got["overdue"] != false {
		t.Fatalf("finished export: %s", res.Body)
	}
	if counts, _ := got["counts"].(map[string]any); counts["contacts"] != float64(1) {
		t.Errorf("counts %v", got["counts"])
	}
	dl, err := http.Get(got["downloadUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var doc jobs.Document
	err = json.NewDecoder(dl.Body).Decode(&doc)
	dl.Body.Close()
	if err != nil || len(doc.Contacts) != 1 || !doc.Contacts[0].MarketingOptOut || doc.Contacts[0].Name != "Ann Corrected" {
		t.Errorf("export contacts %+v (%v), want the corrected name and the opt-out", doc.Contacts, err)
	}
	wantProblem(t, "other tenant reads it", e.call(http.MethodGet, "/v1/privacy-requests/"+created.ID, b.OwnerKey, ""), 404)
	wantProblem(t, "missing", e.call(http.MethodGet, "/v1/privacy-requests/"+ids.New(ids.Request), a.OwnerKey, ""), 404)

	// Two more requests to page through.
	for range 2 {
		wantStatus(t, "create", e.call(http.MethodPost, "/v1/privacy-requests", a.OwnerKey,
			`{"type":"export","subject":{"contactId":"`+contact+`"},"reason":"legal"}`), http.StatusAccepted)
	}
	inproc.Wait()
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < 5; page++ {
		path := "/v1/privacy-requests?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		res := e.call(http.MethodGet, path, a.OwnerKey, "")
		wantStatus(t, "list", res, 200)
		var l struct {
			Items []struct {
				ID      string
				Overdue *bool
			}
			Next *string
		}
		json.Unmarshal([]byte(res.Body), &l)
		for _, it := range l.Items {
			if it.Overdue == nil || *it.Overdue {
				t.Errorf("item %s overdue flag %v", it.ID, it.Overdue)
			}
			seen[it.ID] = true
		}
		if l.Next == nil {
			break
		}
		cursor = *l.Next
	}
	if len(seen) != 3 || !seen[created.ID] {
		t.Errorf("listed %v, want 3 requests", seen)
	}
	wantProblem(t, "cursor of another tenant", e.call(http.MethodGet, "/v1/privacy-requests?cursor="+cursor, b.OwnerKey, ""), 400)
	res = e.call(http.MethodGet, "/v1/privacy-requests", b.OwnerKey, "")
	if l := res.json(t); len(l["items"].([]any)) != 0 {
		t.Errorf("tenant B sees %s", res.Body)
	}
}

// subjectKey salts the hashes of erased subjects in the tests' stores.
var subjectKey = []byte("subject key for the admin api tests")

// noPrivacyProcessing is the privacy service of the other tests: requests are
// received, and their processing is not started.
func noPrivacyProcessing(st *store.Store) *privacy.Service {
	noop := func(context.Context, privacy.Event) error { return nil }
	return &privacy.Service{Store: st, ExportFunction: "exp", EraseFunction: "era",
		Invoker: &testaws.InProcess{Handlers: map[string]func(context.Context, privacy.Event) error{"exp": noop, "era": noop}}}
}

func TestPrivacySettingsAndLift_ChooseWhatErasedIdentitiesGet(t *testing.T) {
	inproc := &testaws.InProcess{}
	e := newEnv(t, func(d *adminapi.Deps) {
		bucket := testaws.NewBucket(t)
		er := &jobs.Eraser{Store: storeOf(d), S3: bucket.S3, Bucket: bucket.Name}
		inproc.Handlers = map[string]func(context.Context, privacy.Event) error{"era": er.Handle}
		d.Privacy = &privacy.Service{Store: storeOf(d), Invoker: inproc, ExportFunction: "exp", EraseFunction: "era"}
	})
	ctx := context.Background()
	a := e.newTenant("A")
	contact := ids.New(ids.Contact)
	if _, err := e.store.Identify(ctx, a.ID, contact, "Zed", "zed@example.com", (&chat.Tenant{}).Periods()); err != nil {
		t.Fatal(err)
	}
	setting := func() string {
		res := e.call(http.MethodGet, "/v1/privacy-settings", a.OwnerKey, "")
		wantStatus(t, "get settings", res, 200)
		return res.json(t)["reingestAfterErasure"].(string)
	}
	if s := setting(); s != "refuse" {
		t.Errorf("default %q, want refuse", s)
	}
	wantProblem(t, "bad setting", e.call(http.MethodPatch, "/v1/privacy-settings", a.OwnerKey, `{"reingestAfterErasure":"merge"}`), 400)
	wantStatus(t, "erase", e.call(http.MethodPost, "/v1/privacy-requests", a.OwnerKey,
		`{"type":"erase","subject":{"contactId":"`+contact+`"},"reason":"subject_request"}`), http.StatusAccepted)
	if errs := inproc.Wait(); len(errs) != 0 {
		t.Fatal(errs)
	}
	admit := func(id suppression.Identity) (suppression.Admission, error) {
		tn, err := e.store.Tenant(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return suppression.Admit(ctx, e.store, tn, id)
	}
	if _, err := admit(suppression.Identity{ContactID: contact}); !errors.Is(err, suppression.ErrErased) {
		t.Errorf("erased visitor id: %v, want refused", err)
	}
	wantStatus(t, "choose new contacts", e.call(http.MethodPatch, "/v1/privacy-settings", a.OwnerKey, `{"reingestAfterErasure":"new_contact"}`), 200)
	if s := setting(); s != "new_contact" {
		t.Errorf("setting %q after the change", s)
	}
	if adm, err := admit(suppression.Identity{ContactID: contact, Email: "zed@example.com"}); err != nil || !adm.Fresh || adm.ContactID == contact {
		t.Errorf("new_contact: %+v %v", adm, err)
	}
	// Lifting the suppression of the email lets it through as it is; the visitor
	// id stays suppressed.
	wantStatus(t, "lift", e.call(http.MethodPost, "/v1/suppressions/lift", a.OwnerKey, `{"email":"zed@example.com"}`), http.StatusNoContent)
	wantProblem(t, "lift again", e.call(http.MethodPost, "/v1/suppressions/lift", a.OwnerKey, `{"email":"zed@example.com"}`), 404)
	fresh := ids.New(ids.Contact)
	if adm, err := admit(suppression.Identity{ContactID: fresh, Email: "zed@example.com"}); err != nil || adm.Fresh || adm.ContactID != fresh {
		t.Errorf("lifted email: %+v %v", adm, err)
	}
	if ok, _ := e.store.IsSuppressed(ctx, a.ID, "CONTACT", contact); !ok {
		t.Error("lifting the email lifted the visitor id too")
	}
	wantProblem(t, "two identities", e.call(http.MethodPost, "/v1/suppressions/lift", a.OwnerKey,
		`{"email":"zed@example.com","contactId":"`+contact+`"}`), 400)
	if _, err := e.store.Contact(ctx, a.ID, contact); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("the erased contact came back: %v", err)
	}
}

// A tenant may require the visitor's consent before usage analytics: the
// setting is read back, audited, and reaches the page view path (a page view
// without consent stores nothing).
func TestPrivacySettings_AnalyticsConsent(t *testing.T) {
	e := newEnv(t, func(d *adminapi.Deps) { d.Privacy = noPrivacyProcessing(storeOf(d)) })
	a := e.newFixture("A")
	get := func() map[string]any {
		res := e.call(http.MethodGet, "/v1/privacy-settings", a.OwnerKey, "")
		wantStatus(t, "get settings", res, 200)
		return res.json(t)
	}
	if got := get(); got["analyticsConsent"] != "not_required" || got["reingestAfterErasure"] != "refuse" {
		t.Fatalf("defaults %v", got)
	}
	wantProblem(t, "bad value", e.call(http.MethodPatch, "/v1/privacy-settings", a.OwnerKey, `{"analyticsConsent":"maybe"}`), 400)
	wantProblem(t, "nothing to change", e.call(http.MethodPatch, "/v1/privacy-settings", a.OwnerKey, `{}`), 400)
	wantProblem(t, "agent key", e.call(http.MethodPatch, "/v1/privacy-settings", a.AgentKey, `{"analyticsConsent":"required"}`), 403)
	wantStatus(t, "require consent", e.call(http.MethodPatch, "/v1/privacy-settings", a.OwnerKey, `{"analyticsConsent":"required"}`), 200)
	if got := get(); got["analyticsConsent"] != "required" || got["reingestAfterErasure"] != "refuse" {
		t.Fatalf("after requiring consent %v", got)
	}
	tn, err := e.store.Tenant(context.Background(), a.ID)
	if err != nil || !tn.ConsentRequired() {
		t.Fatalf("tenant %+v %v", tn, err)
	}
	if audit := e.auditItems(a.ID); !strings.Contains(audit, `"count.field.analyticsConsent":"1"`) {
		t.Fatalf("no audit event names the analyticsConsent change: %s", audit)
	}
}
