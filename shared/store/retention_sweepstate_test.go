package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// A checkpoint's opaque position is stored as the retention index key it
// stands for (cursor.after: PK, SK, GSI2PK, GSI2SK), as before the position
// became opaque, and reads back as the same cursor, which resumes the walk
// right after that entry.
func TestSweepState_CheckpointKeepsItsStoredShapeAndResumes(t *testing.T) {
	tt := testaws.NewTables(t)
	now := t0
	st := tt.Store().WithClock(clock(&now))
	ctx := context.Background()
	tenantID := ids.New(ids.Tenant)
	for range 3 {
		now = now.Add(time.Minute)
		if err := st.PutPageView(ctx, &store.PageView{TenantID: tenantID, ContactID: ids.New(ids.Contact), Path: "/"}, retention.Defaults); err != nil {
			t.Fatal(err)
		}
	}
	first, next, err := st.RetentionPage(ctx, tenantID, retention.Usage, t0, t0, "", 1)
	if err != nil || len(first) != 1 || next == "" {
		t.Fatalf("first page %v next %q: %v", first, next, err)
	}
	state, err := st.AcquireSweep(ctx, tenantID, "run-1", now.Add(time.Hour))
	if err != nil || state == nil {
		t.Fatalf("acquire: %v %v", state, err)
	}
	state.Cursor = &chat.SweepCursor{Job: "class", Class: retention.Usage, Month: "2026-03", After: first[0].Cursor()}
	state.LeaseUntil = 0
	if ok, err := st.SaveSweep(ctx, state); err != nil || !ok {
		t.Fatalf("save: %v %v", ok, err)
	}

	raw := rawItem(t, tt, tt.Data, store.TenantPK(tenantID), store.SKSweep)
	cursor, ok := raw["cursor"].(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("cursor stored as %T, want a map", raw["cursor"])
	}
	after, ok := cursor.Value["after"].(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("cursor.after stored as %T, want a map", cursor.Value["after"])
	}
	for _, k := range []string{"PK", "SK", "GSI2PK", "GSI2SK"} {
		if v, ok := after.Value[k].(*types.AttributeValueMemberS); !ok || v.Value == "" {
			t.Errorf("cursor.after.%s = %v, want the index key's string", k, after.Value[k])
		}
	}
	if job, _ := cursor.Value["job"].(*types.AttributeValueMemberS); job == nil || job.Value != "class" {
		t.Errorf("cursor.job = %v", cursor.Value["job"])
	}

	again, err := st.AcquireSweep(ctx, tenantID, "run-2", now.Add(time.Hour))
	if err != nil || again == nil || again.Cursor == nil {
		t.Fatalf("reacquire: %+v %v", again, err)
	}
	if again.Cursor.After != first[0].Cursor() || again.Cursor.Month != "2026-03" || again.Cursor.Class != retention.Usage {
		t.Fatalf("cursor read back %+v", again.Cursor)
	}
	rest, _, err := st.RetentionPage(ctx, tenantID, retention.Usage, t0, t0, again.Cursor.After, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 2 || rest[0].Ref == first[0].Ref || rest[0].Basis.Before(first[0].Basis) {
		t.Fatalf("resumed page %d entries, want the 2 after the checkpoint", len(rest))
	}
}
