// Package retention is the one place that decides how long an item is kept: the
// four data classes of the privacy policy (section 4), the platform defaults and
// maximums, a tenant's shorter overrides, and ExpiresAt, which every write path
// calls to stamp an item's expiresAt.
package retention

import (
	"fmt"
	"time"
)

// Class is the data class of an item, stored on every item as dataClass.
type Class string

// The data classes of the privacy policy, section 4.
const (
	Personal      Class = "personal"
	Communication Class = "communication"
	Usage         Class = "usage"
	Technical     Class = "technical"
)

// Classes lists every class, in a stable order.
var Classes = []Class{Personal, Communication, Usage, Technical}

// Valid reports whether c is one of the four classes.
func (c Class) Valid() bool {
	for _, k := range Classes {
		if c == k {
			return true
		}
	}
	return false
}

const day = 24 * time.Hour

// Periods holds a retention period in whole days for each class, plus the archive
// period of communication data and the grace period of personal data after a
// tenant account closes.
type Periods struct {
	PersonalDays      int `json:"personalDays"`
	CommunicationDays int `json:"communicationDays"`
	ArchiveDays       int `json:"archiveDays"`
	UsageDays         int `json:"usageDays"`
	TechnicalDays     int `json:"technicalDays"`
	ClosedGraceDays   int `json:"closedGraceDays"`
	// Held is set when the tenant is on legal hold: ExpiresAt then returns 0 and
	// items are written without expiresAt. It is never part of a tenant's
	// settings (not serialised).
	Held bool `json:"-" dynamodbav:"-"`
	// InboxShards is not a period: it is the tenant's number of inbox write
	// shards (chat.Tenant.InboxShards), carried here because every write that
	// places a conversation in the inbox already takes the periods. Never
	// serialised.
	InboxShards int `json:"-" dynamodbav:"-"`
}

// Defaults are the platform's default periods (docs/CONTRACT.md, "Data classes
// and retention"). Personal data lives while the account is active; as every item
// needs an expiresAt, a contact expires after PersonalDays without activity,
// which outlives the contact's archived conversations.
var Defaults = Periods{
	PersonalDays:      1095,
	CommunicationDays: 365,
	ArchiveDays:       730,
	UsageDays:         90,
	TechnicalDays:     30,
	ClosedGraceDays:   90,
}

// Maximums are the longest periods a tenant may choose; the defaults are the
// maximums, so tenants can only shorten.
var Maximums = Defaults

// ComplianceDays is how long the platform keeps the records that show it
// honoured privacy rights (privacy requests, erasure tombstones, suppression
// entries, and the audit events of both), whatever a tenant chose: as long as
// the longest personal-data period, so a record outlives the data it accounts
// for.
const ComplianceDays = 1095

// ComplianceExpiresAt is the expiresAt of a compliance record made at at.
func ComplianceExpiresAt(at time.Time) int64 { return at.Add(ComplianceDays * day).Unix() }

// ConnectionTTL is how long a WebSocket connection record lives (API Gateway
// closes connections after two hours at most).
const ConnectionTTL = 3 * time.Hour

// Merge returns the defaults with each positive field of overrides applied.
func Merge(overrides Periods) Periods {
	p := Defaults
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&p.PersonalDays, overrides.PersonalDays)
	set(&p.CommunicationDays, overrides.CommunicationDays)
	set(&p.ArchiveDays, overrides.ArchiveDays)
	set(&p.UsageDays, overrides.UsageDays)
	set(&p.TechnicalDays, overrides.TechnicalDays)
	set(&p.ClosedGraceDays, overrides.ClosedGraceDays)
	p.Held = overrides.Held
	return p
}

// FieldError names a period that is out of range.
type FieldError struct {
	Field string
	Max   int
}

func (e FieldError) Error() string {
	return fmt.Sprintf("%s must be between 1 and %d days", e.Field, e.Max)
}

// Validate checks overrides against the platform maximums; zero means "default".
func (overrides Periods) Validate() []FieldError {
	var errs []FieldError
	check := func(name string, v, max int) {
		if v < 0 || v > max {
			errs = append(errs, FieldError{Field: name, Max: max})
		}
	}
	check("personalDays", overrides.PersonalDays, Maximums.PersonalDays)
	check("communicationDays", overrides.CommunicationDays, Maximums.CommunicationDays)
	check("archiveDays", overrides.ArchiveDays, Maximums.ArchiveDays)
	check("usageDays", overrides.UsageDays, Maximums.UsageDays)
	check("technicalDays", overrides.TechnicalDays, Maximums.TechnicalDays)
	check("closedGraceDays", overrides.ClosedGraceDays, Maximums.ClosedGraceDays)
	return errs
}

// Period returns how long items of class c are kept in the hot table.
func (p Periods) Period(c Class) time.Duration {
	switch c {
	case Personal:
		return time.Duration(p.PersonalDays) * day
	case Communication:
		return time.Duration(p.CommunicationDays) * day
	case Usage:
		return time.Duration(p.UsageDays) * day
	default:
		return time.Duration(p.TechnicalDays) * day
	}
}

// Archived reports whether items of class c are copied to the archive when they
// expire from the hot table.
func Archived(c Class) bool { return c == Communication }

// ExpiresAt is the one function that computes an item's expiresAt (Unix seconds,
// as DynamoDB TTL wants): the item's class period after basis, the time of its
// last activity.
func ExpiresAt(p Periods, c Class, basis time.Time) int64 {
	if p.Held {
		return 0
	}
	return basis.Add(p.Period(c)).Unix()
}

// ArchiveExpiresAt is the expiresAt of an item copied to the archive at time at.
func ArchiveExpiresAt(p Periods, at time.Time) int64 {
	return at.Add(time.Duration(p.ArchiveDays) * day).Unix()
}

// Expired reports whether an item with the given expiresAt (0 meaning none, as
// for items on legal hold) is past its time at now.
func Expired(expiresAt int64, now time.Time) bool {
	return expiresAt != 0 && expiresAt <= now.Unix()
}
