// Package sweep is the logic of retention-sweep, run once a day. For every tenant
// (read from the tenants index, never a Scan) it:
//
//   - renews an active account's profile (personal data kept while it is active);
//   - brings existing items into line when the tenant shortened a period: items
//     of the class are read through the retention index, month partition by
//     month partition, only over the window the old period still keeps alive, and
//     each is re-stamped with the shorter expiresAt or, once past it, deleted
//     (communication items are re-stamped even then, so TTL removes them and the
//     archive function archives them); the messages of an affected conversation
//     are read by Query on its partition;
//   - deletes everything a closed account holds but its compliance records
//     when its grace period ends (purgeAccount; the list is in
//     store/tenantpurge.go), the sweep state and the profile last;
//   - moves the tenant's suppression entries from their legacy partition to
//     their shards (store.MigrateSuppressions) until a complete pass records
//     the move as done (store/suppressmigrate.go).
//
// Which tenants changed a period is known without a marker written by the admin
// API: each tenant's sweep state records the periods its items are in line with
// ("applied"); a tenant whose current periods are shorter in some class has work.
// Reading the tenants index and two small items per tenant a day is the fixed
// cost; everything else follows the affected items.
//
// Work is bounded: it stops well before the Lambda deadline, saving a checkpoint
// in the tenant's sweep state, and the next run continues there. A per-tenant
// lease keeps two concurrent runs off the same tenant, and every write is
// conditional (never extends, never touches held items, never deletes an item
// whose basis moved), so running twice at once or in a row changes nothing more.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Options bound one run.
type Options struct {
	// StopBefore is how long before the context's deadline the run stops and
	// checkpoints (default 60s; the function's timeout is 5 minutes).
	StopBefore time.Duration
	// MaxWrites stops the run after about this many item writes (0: no limit).
	// Tests use it to force checkpoints.
	MaxWrites int
	// PageSize is the number of index entries read per Query (default 100).
	PageSize int
	// Owner names this run in leases (the Lambda request id).
	Owner string
}

// Counts are what a run did for one tenant and class.
type Counts struct {
	Read      int `json:"read"`
	Restamped int `json:"restamped"`
	Deleted   int `json:"deleted"`
}

// Summary is the outcome of a run: counts per tenant and class, the tenants
// visited, those skipped because another run holds their lease, and whether the
// run stopped early (to continue next time).
type Summary struct {
	Tenants int                                    `json:"tenants"`
	Skipped int                                    `json:"skipped"`
	Stopped bool                                   `json:"stopped"`
	Writes  int                                    `json:"writes"`
	Counts  map[string]map[retention.Class]*Counts `json:"counts"`
	// SuppressionsMoved counts the legacy suppression entries moved to their
	// shards; SuppressionsSharded says the move is done (recorded by this run
	// or an earlier one).
	SuppressionsMoved   int  `json:"suppressionsMoved"`
	SuppressionsSharded bool `json:"suppressionsSharded"`
}

// errBudget stops a run when its time or write budget is spent.
var errBudget = errors.New("sweep budget spent")

