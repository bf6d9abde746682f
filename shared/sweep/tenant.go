package sweep

import (
	"context"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Jobs of a checkpoint.
const (
	jobClass   = "class"   // shorten the items of a class in its retention index
	jobMarkers = "markers" // shorten dedupe markers, reached through conversations
	jobPurge   = "purge"   // delete the personal data of a closed account
	jobArchive = "archive" // shorten archived items in the archive's retention index
)

// archiveLabel names the archive's counts in the summary (archived items keep
// their class, communication).
const archiveLabel = retention.Class(store.ArchiveClass)

// tenantRun is one visit of a tenant.
type tenantRun struct {
	*run
	rec    *chat.TenantRecord
	state  *chat.SweepState
	resume *chat.SweepCursor // the checkpoint the visit started from
	cursor *chat.SweepCursor // the checkpoint to save
}

func (t *tenantRun) id() string { return t.rec.Tenant.ID }

func (t *tenantRun) work() error {
	ten := &t.rec.Tenant
	t.cursor = t.resume
	// First, whatever the account's state (held, closed, about to be
	// deleted): its suppression entries outlive it.
	if err := t.migrateSuppressions(); err != nil {
		return err
	}
	if ten.Status != "closed" && !ten.LegalHold && retention.RenewTenant(t.rec.ExpiresAt, t.now) {
		t.sum.Writes++
		if err := t.st.RenewTenant(t.ctx, t.id()); err != nil {
			return err
		}
	}
	if ten.LegalHold {
		return nil // held: nothing is shortened or deleted until the hold is lifted
	}
	if err := t.stripSlackProfiles(); err != nil {
		return err
	}
	target := retention.Merge(ten.Retention)
	applied := t.state.AppliedOrMax()
	for _, c := range retention.Shortened(applied, target) {
		// A checkpoint in the markers job means the class job before it is done.
		markersPending := c == retention.Technical && t.resume != nil && t.resume.Job == jobMarkers
		if !markersPending {
			if err := t.shorten(c, applied.Period(c), target); err != nil {
				return err
			}
		}
		if c == retention.Technical {
			if err := t.markers(applied.Period(c), target); err != nil {
				return err
			}
		}
		applied = withPeriod(applied, target, c)
		t.state.Applied = applied
	}
	if target.ArchiveDays < applied.ArchiveDays {
		if err := t.shortenArchive(applied.ArchivePeriod(), target); err != nil {
			return err
		}
		applied.ArchiveDays = target.ArchiveDays
		t.state.Applied = applied
	}
	// Periods that grew need no work: existing items keep their shorter expiry
	// and new items get the longer one.
	t.state.Applied = target
	if ten.Status == "closed" && ten.ClosedAt != nil && !t.state.Purged && !t.now.Before(retention.GraceEnds(target, *ten.ClosedAt)) {
		if err := t.purgeAccount(); err != nil {
			return err
		}
		// The sweep state and the profile go last (run.tenant), so an
		// interrupted purge is found and resumed through them.
		t.state.Purged = true
	}
	return nil
}

// withPeriod returns p with the period of class c taken from q.
func withPeriod(p, q retention.Periods, c retention.Class) retention.Periods {
	switch c {
	case retention.Personal:
		p.PersonalDays = q.PersonalDays
	case retention.Communication:
		p.CommunicationDays = q.CommunicationDays
	case retention.Usage:
		p.UsageDays = q.UsageDays
	default:
		p.TechnicalDays = q.TechnicalDays
	}
	return p
}

// walk reads the tenant's retention index of class over [from, now] in time
// order, resuming at the checkpoint of job when there is one, and calls fn for
// each entry. Before each entry it checks the budget; when spent, it records a
// checkpoint after the last entry done and returns errBudget.
func (t *tenantRun) walk(job string, class retention.Class, from time.Time, fn func(store.Entry) error) error {
	return t.walkTo(job, class, from, t.now, fn)
}

// walkTo is walk over [from, to].
func (t *tenantRun) walkTo(job string, class retention.Class, from, to time.Time, fn func(store.Entry) error) error {
	page := func(after string) ([]store.Entry, string, error) {
		if class == archiveLabel {
			return t.st.ArchivePage(t.ctx, t.id(), from, to, after, t.opt.PageSize)
		}
		return t.st.RetentionPage(t.ctx, t.id(), class, from, to, after, t.opt.PageSize)
	}
	after := ""
	resumed := t.resume != nil && t.resume.Job == job && t.resume.Class == class
	if resumed {
		after = t.resume.After
	}
	for {
		entries, next, err := page(after)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := t.budget(); err != nil {
				t.cursor = &chat.SweepCursor{Job: job, Class: class, After: after}
				return err
			}
			if err := fn(e); err != nil {
				t.cursor = &chat.SweepCursor{Job: job, Class: class, After: after}
				return err
			}
			after = e.Cursor()
		}
		if next == "" {
			break
		}
		after = next
	}
	t.cursor = nil
	if resumed {
		t.resume = nil
	}
	return nil
}

