package chat

import "github.com/livesupportbot/backend/shared/retention"

// TenantRecord is a tenant profile as the retention machinery sees it: the
// tenant, its stamped expiresAt, and whether it is past it.
type TenantRecord struct {
	Tenant    Tenant `json:"tenant"`
	ExpiresAt int64  `json:"expiresAt"`
	Expired   bool   `json:"expired"`
}

// SweepState is retention-sweep's bookkeeping for one tenant: the periods its
// items are known to be in line with, where an unfinished job stopped, and a
// lease so two sweeps never work on one tenant at once.
type SweepState struct {
	TenantID string `json:"tenantId"`
	// Applied are the periods existing items are in line with; zero until the
	// first sweep, which then assumes the platform maximums.
	Applied retention.Periods `json:"applied"`
	// Cursor is where an unfinished job stopped; nil when none.
	Cursor *SweepCursor `json:"cursor,omitempty"`
	// Purged is set once the personal data of a closed account was deleted.
	Purged bool `json:"purged"`
	// HoldApplied is whether the items are stripped for a tenant-wide legal hold.
	HoldApplied bool `json:"holdApplied"`
	// SlackStripped is set once the tenant's Slack member items of the old
	// layout lost their emails and image links (store.StripSlackMemberProfiles).
	SlackStripped bool `json:"slackStripped"`
	// LeaseOwner names the sweep holding the lease; LeaseUntil (Unix seconds)
	// is when it ends, 0 to release it on save.
	LeaseOwner string `json:"leaseOwner,omitempty"`
	LeaseUntil int64  `json:"leaseUntil"`
}

// AppliedOrMax returns the applied periods, or the platform maximums before the
// first sweep.
func (st *SweepState) AppliedOrMax() retention.Periods {
	if st.Applied == (retention.Periods{}) {
		return retention.Maximums
	}
	return st.Applied
}

// SweepCursor is a checkpoint inside a job: the job, the class whose
// retention index the job walks, and the opaque position in it (a store
// cursor, "" for the start) after which to continue.
type SweepCursor struct {
	Job   string          `json:"job"`
	Class retention.Class `json:"class"`
	After string          `json:"after,omitempty"`
}
