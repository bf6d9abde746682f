package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// TestErasure_GatherAndDeleteUnderTheLease resolves a subject by email, gathers
// what is held about it, and deletes it only while the request's lease is held.
func TestErasure_GatherAndDeleteUnderTheLease(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	tid, cid := ids.New(ids.Tenant), ids.New(ids.Contact)
	email := "Erin." + ids.Secret(4) + "@Example.com"
	_, conv, err := st.OpenConversation(ctx, tid, cid, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateContactFields(ctx, tid, cid, chat.ContactFields{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutConnection(ctx, &chat.Connection{ID: "conn1=", TenantID: tid, ContactID: cid, ConnectedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	now := st.Now()
	req := &chat.PrivacyRequest{ID: ids.New(ids.Request), TenantID: tid, Type: chat.PrivacyErase, Reason: chat.ReasonLegal,
		Subject: &chat.PrivacySubject{Email: email}, Status: chat.PrivacyReceived, ReceivedAt: now, DueAt: now.Add(chat.PrivacyDue)}
	if err := st.PutPrivacyRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimPrivacyRequest(ctx, tid, req.ID, "owner-a", time.Minute); err != nil {
		t.Fatal(err)
	}

	contacts, err := st.ResolveSubject(ctx, tid, req.Subject)
	if err != nil || !slices.Equal(contacts, []string{cid}) {
		t.Fatalf("resolve by email: %v, %v", contacts, err)
	}
	if err := st.PutPrivacyPointer(ctx, tid, cid, req.ID); err != nil {
		t.Fatal(err)
	}
	h, err := st.SubjectHoldings(ctx, tid, contacts, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.ConversationIDs, []string{conv}) || !slices.Equal(h.Connections, []string{"conn1="}) ||
		!slices.Contains(h.Emails, strings.ToLower(email)) || !slices.Equal(h.PrivacyRequests, []string{req.ID}) {
		t.Fatalf("holdings %+v", h)
	}
	profiles, err := h.Profiles(tid)
	if err != nil || len(profiles) != 1 || profiles[0].ID != cid || profiles[0].Email != email {
		t.Fatalf("profiles %+v, %v", profiles, err)
	}
	rows := h.ExportRows()
	if len(rows) < 4 {
		t.Fatalf("%d export rows", len(rows))
	}
	for _, r := range rows {
		if r.PK == "" || r.SK == "" || r.Entity == "" || r.DataClass == "" || r.ExpiresAt == nil {
			t.Errorf("row %+v lacks its place, class or expiry", r)
		}
		for _, k := range []string{"PK", "SK", "expiresAt", "dataClass", "entity", "GSI1PK"} {
			if _, ok := r.Data[k]; ok {
				t.Errorf("row data holds %s", k)
			}
		}
	}

	// Another attempt, not holding the lease, deletes nothing.
	if _, err := st.EraseHoldings(ctx, tid, req.ID, "owner-b", h); !errors.Is(err, store.ErrPrivacyLeaseLost) {
		t.Fatalf("erase without the lease: %v", err)
	}
	if _, err := st.Contact(ctx, tid, cid); err != nil {
		t.Fatalf("contact gone after a refused erase: %v", err)
	}
	added, err := st.EraseHoldings(ctx, tid, req.ID, "owner-a", h)
	if err != nil {
		t.Fatal(err)
	}
	if added["contacts"] != 1 || added["connections"] != 1 || added["conversations"] != 1 || added["dataItems"] != len(rows) {
		t.Errorf("counts %v (%d rows)", added, len(rows))
	}
	r, err := st.PrivacyRequest(ctx, tid, req.ID)
	if err != nil || r.Counts["dataItems"] != len(rows) {
		t.Errorf("request counts %v, %v", r.Counts, err)
	}
	left, err := st.SubjectHoldings(ctx, tid, contacts, false)
	if err != nil || len(left.ExportRows()) != 0 {
		t.Errorf("left after erasure: %+v, %v", left.ExportRows(), err)
	}
	if again, err := st.ResolveSubject(ctx, tid, req.Subject); err != nil || len(again) != 0 {
		t.Errorf("email still resolves: %v, %v", again, err)
	}

	// Completing writes the tombstone and the request in one go, once.
	done := st.Now()
	u := chat.PrivacyUpdate{Status: chat.PrivacyCompleted, CompletedAt: &done, SubjectErased: true, DropSubject: true, Release: true}
	tomb := chat.Tombstone{RequestID: req.ID, SubjectHashes: []string{"EMAIL#x"}, Counts: added, ReceivedAt: now, CompletedAt: done}
	if err := st.CompleteErasure(ctx, tid, req.ID, "owner-a", u, tomb); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteErasure(ctx, tid, req.ID, "owner-a", u, tomb); !errors.Is(err, store.ErrPrivacyLeaseLost) {
		t.Errorf("second completion: %v", err)
	}
	r, err = st.PrivacyRequest(ctx, tid, req.ID)
	if err != nil || r.Status != chat.PrivacyCompleted || r.Subject != nil || !r.SubjectErased || r.LeaseOwner != "" {
		t.Errorf("completed request %+v, %v", r, err)
	}
	if got, err := st.Tombstone(ctx, tid, req.ID); err != nil || !slices.Equal(got.SubjectHashes, tomb.SubjectHashes) {
		t.Errorf("tombstone %+v, %v", got, err)
	}
}