// shorten brings the items of class c into line with target: every item whose
// basis lies in the window the old period keeps alive.
func (t *tenantRun) shorten(c retention.Class, old time.Duration, target retention.Periods) error {
	n := t.counts(t.id(), c)
	return t.walk(jobClass, c, t.now.Add(-old), func(e store.Entry) error {
		n.Read++
		// A held conversation (no expiresAt) belongs to a held subject: none of
		// its items are swept.
		if e.Entity == "conversation" && !e.Held() {
			if err := t.conversation(e, target); err != nil {
				return err
			}
		}
		return t.apply(n, e, c, target)
	})
}

// apply re-stamps or deletes one indexed item.
func (t *tenantRun) apply(n *Counts, e store.Entry, c retention.Class, target retention.Periods) error {
	if e.Held() || e.Basis.IsZero() {
		return nil
	}
	exp := retention.Restamp(target, c, e.Basis, e.ExpiresAt)
	if exp == e.ExpiresAt {
		return nil
	}
	t.sum.Writes++
	if retention.Archived(c) || exp > t.now.Unix() {
		ok, err := t.st.SetExpiry(t.ctx, e.Ref, exp)
		if ok {
			n.Restamped++
		}
		return err
	}
	ok, err := t.st.DeleteExpiring(t.ctx, e.Ref)
	if ok {
		n.Deleted++
	}
	return err
}

