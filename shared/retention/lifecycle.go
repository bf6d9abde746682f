package retention

import "time"

// TenantRenewal is how long an active tenant's profile is stamped to live. The
// profile is personal data kept while the account is active: retention-sweep
// renews it daily (RenewTenant), so it only runs out if the account is closed or
// the platform stops sweeping.
var TenantRenewal = time.Duration(Maximums.PersonalDays) * day

// PurgeWindow is how long a closed account's profile outlives its grace period:
// retention-sweep finds the account through its profile, deletes its personal
// data when the grace period ends and then the profile itself (within a day);
// the profile's own expiresAt is the fallback should the sweep not run.
const PurgeWindow = 7 * day

// TenantExpiresAt is the expiresAt of a tenant profile at now: the account's
// lifetime (now + TenantRenewal) while active, the end of the grace period plus
// PurgeWindow once closed, and 0 (none) on legal hold.
func TenantExpiresAt(p Periods, closedAt *time.Time, now time.Time) int64 {
	switch {
	case p.Held:
		return 0
	case closedAt != nil:
		return GraceEnds(p, *closedAt).Add(PurgeWindow).Unix()
	default:
		return now.Add(TenantRenewal).Unix()
	}
}

// RenewTenant reports whether an active tenant's profile stamped expiresAt needs
// renewing at now: when less than half of TenantRenewal is left.
func RenewTenant(expiresAt int64, now time.Time) bool {
	return expiresAt != 0 && time.Unix(expiresAt, 0).Sub(now) < TenantRenewal/2
}

// GraceEnds is when the personal data of a tenant account closed at closedAt
// must be gone.
func GraceEnds(p Periods, closedAt time.Time) time.Time {
	return closedAt.Add(time.Duration(p.ClosedGraceDays) * day)
}

// ArchivePeriod is how long archived items are kept.
func (p Periods) ArchivePeriod() time.Duration { return time.Duration(p.ArchiveDays) * day }

// Shortened lists the classes whose period is shorter in next than in applied,
// in the order of Classes: the classes retention-sweep must bring into line.
func Shortened(applied, next Periods) []Class {
	var out []Class
	for _, c := range Classes {
		if next.Period(c) < applied.Period(c) {
			out = append(out, c)
		}
	}
	return out
}

// Restamp returns the expiresAt an existing item of class c with basis time
// basis and current expiresAt must carry under p: the earlier of the two, so a
// sweep only ever shortens (0 current means on hold: left alone).
func Restamp(p Periods, c Class, basis time.Time, current int64) int64 {
	if current == 0 {
		return 0
	}
	if n := ExpiresAt(p, c, basis); n != 0 && n < current {
		return n
	}
	return current
}
