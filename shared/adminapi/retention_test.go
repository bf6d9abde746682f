package adminapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/store"
)

// subjectExpiries returns the expiresAt of each item of the fixture's contact.
func subjectExpiries(t *testing.T, e *env, f fixture) map[string]int64 {
	t.Helper()
	items, err := e.store.SubjectItems(context.Background(), f.ID, f.ContactID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, it := range items {
		out[it.Ref.String()] = it.ExpiresAt
	}
	return out
}

func TestLegalHoldRoutes_HoldAndLiftTheContactsItems(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Holdco")
	before := subjectExpiries(t, e, f)
	if len(before) < 4 {
		t.Fatalf("fixture has %d items of the contact", len(before))
	}
	path := "/v1/contacts/" + f.ContactID + "/legal-hold"
	wantProblem(t, "agent may not hold", e.call(http.MethodPut, path, f.AgentKey, ""), http.StatusForbidden)

	res := e.call(http.MethodPut, path, f.OwnerKey, "")
	wantStatus(t, "hold", res, http.StatusOK)
	if b := res.json(t); b["legalHold"] != true || b["items"] != float64(len(before)) || b["changed"] != float64(len(before)) {
		t.Fatalf("hold answer %s", res.Body)
	}
	for k, exp := range subjectExpiries(t, e, f) {
		if exp != 0 {
			t.Errorf("%s keeps expiresAt under hold", k)
		}
	}
	c := e.call(http.MethodGet, "/v1/contacts/"+f.ContactID, f.OwnerKey, "")
	if c.json(t)["legalHold"] != true {
		t.Fatalf("contact does not show the hold: %s", c.Body)
	}

	res = e.call(http.MethodDelete, path, f.OwnerKey, "")
	wantStatus(t, "lift", res, http.StatusOK)
	after := subjectExpiries(t, e, f)
	for k, exp := range before {
		if after[k] != exp {
			t.Errorf("%s: expiresAt %d after lift, %d before the hold", k, after[k], exp)
		}
	}
	audit := e.call(http.MethodGet, "/v1/audit-events", f.OwnerKey, "")
	for _, act := range []string{adminapi.ActContactHold, adminapi.ActContactLift} {
		if !contains(audit.Body, act) {
			t.Errorf("no audit event %s", act)
		}
	}
	wantProblem(t, "unknown contact", e.call(http.MethodPut, "/v1/contacts/c0000000000000000000000000/legal-hold", f.OwnerKey, ""), http.StatusNotFound)
}

func TestTenantLegalHold_OperatorHoldsAndLiftsAWholeTenant(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Tenantwide")
	before := subjectExpiries(t, e, f)
	path := "/v1/tenants/" + f.ID + "/legal-hold"
	wantProblem(t, "owner may not hold a tenant", e.call(http.MethodPut, path, f.OwnerKey, ""), http.StatusForbidden)

	res := e.call(http.MethodPut, path, platformToken, "")
	wantStatus(t, "hold tenant", res, http.StatusOK)
	if b := res.json(t); b["legalHold"] != true || b["changed"].(float64) < float64(len(before)) {
		t.Fatalf("hold answer %s, want at least the contact's %d items changed", res.Body, len(before))
	}
	for k, exp := range subjectExpiries(t, e, f) {
		if exp != 0 {
			t.Errorf("%s keeps expiresAt under a tenant-wide hold", k)
		}
	}
	if tn, err := e.store.Tenant(context.Background(), f.ID); err != nil || !tn.LegalHold {
		t.Fatalf("tenant not on hold: %+v %v", tn, err)
	}

	wantStatus(t, "lift tenant", e.call(http.MethodDelete, path, platformToken, ""), http.StatusOK)
	after := subjectExpiries(t, e, f)
	for k, exp := range before {
		if after[k] == 0 || (exp != 0 && after[k] != exp) {
			t.Errorf("%s: expiresAt %d after lift, %d before the hold", k, after[k], exp)
		}
	}
	if !contains(e.call(http.MethodGet, "/v1/audit-events", f.OwnerKey, "").Body, adminapi.ActTenantHold) {
		t.Error("no audit event of the tenant hold")
	}
}

func TestConversationRoutes_ArchivedConversationStaysReadableUntilTheArchivePeriodEnds(t *testing.T) {
	now := time.Now().UTC()
	e := newEnv(t, func(d *adminapi.Deps) { d.Now = func() time.Time { return now } })
	f := e.newFixture("Archco")
	ctx := context.Background()
	wantStatus(t, "shorter archive period", e.call(http.MethodPatch, "/v1/tenant", f.OwnerKey, `{"retention":{"archiveDays":30}}`), http.StatusOK)
	// A year and a day on, TTL removes the conversation and its message, and the
	// archive function archives them.
	now = now.Add(366 * 24 * time.Hour)
	st := e.store.WithClock(func() time.Time { return now }).WithSubjectKey([]byte("subject-hash-key-for-tests-0123456789"))
	recs := e.tt.ExpireTTL(t, now)
	var convRecs []events.DynamoDBEventRecord
	for _, r := range recs {
		if pk := r.Change.Keys["PK"].String(); pk == store.ConversationPK(f.ID, f.ConvID) {
			convRecs = append(convRecs, r)
		}
	}
	if len(convRecs) < 2 {
		t.Fatalf("TTL removed %d items of the conversation, want meta and message", len(convRecs))
	}
	if res, err := archive.New(archive.Deps{Store: st, Suppressions: st, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Handle(ctx,
		events.DynamoDBEvent{Records: recs}); err != nil || len(res.BatchItemFailures) > 0 {
		t.Fatalf("archive: %v %+v", err, res)
	}
	res := e.call(http.MethodGet, "/v1/conversations/"+f.ConvID, f.AgentKey, "")
	wantStatus(t, "archived conversation", res, http.StatusOK)
	if res.json(t)["archived"] != true {
		t.Fatalf("conversation not marked archived: %s", res.Body)
	}
	msgs := e.call(http.MethodGet, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, "")
	wantStatus(t, "archived messages", msgs, http.StatusOK)
	if items := msgs.json(t)["items"].([]any); len(items) != 1 {
		t.Fatalf("archived messages: %s", msgs.Body)
	}
	// Past the archive period it is gone, even before the archive's TTL runs.
	now = now.Add(31 * 24 * time.Hour)
	wantProblem(t, "after the archive period", e.call(http.MethodGet, "/v1/conversations/"+f.ConvID, f.AgentKey, ""), http.StatusNotFound)
	if n := len(e.tt.ScanAll(t, e.tt.Archive)); n == 0 {
		t.Fatal("archive emptied; the test must show the read hides expired archive items")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