// conversation re-stamps the messages of a conversation (Query on its
// partition) and its pointer under the contact.
func (t *tenantRun) conversation(meta store.Entry, target retention.Periods) error {
	items, err := t.st.PartitionEntries(t.ctx, meta.Ref)
	if err != nil {
		return err
	}
	n := t.counts(t.id(), retention.Communication)
	for _, e := range items {
		switch {
		case e.Entity == "message":
			n.Read++
			if err := t.restamp(n, retention.Restamp(target, retention.Communication, e.Basis, e.ExpiresAt), e); err != nil {
				return err
			}
		case e.Entity == "conversation":
			contact, conv := e.ContactID, meta.ConversationID
			if e.CreatedAt.IsZero() || contact == "" {
				continue
			}
			exp := retention.ExpiresAt(target, retention.Communication, e.CreatedAt)
			t.sum.Writes++
			ok, err := t.st.SetExpiry(t.ctx, t.st.PointerRef(t.id(), contact, conv), exp)
			if ok {
				n.Restamped++
			}
			if err != nil {
				return err
			}
			// A conversation now past its time is no longer the contact's open
			// one: the visitor's next message opens a new conversation.
			if retention.Restamp(target, retention.Communication, meta.Basis, meta.ExpiresAt) <= t.now.Unix() {
				t.sum.Writes++
				if err := t.st.ForgetOpenConversation(t.ctx, t.id(), contact, conv); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// restamp shortens one item found by partition to exp (no-op when unchanged).
func (t *tenantRun) restamp(n *Counts, exp int64, e store.Entry) error {
	if e.Held() || e.Basis.IsZero() || exp >= e.ExpiresAt {
		return nil
	}
	t.sum.Writes++
	ok, err := t.st.SetExpiry(t.ctx, e.Ref, exp)
	if ok {
		n.Restamped++
	}
	return err
}

// markers shortens the dedupe markers (technical) of conversations active in the
// old technical window: a marker is never older than its conversation's last
// activity, so the communication index over that window reaches all of them.
func (t *tenantRun) markers(old time.Duration, target retention.Periods) error {
	n := t.counts(t.id(), retention.Technical)
	return t.walk(jobMarkers, retention.Communication, t.now.Add(-old), func(conv store.Entry) error {
		items, err := t.st.DedupeMarkers(t.ctx, conv.Ref)
		if err != nil {
			return err
		}
		for _, e := range items {
			n.Read++
			exp := retention.Restamp(target, retention.Technical, e.Basis, e.ExpiresAt)
			if e.Held() || e.Basis.IsZero() || exp >= e.ExpiresAt {
				continue
			}
			t.sum.Writes++
			var ok bool
			if exp > t.now.Unix() {
				ok, err = t.st.SetExpiry(t.ctx, e.Ref, exp)
				if ok {
					n.Restamped++
				}
			} else {
				ok, err = t.st.DeleteExpiring(t.ctx, e.Ref)
				if ok {
					n.Deleted++
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// accountLabel names the purge's step over the partitions reached by key
// (API keys, channel integrations, the Slack installation, parked
// deliveries) in checkpoints and the summary's counts.
const accountLabel = retention.Class("account")

// purgeSteps are the steps of the purge of a closed account, in order: the
// partitions reached by key first (their routes stop routing provider events
// to the account), then each retention index (personal first: a contact's
// profile takes its whole partition, so the usage and technical walks find
// little left), then the archive's.
var purgeSteps = []retention.Class{accountLabel, retention.Personal, retention.Communication,
	retention.Usage, retention.Technical, archiveLabel}

// purgeAccount deletes everything a closed account whose grace period ended
// holds in both tables but its compliance records (privacy requests,
// tombstones, suppression entries, audit events: store/tenantpurge.go),
// except the sweep state and the profile, which run.tenant deletes after it.
// Items on legal hold stay. A checkpoint names the step it stopped in; the
// steps before it are done.
func (t *tenantRun) purgeAccount() error {
	steps := purgeSteps
	if r := t.resume; r != nil && r.Job == jobPurge {
		for i, c := range purgeSteps {
			if c == r.Class {
				steps = purgeSteps[i:]
			}
		}
	}
	for _, c := range steps {
		var err error
		if c == accountLabel {
			err = t.purgeByKey()
		} else {
			err = t.purgeIndex(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// purgeByKey deletes the account's items in the partitions reached by key.
// It is one step: a checkpoint in it repeats it whole (its deletes are
// idempotent).
func (t *tenantRun) purgeByKey() error {
	if err := t.budget(); err != nil {
		t.cursor = &chat.SweepCursor{Job: jobPurge, Class: accountLabel}
		return err
	}
	n, err := t.st.PurgeAccountItems(t.ctx, t.id())
	t.sum.Writes += n
	t.counts(t.id(), accountLabel).Deleted += n
	if err != nil {
		t.cursor = &chat.SweepCursor{Job: jobPurge, Class: accountLabel}
		return err
	}
	if t.resume != nil && t.resume.Job == jobPurge && t.resume.Class == accountLabel {
		t.resume = nil
	}
	t.cursor = nil
	return nil
}

// ttlLag bounds how long DynamoDB's TTL may take to remove an expired item
// (usually within two days): the purge still looks for items that long past
// their expiry.
const ttlLag = 7 * day

// day is a calendar day's length.
const day = 24 * time.Hour

// purgeIndex deletes every item the retention index of class (or the
// archive's) lists for the account, whatever its basis, with what it leads to
// (a contact's or a conversation's partition, an integration's routes).
func (t *tenantRun) purgeIndex(class retention.Class) error {
	n := t.counts(t.id(), class)
	// Two days past now: a conversation's or device's basis is the end of its
	// last day.
	return t.walkTo(jobPurge, class, purgeFrom(class, t.rec.Tenant.CreatedAt, t.now), t.now.Add(2*day), func(e store.Entry) error {
		n.Read++
		t.sum.Writes++ // at least the entry's delete
		deleted, err := t.st.PurgeEntry(t.ctx, e)
		n.Deleted += deleted
		if deleted > 1 {
			t.sum.Writes += deleted - 1
		}
		return err
	})
}

// purgeFrom is where the purge's walk of class starts: no item of the class
// can have a basis before the account was created, nor, unless held (and
// held items stay), longer ago than the longest period any tenant may set and
// TTL's lag. So the walk reads at most that many months of index partitions,
// however old the account: its fixed cost is bounded, the rest follows the
// items it finds.
func purgeFrom(class retention.Class, created, now time.Time) time.Time {
	from := now.AddDate(-10, 0, 0)
	if !created.IsZero() {
		from = created.AddDate(0, -1, 0)
	}
	period := retention.Maximums.ArchivePeriod()
	if class != archiveLabel {
		period = retention.Maximums.Period(class)
	}
	if oldest := now.Add(-period - ttlLag); oldest.After(from) {
		return oldest
	}
	return from
}

// shortenArchive brings archived items into line with a shorter archive period:
// every item that left the hot table within the old archive window is
// re-stamped to the new archive expiry, or deleted once past it.
func (t *tenantRun) shortenArchive(old time.Duration, target retention.Periods) error {
	n := t.counts(t.id(), archiveLabel)
	return t.walk(jobArchive, archiveLabel, t.now.Add(-old), func(e store.Entry) error {
		n.Read++
		if e.Held() || e.Basis.IsZero() {
			return nil
		}
		exp := retention.ArchiveExpiresAt(target, e.Basis)
		if exp >= e.ExpiresAt {
			return nil
		}
		t.sum.Writes++
		if exp > t.now.Unix() {
			ok, err := t.st.SetExpiry(t.ctx, e.Ref, exp)
			if ok {
				n.Restamped++
			}
			return err
		}
		ok, err := t.st.DeleteExpiring(t.ctx, e.Ref)
		if ok {
			n.Deleted++
		}
		return err
	})
}

// migrateSuppressions moves the tenant's legacy suppression entries to their
// shards while the move is not done. It stops with the run's time budget (a
// later run moves the rest).
func (t *tenantRun) migrateSuppressions() error {
	if !t.migrate {
		return nil
	}
	ctx := t.ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-t.opt.StopBefore))
		defer cancel()
	}
	moved, err := t.st.MigrateSuppressions(ctx, t.id())
	t.sum.SuppressionsMoved += moved
	t.sum.Writes += 2 * moved // a put and a delete each
	if err != nil && ctx.Err() != nil {
		return errBudget
	}
	return err
}

// stripSlackProfiles removes, once per tenant, the emails and image links of
// the Slack member items stored before the bridge kept display names only.
func (t *tenantRun) stripSlackProfiles() error {
	if t.state.SlackStripped {
		return nil
	}
	n, err := t.st.StripSlackMemberProfiles(t.ctx, t.id())
	t.sum.Writes += n
	if err != nil {
		return err
	}
	t.state.SlackStripped = true
	return nil
}
