package sweep_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/sweep"
)

// TestSweepFaults_ReRunsAfterFaultsLeaveExactlyTheShortenedItems shortens a
// tenant's periods and runs the daily sweep while its DynamoDB calls are
// throttled or time out (a tenth of every call, or a quarter of the writes;
// half of them after DynamoDB applied the call): runs
// fail part-way, leave checkpoints, or leave their lease held (a later run
// waits for it to lapse). Then the faults stop and the sweep runs until it has
// nothing left to do. Counting items: every affected item is re-stamped or
// deleted exactly as one clean run would, nothing else is deleted or changed
// (the other tenant's items included), and no expiresAt was extended.
func TestSweepFaults_ReRunsAfterFaultsLeaveExactlyTheShortenedItems(t *testing.T) {
	w, a, _ := fixture(t)
	shorten(t, w, a)
	before := w.snapshot(t)
	want := w.expect(before, a.ID, retention.Merge(shorter))
	wantRestamped, wantDeleted := changeCount(before, want)

	faults := testaws.NewFaults(41)
	st := store.New(faults.Client(testaws.Config(t)), w.tt.Data, w.tt.Archive).
		WithClock(func() time.Time { return *w.now }).WithSubjectKey(testaws.SubjectKey)
	run := func(i int) *sweep.Summary {
		// Each run is a new invocation; a lease that a failed run kept lapses
		// after 15 minutes, so the clock moves on between runs (items' new
		// expiries are whole days from t0, so the moves change no decision).
		sum, err := sweep.New(sweep.Deps{Store: st, Log: slog.New(slog.NewJSONHandler(w.log, nil)),
			Options: sweep.Options{PageSize: 3, Owner: fmt.Sprintf("run-%d", i)}}).Run(context.Background())
		*w.now = w.now.Add(16 * time.Minute)
		if err != nil {
			t.Logf("run %d failed: %v", i, err)
		}
		return sum
	}
	// Reads fail at a low rate (a failed read only ends a run early), writes
	// at a quarter.
	const faultyRuns = 12
	faultyWrites := 0
	for i := range faultyRuns {
		if i%2 == 0 {
			faults.Set(testaws.FaultSpec{Rate: 0.1, After: 0.5, Timeout: 0.3})
		} else {
			faults.Set(testaws.FaultSpec{Rate: 0.25, After: 0.5, Timeout: 0.3, Ops: []string{"UpdateItem", "DeleteItem", "PutItem"}})
		}
		if sum := run(i); sum != nil {
			faultyWrites += sum.Writes
		}
	}
	faults.Off()
	t.Logf("with faults: %s", faults.Summary())
	afterFaults := w.snapshot(t)
	doneWithFaults := 0
	for k, v := range want {
		if g, ok := afterFaults[k]; ok && g == v && before[k] != v {
			doneWithFaults++
		}
	}
	for k := range before {
		if _, ok := want[k]; !ok {
			if _, still := afterFaults[k]; !still {
				doneWithFaults++
			}
		}
	}
	cleanRuns := 0
	for i := faultyRuns; ; i++ {
		if i == faultyRuns+10 {
			t.Fatal("the sweep still finds work after 10 runs without faults")
		}
		sum := run(i)
		cleanRuns++
		if sum != nil && sum.Writes == 0 && sum.Skipped == 0 && !sum.Stopped {
			break
		}
	}

	got := w.snapshot(t)
	restamped, deleted, lost, kept, wrong, extended := 0, 0, 0, 0, 0, 0
	for k, was := range before {
		if isSweepState(k) {
			continue
		}
		g, there := got[k]
		v, wanted := want[k]
		switch {
		case !wanted && !there:
			deleted++
		case !wanted:
			kept++
			t.Errorf("%s still there, want deleted", k)
		case !there:
			lost++
			t.Errorf("%s deleted, want expiresAt %s", k, time.Unix(v, 0).UTC())
		case g != v:
			wrong++
			if was != 0 && g > was {
				extended++
			}
			t.Errorf("%s expiresAt %s, want %s (was %s)", k, time.Unix(g, 0).UTC(), time.Unix(v, 0).UTC(), time.Unix(was, 0).UTC())
		case v != was:
			restamped++
		}
	}
	t.Logf("sweep: items %d, want re-stamped %d and deleted %d; got re-stamped %d, deleted %d, lost %d, not deleted %d, wrong expiry %d (extended %d); %d runs with faults (%d writes attempted, %d of the %d changes done), %d without",
		len(before), wantRestamped, wantDeleted, restamped, deleted, lost, kept, wrong, extended, faultyRuns, faultyWrites, doneWithFaults, wantRestamped+wantDeleted, cleanRuns)
	if restamped != wantRestamped || deleted != wantDeleted {
		t.Errorf("re-stamped %d and deleted %d, want %d and %d", restamped, deleted, wantRestamped, wantDeleted)
	}
}
