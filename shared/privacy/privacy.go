// Package privacy carries out the privacy rights of the policy (sections 5, 10
// and 11; docs/CONTRACT.md, "Privacy rights") as tracked requests. This package
// is the side the admin API uses: Service receives, reads and lists requests
// and changes the tenant's privacy settings, and starts the processing function
// of each new request through an Invoker. The processing itself (export and
// erasure) is package privacy/jobs; the AWS wiring of the service is package
// privacy/submit; the erasure gate of the ingest paths is package suppression.
// Every step writes an audit event with ids only.
package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// Event is the payload the processing functions are invoked with. It holds ids
// only, so the asynchronous invocation queue and its failure destination never
// carry personal data.
type Event struct {
	TenantID  string `json:"tenantId"`
	RequestID string `json:"requestId"`
}

// Invoker starts a function asynchronously (Lambda InvocationType Event).
type Invoker interface {
	InvokeAsync(ctx context.Context, function string, payload []byte) error
}

// LinkSigner signs a download link of an object, valid for ttl (an S3 presigned GET).
type LinkSigner interface {
	SignGet(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
}

// Auditor writes audit events (store.Store).
type Auditor interface {
	Now() time.Time
	PutAuditEvent(ctx context.Context, e *chat.AuditEvent, p retention.Periods) error
}

// ServiceStore is what Service needs of the store (store.Store).
type ServiceStore interface {
	Auditor
	SubjectKnown(ctx context.Context, tenantID string, subject *chat.PrivacySubject) (bool, error)
	PutPrivacyRequest(ctx context.Context, r *chat.PrivacyRequest) error
	UpdatePrivacyRequest(ctx context.Context, tenantID, id, owner string, u chat.PrivacyUpdate) error
	PrivacyRequest(ctx context.Context, tenantID, id string) (*chat.PrivacyRequest, error)
	PrivacyRequests(ctx context.Context, tenantID, after string, limit int) ([]*chat.PrivacyRequest, string, error)
	SetPrivacySettings(ctx context.Context, tenantID string, reingest, consent *string) (*chat.Tenant, error)
	LiftSuppression(ctx context.Context, tenantID, kind, value string) (bool, error)
}

// Service receives and reads privacy requests; the admin API routes call it.
type Service struct {
	Store   ServiceStore
	Invoker Invoker
	// ExportFunction and EraseFunction name the functions Invoker starts.
	ExportFunction string
	EraseFunction  string
	// Presign and Bucket, when set, let Get hand out a freshly signed download
	// link of a finished export (until the file's own expiry): a link signed by a
	// function's temporary role credentials stops working when they expire, which
	// is sooner than the 7 days the link is meant to live.
	Presign LinkSigner
	Bucket  string
}

// CreateInput is the body of POST /v1/privacy-requests.
type CreateInput struct {
	Type    string              `json:"type"`
	Subject chat.PrivacySubject `json:"subject"`
	Reason  string              `json:"reason"`
}

// Actor names who acts, for the audit trail: an API key id and its role, or a
// function ("privacy-erase", role "system").
type Actor struct {
	KeyID string
	Role  string
	// APIRequestID is the id of the API call, when there is one.
	APIRequestID string
}

// System is the actor of a processing function.
func System(function string) Actor { return Actor{KeyID: function, Role: "system"} }

func (in *CreateInput) validate() *chat.Error {
	fields := map[string]string{}
	if in.Type != chat.PrivacyExport && in.Type != chat.PrivacyErase {
		fields["type"] = `must be "export" or "erase"`
	}
	if !slices.Contains(chat.Reasons, in.Reason) {
		fields["reason"] = "must be one of " + strings.Join(chat.Reasons, ", ")
	}
	s := &in.Subject
	for _, f := range []*string{&s.ContactID, &s.VisitorID, &s.Email, &s.Channel, &s.ExternalID} {
		*f = strings.TrimSpace(*f)
	}
	given := 0
	for _, f := range []string{s.ContactID, s.VisitorID, s.Email, s.Channel + s.ExternalID} {
		if f != "" {
			given++
		}
	}
	switch {
	case given != 1:
		fields["subject"] = "give exactly one of contactId, visitorId, email, or channel with externalId"
	case s.PersonID() != "" && (len(s.PersonID()) > 64 || strings.ContainsAny(s.PersonID(), "#/ ")):
		fields["subject"] = "not a contact or visitor id"
	case s.Email != "":
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email || len(s.Email) > 254 {
			fields["subject.email"] = "not an email address"
		}
		s.Email = strings.ToLower(s.Email)
	case s.Channel != "" || s.ExternalID != "":
		if !validChannelIdentity(s.Channel, s.ExternalID) {
			fields["subject.externalId"] = `give channel (a channel name) with externalId "<account>:<user>" (Slack: "<team>:<user>")`
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &chat.Error{Code: chat.EInvalid, Message: "invalid privacy request", Fields: fields}
}

// validChannelIdentity reports whether channel and externalId name a channel
// identity: a lower-case channel name and "<account>:<user>".
func validChannelIdentity(channel, externalID string) bool {
	if channel == "" || len(channel) > 32 || len(externalID) > 256 || strings.ContainsAny(externalID, "# \x00") {
		return false
	}
	for _, r := range channel {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	account, user, ok := strings.Cut(externalID, ":")
	return ok && account != "" && user != ""
}

// Create records a request (received, due in 30 days), writes its audit event and
// invokes the function that processes it. A subject given by contact or visitor
// id or by channel identity must be one the tenant holds data about, a
// visitor who only browsed included (a foreign, missing or erased one is not
// found). If the function cannot be started the request is marked failed and
// the error returned.
func (s *Service) Create(ctx context.Context, tenant *chat.Tenant, actor Actor, in CreateInput) (*chat.PrivacyRequest, error) {
	if e := in.validate(); e != nil {
		return nil, e
	}
	if known, err := s.Store.SubjectKnown(ctx, tenant.ID, &in.Subject); err != nil {
		return nil, err
	} else if !known {
		return nil, chat.ErrNotFound
	}
	now := s.Store.Now()
	subject := in.Subject
	r := &chat.PrivacyRequest{
		ID: ids.New(ids.Request), TenantID: tenant.ID, Type: in.Type, Reason: in.Reason, Subject: &subject,
		Status: chat.PrivacyReceived, RequestedBy: actor.KeyID, ReceivedAt: now, DueAt: now.Add(chat.PrivacyDue),
		Counts: map[string]int{},
	}
	if err := s.Store.PutPrivacyRequest(ctx, r); err != nil {
		return nil, err
	}
	if err := Audit(ctx, s.Store, tenant, actor, "privacy."+r.Type+".receive", r.ID, nil); err != nil {
		return nil, err
	}
	fn := s.ExportFunction
	if r.Type == chat.PrivacyErase {
		fn = s.EraseFunction
	}
	payload, _ := json.Marshal(Event{TenantID: tenant.ID, RequestID: r.ID})
	if err := s.Invoker.InvokeAsync(ctx, fn, payload); err != nil {
		const why = "could not start processing"
		ferr := s.Store.UpdatePrivacyRequest(ctx, tenant.ID, r.ID, "", chat.PrivacyUpdate{
			Status: chat.PrivacyFailed, StatusReason: why, Errors: []string{why}})
		return nil, fmt.Errorf("invoke %s: %w", fn, errorsJoin(err, ferr))
	}
	return r, nil
}

// Get reads a request of the tenant; a foreign or missing one is not found.
func (s *Service) Get(ctx context.Context, tenant *chat.Tenant, actor Actor, id string) (*chat.PrivacyRequest, error) {
	if !ids.Valid(ids.Request, id) {
		return nil, chat.ErrNotFound
	}
	r, err := s.Store.PrivacyRequest(ctx, tenant.ID, id)
	if err != nil {
		return nil, err
	}
	if err := Audit(ctx, s.Store, tenant, actor, "privacy.request.read", r.ID, nil); err != nil {
		return nil, err
	}
	if err := s.freshLink(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// freshLink replaces the stored download link of a finished export by one signed
// now, valid until the stored link's expiry.
func (s *Service) freshLink(ctx context.Context, r *chat.PrivacyRequest) error {
	if s.Presign == nil || r.ExportKey == "" || r.DownloadExpiresAt == nil {
		return nil
	}
	left := time.Until(*r.DownloadExpiresAt)
	if left <= time.Minute {
		r.DownloadURL, r.DownloadExpiresAt = "", nil // the file is expiring: ask for a new export
		return nil
	}
	link, err := s.Presign.SignGet(ctx, s.Bucket, r.ExportKey, left)
	if err != nil {
		return fmt.Errorf("presign export link: %w", err)
	}
	r.DownloadURL = link
	return nil
}

// List returns one page of the tenant's requests, newest first, each with its
// overdue flag, and the id to continue after ("" at the end).
func (s *Service) List(ctx context.Context, tenant *chat.Tenant, after string, limit int) ([]*chat.PrivacyRequest, string, error) {
	if after != "" && !ids.Valid(ids.Request, after) {
		return nil, "", chat.Errorf(chat.EInvalid, "bad cursor")
	}
	return s.Store.PrivacyRequests(ctx, tenant.ID, after, limit)
}

func errorsJoin(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w (and marking it failed: %v)", a, b)
}

// Audit writes one audit event of a privacy request: ids, action and counts
// only, never an identifier of the subject.
func Audit(ctx context.Context, st Auditor, tenant *chat.Tenant, actor Actor, action, requestID string, counts map[string]int) error {
	targets := map[string]string{}
	if requestID != "" {
		targets["privacyRequest"] = requestID
	}
	for k, v := range counts {
		targets["count."+k] = fmt.Sprint(v)
	}
	ev := &chat.AuditEvent{
		ID: ids.New(ids.Event), TenantID: tenant.ID, At: st.Now(),
		ActorKey: actor.KeyID, ActorRole: actor.Role, Action: action, Targets: targets, RequestID: actor.APIRequestID,
	}
	if err := st.PutAuditEvent(ctx, ev, tenant.Periods()); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
