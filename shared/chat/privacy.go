package chat

import "time"

// Privacy requests (docs/CONTRACT.md, "Privacy rights"): an export or an erasure
// of one subject, with a lifecycle and a due date.

// Types of privacy request.
const (
	PrivacyExport = "export"
	PrivacyErase  = "erase"
)

// Reasons of a privacy request.
const (
	ReasonSubjectRequest = "subject_request" // the person asked (policy, section 11)
	ReasonChildUnder13   = "child_under_13"  // policy, section 10: erased at once
	ReasonLegal          = "legal"           // a legal or regulatory demand
	ReasonTenantRequest  = "tenant_request"  // the tenant's own decision
)

// Reasons lists the valid reasons.
var Reasons = []string{ReasonSubjectRequest, ReasonChildUnder13, ReasonLegal, ReasonTenantRequest}

// Statuses of a privacy request: received -> processing -> completed | failed |
// blocked (legal hold).
const (
	PrivacyReceived   = "received"
	PrivacyProcessing = "processing"
	PrivacyCompleted  = "completed"
	PrivacyFailed     = "failed"
	PrivacyBlocked    = "blocked"
)

// PrivacyDue is the time a request must be answered in, from receipt.
const PrivacyDue = 30 * 24 * time.Hour

// PrivacySubject names the person of a request, by exactly one of: a contact
// id; a visitor id (the widget shows it to the visitor; a visitor who only
// browsed has usage data under it but no profile, and it is the same id as
// their contact's); an email; or a channel identity (Channel with ExternalID:
// "<account>:<user>" for a messaging channel's user, "<team>:<user>" for a
// Slack member).
type PrivacySubject struct {
	ContactID  string `json:"contactId,omitempty"`
	VisitorID  string `json:"visitorId,omitempty"`
	Email      string `json:"email,omitempty"`
	Channel    string `json:"channel,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
}

// ChannelSlack is the channel of a Slack member's identity.
const ChannelSlack = "slack"

// PersonID is the contact id a subject names directly (by contact or visitor
// id), or "".
func (s PrivacySubject) PersonID() string {
	if s.ContactID != "" {
		return s.ContactID
	}
	return s.VisitorID
}

// PrivacyRequest is one export or erasure request.
type PrivacyRequest struct {
	ID       string          `json:"id"`
	TenantID string          `json:"-"`
	Type     string          `json:"type"`
	Reason   string          `json:"reason"`
	Subject  *PrivacySubject `json:"subject,omitempty"`
	// SubjectErased is set once the subject was erased: the request then keeps no
	// identifier of the subject at all.
	SubjectErased bool `json:"subjectErased,omitempty"`
	// ContactIDs are the contacts the subject resolved to, fixed by the first
	// processing attempt (so a retry after a partial erasure still finds them).
	ContactIDs []string `json:"-"`
	// SubjectHashes are the salted hashes (<kind>#<hash>) of the identifiers an
	// erasure suppresses, kept from its first attempt for the tombstone.
	SubjectHashes []string       `json:"-"`
	SubjectHash   string         `json:"-"`
	Resolved      bool           `json:"-"`
	Status        string         `json:"status"`
	StatusReason  string         `json:"statusReason,omitempty"`
	RequestedBy   string         `json:"requestedBy,omitempty"`
	ReceivedAt    time.Time      `json:"receivedAt"`
	DueAt         time.Time      `json:"dueAt"`
	StartedAt     *time.Time     `json:"startedAt,omitempty"`
	CompletedAt   *time.Time     `json:"completedAt,omitempty"`
	Attempts      int            `json:"attempts"`
	Counts        map[string]int `json:"counts"`
	Errors        []string       `json:"errors,omitempty"`
	// ExportKey is the S3 key of a finished export's file.
	ExportKey         string     `json:"-"`
	DownloadURL       string     `json:"downloadUrl,omitempty"`
	DownloadExpiresAt *time.Time `json:"downloadExpiresAt,omitempty"`
	LeaseOwner        string     `json:"-"`
	LeaseUntil        int64      `json:"-"`
	// Overdue is computed on read: not finished and past dueAt.
	Overdue bool `json:"overdue"`
}

// Terminal reports whether the request reached a final status.
func (r *PrivacyRequest) Terminal() bool {
	return r.Status == PrivacyCompleted || r.Status == PrivacyFailed || r.Status == PrivacyBlocked
}

// IsOverdue reports whether the request is still unanswered after its due date.
// A blocked request is answered (with the legal reason), so never overdue.
func (r *PrivacyRequest) IsOverdue(now time.Time) bool {
	return (r.Status == PrivacyReceived || r.Status == PrivacyProcessing || r.Status == PrivacyFailed) && now.After(r.DueAt)
}

// PrivacyUpdate is a change of a request by the attempt processing it. Zero
// fields are left as they are.
type PrivacyUpdate struct {
	Status            string
	StatusReason      string
	CompletedAt       *time.Time
	Errors            []string       // replaces the errors
	Counts            map[string]int // replaces the counts
	Add               map[string]int // adds to counters of the counts
	SubjectHashes     []string
	ContactIDs        []string
	Resolved          bool
	SubjectErased     bool
	ExportKey         string
	DownloadURL       string
	DownloadExpiresAt *time.Time
	// Release gives up the attempt's lease.
	Release bool
	// DropSubject removes the subject and the contact ids it resolved to.
	DropSubject bool
}

// Tombstone is what remains of an erased subject: the request, the salted hashes
// of the subject's identifiers, counts and times. Nothing else.
type Tombstone struct {
	RequestID     string         `json:"requestId"`
	SubjectHashes []string       `json:"subjectHashes"`
	Counts        map[string]int `json:"counts"`
	ReceivedAt    time.Time      `json:"receivedAt"`
	CompletedAt   time.Time      `json:"completedAt"`
}

// Kinds of identity an erasure suppresses.
const (
	SuppressEmail   = "EMAIL"
	SuppressContact = "CONTACT"
	SuppressChannel = "CHANNEL"
)

// ChannelIdentity is the suppression value of a channel user: "<channel>:<id>".
func ChannelIdentity(channel, externalID string) string { return channel + ":" + externalID }