// Store is what the sweep needs of the store (*store.Store): the tenants and
// their sweep state, the retention index and partitions, and the conditional
// writes that re-stamp or delete an item.
type Store interface {
	Now() time.Time
	TenantIDs(ctx context.Context, start string, limit int) ([]string, bool, error)
	TenantRecord(ctx context.Context, tenantID string) (*chat.TenantRecord, error)
	RenewTenant(ctx context.Context, tenantID string) error
	DeleteClosedTenant(ctx context.Context, tenantID string) (bool, error)
	DeleteSweep(ctx context.Context, tenantID, owner string) (bool, error)
	PurgeEntry(ctx context.Context, e store.Entry) (int, error)
	PurgeAccountItems(ctx context.Context, tenantID string) (int, error)
	AcquireSweep(ctx context.Context, tenantID, owner string, until time.Time) (*chat.SweepState, error)
	SaveSweep(ctx context.Context, st *chat.SweepState) (bool, error)

	RetentionPage(ctx context.Context, tenantID string, class retention.Class, from, to time.Time, after string, limit int) ([]store.Entry, string, error)
	ArchivePage(ctx context.Context, tenantID string, from, to time.Time, after string, limit int) ([]store.Entry, string, error)
	PartitionEntries(ctx context.Context, of store.ItemRef) ([]store.Entry, error)
	DedupeMarkers(ctx context.Context, of store.ItemRef) ([]store.Entry, error)
	PointerRef(tenantID, contactID, convID string) store.ItemRef
	SetExpiry(ctx context.Context, ref store.ItemRef, exp int64) (bool, error)
	DeleteExpiring(ctx context.Context, ref store.ItemRef) (bool, error)
	ForgetOpenConversation(ctx context.Context, tenantID, contactID, convID string) error

	StripSlackMemberProfiles(ctx context.Context, tenantID string) (int, error)

	BeginSuppressMigration(ctx context.Context) (store.SuppressMigration, error)
	MigrateSuppressions(ctx context.Context, tenantID string) (int, error)
	FinishSuppressMigration(ctx context.Context) error
}

var _ Store = (*store.Store)(nil)

// Deps are what a Sweeper is built from.
type Deps struct {
	Store   Store
	Log     *slog.Logger
	Options Options
}

// Sweeper runs retention sweeps over a store.
type Sweeper struct {
	st  Store
	log *slog.Logger
	opt Options
}

// New returns a Sweeper.
func New(d Deps) *Sweeper {
	st, log, opt := d.Store, d.Log, d.Options
	if opt.StopBefore == 0 {
		opt.StopBefore = 60 * time.Second
	}
	if opt.PageSize == 0 {
		opt.PageSize = 100
	}
	if opt.Owner == "" {
		opt.Owner = fmt.Sprintf("sweep-%d", time.Now().UnixNano())
	}
	return &Sweeper{st: st, log: log, opt: opt}
}

// run is the state of one invocation.
type run struct {
	*Sweeper
	ctx context.Context
	now time.Time
	sum *Summary
	// migrate says the suppression entries are still to be moved (the marker
	// says not done, or could not be read); gap that some listed tenant's
	// entries were not (the run cannot record the move as done).
	migrate   bool
	migration store.SuppressMigration
	gap       bool
}

// Handle is the Lambda entry point: one run, whose leases are named by the
// invocation's request id.
func (s *Sweeper) Handle(ctx context.Context) (*Summary, error) {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		c := *s
		c.opt.Owner = lc.AwsRequestID
		return c.Run(ctx)
	}
	return s.Run(ctx)
}

// Run sweeps every tenant once, or until its budget is spent, and logs one
// summary line with the counts per tenant and class.
func (s *Sweeper) Run(ctx context.Context) (*Summary, error) {
	r := &run{Sweeper: s, ctx: ctx, now: s.st.Now(), sum: &Summary{Counts: map[string]map[retention.Class]*Counts{}}}
	r.beginMigration()
	err := r.tenants()
	if errors.Is(err, errBudget) {
		r.sum.Stopped, err = true, nil
	}
	if err == nil && !r.sum.Stopped {
		r.finishMigration()
	}
	s.log.InfoContext(ctx, "retention sweep", "tenants", r.sum.Tenants, "skipped", r.sum.Skipped,
		"stopped", r.sum.Stopped, "writes", r.sum.Writes, "counts", r.sum.Counts,
		"suppressionsMoved", r.sum.SuppressionsMoved, "suppressionsSharded", r.sum.SuppressionsSharded)
	return r.sum, err
}

// beginMigration notes the run in the suppression migration's marker and
// learns whether entries are still to be moved. A marker it cannot read or
// write leaves the run moving entries, and unable to record the move as done.
func (r *run) beginMigration() {
	m, err := r.st.BeginSuppressMigration(r.ctx)
	if err != nil {
		r.log.ErrorContext(r.ctx, "suppression migration marker", "error", err)
		r.migrate, r.gap = true, true
		return
	}
	r.migration, r.migrate = m, !m.Done
	r.sum.SuppressionsSharded = m.Done
}

