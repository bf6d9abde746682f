package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// A checkpoint's opaque position is stored as the retention index month and
// key it stands for (cursor.month, cursor.after: PK, SK, GSI2PK, GSI2SK), as
// before the position became opaque, and reads back as the same cursor, which resumes the walk
// right after that entry.
func TestSweepState_CheckpointKeepsItsStoredShapeAndResumes(t *testing.T) {
	tt := testaws.NewTables(t)
	now := t0
	st := tt.Store().WithClock(clock(&now))
	ctx := context.Background()
	tenantID := ids.New(ids.Tenant)
	for range 3 {
		now = now.Add(time.Minute)
		if err := st.PutPageView(ctx, &chat.PageView{TenantID: tenantID, ContactID: ids.New(ids.Contact), Path: "/"}, retention.Defaults); err != nil {
			t.Fatal(err)
		}
	}
	first, next, err := st.RetentionPage(ctx, tenantID, retention.Usage, t0, now, "", 1)
	if err != nil || len(first) != 1 || next == "" {
		t.Fatalf("first page %v next %q: %v", first, next, err)
	}
	state, err := st.AcquireSweep(ctx, tenantID, "run-1", now.Add(time.Hour))
	if err != nil || state == nil {
		t.Fatalf("acquire: %v %v", state, err)
	}
	state.Cursor = &chat.SweepCursor{Job: "class", Class: retention.Usage, After: first[0].Cursor()}
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
	if month, _ := cursor.Value["month"].(*types.AttributeValueMemberS); month == nil || month.Value != "2026-03" {
		t.Errorf("cursor.month = %v, want the month partition of the entry, 2026-03", cursor.Value["month"])
	}

	again, err := st.AcquireSweep(ctx, tenantID, "run-2", now.Add(time.Hour))
	if err != nil || again == nil || again.Cursor == nil {
		t.Fatalf("reacquire: %+v %v", again, err)
	}
	if again.Cursor.After != first[0].Cursor() || again.Cursor.Class != retention.Usage {
		t.Fatalf("cursor read back %+v", again.Cursor)
	}
	// The walk resumed from the checkpoint reads exactly what the whole walk
	// reads after that entry (months in order, each month shard by shard).
	walkFrom := func(after string) []store.Entry {
		var out []store.Entry
		for range 100 {
			page, next, err := st.RetentionPage(ctx, tenantID, retention.Usage, t0, now, after, 10)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page...)
			if next == "" {
				return out
			}
			after = next
		}
		t.Fatal("the walk does not end")
		return nil
	}
	all, rest := walkFrom(""), walkFrom(again.Cursor.After)
	if len(all) != 3 || all[0].Ref != first[0].Ref || len(rest) != 2 || rest[0].Ref != all[1].Ref || rest[1].Ref != all[2].Ref {
		t.Fatalf("resumed walk %d entries, want the 2 after the checkpoint of the 3", len(rest))
	}
}

// The retention index is read month partition by month partition: a walk
// from a time to another visits each month once, in time order, skips empty
// months, and never reads months before from's.
func TestRetentionPage_WalksTheMonthsInOrder(t *testing.T) {
	tt := testaws.NewTables(t)
	now := t0
	st := tt.Store().WithClock(clock(&now))
	ctx := context.Background()
	tenantID := ids.New(ids.Tenant)
	var at []time.Time
	for _, d := range []time.Time{
		time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC), // before from's month: never read
		time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 25, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), // February is empty
	} {
		now = d
		if err := st.PutPageView(ctx, &chat.PageView{TenantID: tenantID, ContactID: ids.New(ids.Contact), Path: "/"}, retention.Defaults); err != nil {
			t.Fatal(err)
		}
		at = append(at, d)
	}
	now = t0
	walk := func(from, to time.Time) []time.Time {
		t.Helper()
		var got []time.Time
		after := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("the walk does not end")
			}
			entries, next, err := st.RetentionPage(ctx, tenantID, retention.Usage, from, to, after, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 && next != "" {
				t.Fatalf("an empty page before the end (next %q)", next)
			}
			for _, e := range entries {
				got = append(got, e.Basis)
			}
			if next == "" {
				return got
			}
			after = next
		}
	}
	// Months in order; within a month, shard after shard (each in time order).
	if got := walk(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), now); len(got) != 3 ||
		!slices.ContainsFunc(got[:2], at[1].Equal) || !slices.ContainsFunc(got[:2], at[2].Equal) || !got[2].Equal(at[3]) {
		t.Fatalf("walked %v, want %v", got, at[1:])
	}
	// From the 10th of January to February: only the 25 January view.
	if got := walk(time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)); len(got) != 1 || !got[0].Equal(at[2]) {
		t.Fatalf("walked %v, want only %v", got, at[2])
	}
}
