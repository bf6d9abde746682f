package chat

import (
	"time"

	"github.com/livesupportbot/backend/shared/retention"
)

// APIKey is a tenant's admin API key as kept: never the key itself, only the
// SHA-256 hash of it.
type APIKey struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"-"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Prefix    string     `json:"prefix"`
	Hash      string     `json:"-"`
	CreatedBy string     `json:"createdBy"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// AuditEvent is one entry of a tenant's audit trail: who (key id and role),
// what (action and target ids) and when. It never holds message text or
// personal data: targets are ids only.
type AuditEvent struct {
	ID        string            `json:"id"`
	TenantID  string            `json:"-"`
	At        time.Time         `json:"at"`
	ActorKey  string            `json:"actorKeyId"`
	ActorRole string            `json:"actorRole"`
	Action    string            `json:"action"`
	Targets   map[string]string `json:"targets,omitempty"`
	RequestID string            `json:"requestId,omitempty"`
}

// ContactFields are the fields of a contact the tenant may correct; nil leaves a
// field as it is, an empty string clears it.
type ContactFields struct {
	Name            *string
	Email           *string
	Phone           *string
	MarketingOptOut *bool
}

// TenantSettings are the fields of a tenant its owner may change; nil leaves a
// field as it is.
type TenantSettings struct {
	Name           *string
	AllowedOrigins *[]string
	Retention      *retention.Periods
	RateLimits     *RateLimits
}