// finishMigration records the move of the suppression entries as done after a
// complete pass that moved every tenant's and started at least
// store.SuppressMigrationSettle after the first pass (no old code that writes
// legacy entries can run any more).
func (r *run) finishMigration() {
	if !r.migrate || r.gap || r.now.Before(r.migration.FirstPassAt.Add(store.SuppressMigrationSettle)) {
		return
	}
	if err := r.st.FinishSuppressMigration(r.ctx); err != nil {
		r.log.ErrorContext(r.ctx, "suppression migration marker", "error", err)
		return
	}
	r.sum.SuppressionsSharded = true
}

func (r *run) tenants() error {
	start := ""
	for {
		ids, more, err := r.st.TenantIDs(r.ctx, start, 100)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := r.budget(); err != nil {
				return err
			}
			skipped := r.sum.Skipped
			err := r.tenant(id)
			if err != nil || r.sum.Skipped != skipped {
				r.gap = true // its suppression entries may not have moved
			}
			if err != nil {
				if errors.Is(err, errBudget) {
					return err
				}
				// One tenant's failure does not stop the others; its checkpoint
				// is kept and it is retried on the next run.
				r.log.ErrorContext(r.ctx, "sweep tenant failed", "tenantId", id, "error", err)
			}
		}
		if !more || len(ids) == 0 {
			return nil
		}
		start = ids[len(ids)-1]
	}
}

// budget reports errBudget when the run must stop.
func (r *run) budget() error {
	if r.ctx.Err() != nil {
		return errBudget
	}
	if d, ok := r.ctx.Deadline(); ok && time.Until(d) < r.opt.StopBefore {
		return errBudget
	}
	if r.opt.MaxWrites > 0 && r.sum.Writes >= r.opt.MaxWrites {
		return errBudget
	}
	return nil
}

func (r *run) counts(tenantID string, c retention.Class) *Counts {
	m := r.sum.Counts[tenantID]
	if m == nil {
		m = map[retention.Class]*Counts{}
		r.sum.Counts[tenantID] = m
	}
	if m[c] == nil {
		m[c] = &Counts{}
	}
	return m[c]
}

// tenant visits one tenant under its lease and saves its state (checkpoint or
// completion) whatever happened.
func (r *run) tenant(tenantID string) error {
	rec, err := r.st.TenantRecord(r.ctx, tenantID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	leaseUntil := r.now.Add(15 * time.Minute)
	if d, ok := r.ctx.Deadline(); ok {
		leaseUntil = d.Add(time.Minute)
	}
	st, err := r.st.AcquireSweep(r.ctx, tenantID, r.opt.Owner, leaseUntil)
	if err != nil {
		return err
	}
	if st == nil {
		r.sum.Skipped++
		return nil
	}
	r.sum.Tenants++
	t := &tenantRun{run: r, rec: rec, state: st, resume: st.Cursor}
	workErr := t.work()
	if workErr == nil && t.state.Purged {
		return t.finishPurge()
	}
	t.state.Cursor = t.cursor
	t.state.LeaseUntil = 0
	ok, err := r.st.SaveSweep(r.ctx, t.state)
	if err == nil && !ok {
		err = fmt.Errorf("sweep lease of %s lost", tenantID)
	}
	if workErr != nil {
		return workErr
	}
	return err
}

// finishPurge deletes a purged account's sweep state (while this run holds
// its lease) and then its profile: the last of its items. Should the profile
// stay (a legal hold placed meanwhile, a failure), the next run finds the
// account again, with a fresh state, and repeats the purge (finding nothing
// left) before trying again.
func (t *tenantRun) finishPurge() error {
	t.sum.Writes++
	ok, err := t.st.DeleteSweep(t.ctx, t.id(), t.opt.Owner)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("sweep lease of %s lost", t.id())
	}
	t.sum.Writes++
	deleted, err := t.st.DeleteClosedTenant(t.ctx, t.id())
	if deleted {
		t.counts(t.id(), retention.Personal).Deleted++
	}
	return err
}
