// Package jobs processes privacy requests asynchronously: the privacy-export
// function (Exporter: every item about the subject, in both tables, as one JSON
// document in S3 behind an expiring link) and the privacy-erase function
// (Eraser: every item of the subject deleted, live connections closed, export
// files and channel copies removed, a tombstone and suppression entries left).
// Every step writes an audit event with ids only.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/store"
)

// Defaults of the processors.
const (
	// DefaultLease is how long a processor holds a request; the functions' timeout
	// is shorter, so a crashed attempt's lease has run out when Lambda retries.
	DefaultLease = 15 * time.Minute
	// DefaultMaxAttempts is how many attempts a request gets before it is failed:
	// Lambda's first try and its two asynchronous retries.
	DefaultMaxAttempts = 3
)

// Store is what both processors need of the store (store.Store): claiming and
// updating requests, resolving the subject and gathering what is held about it.
type Store interface {
	privacy.Auditor
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	ClaimPrivacyRequest(ctx context.Context, tenantID, id, owner string, lease time.Duration) (*chat.PrivacyRequest, error)
	UpdatePrivacyRequest(ctx context.Context, tenantID, id, owner string, u chat.PrivacyUpdate) error
	PrivacyRequest(ctx context.Context, tenantID, id string) (*chat.PrivacyRequest, error)
	ResolveSubject(ctx context.Context, tenantID string, subject *chat.PrivacySubject) ([]string, error)
	PutPrivacyPointer(ctx context.Context, tenantID, contactID, requestID string) error
	PutSubjectPointer(ctx context.Context, tenantID string, subject *chat.PrivacySubject, requestID string) error
	SubjectHoldings(ctx context.Context, tenantID string, contactIDs []string, live bool) (*store.Holdings, error)
	AddSubjectItems(ctx context.Context, h *store.Holdings, tenantID string, subject *chat.PrivacySubject, live bool) error
}

// gather returns what the store holds about the request's subject: its
// contacts' partitions and the conversations they name, and the items the
// subject names outside them (a Slack member's).
func gather(ctx context.Context, st Store, r *chat.PrivacyRequest, contacts []string, live bool) (*store.Holdings, error) {
	h, err := st.SubjectHoldings(ctx, r.TenantID, contacts, live)
	if err != nil {
		return nil, err
	}
	return h, st.AddSubjectItems(ctx, h, r.TenantID, r.Subject, live)
}

// stepError is a failed step of processing. Its step name is what the request
// and the audit trail show; the cause goes to the log only.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{step: name, err: err}
}

// processor holds what the export and erase functions share: claiming a request
// under a lease, resolving its subject once, and recording failures.
type processor struct {
	st          Store
	function    string
	lease       time.Duration
	maxAttempts int
	log         *slog.Logger
}

func (p *processor) defaults() {
	if p.lease <= 0 {
		p.lease = DefaultLease
	}
	if p.maxAttempts <= 0 {
		p.maxAttempts = DefaultMaxAttempts
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
}

// handle claims the request of ev for this attempt and runs it; a lost lease
// ends the attempt quietly, any other error is recorded as a failure.
func (p *processor) handle(ctx context.Context, ev privacy.Event, typ string,
	run func(ctx context.Context, tenant *chat.Tenant, r *chat.PrivacyRequest, who string) error) error {
	p.defaults()
	who := owner(ctx)
	r, tenant, err := p.claim(ctx, ev, typ, who)
	if err != nil || r == nil {
		return err
	}
	return p.finish(ctx, tenant, r, who, run(ctx, tenant, r, who))
}

// owner names this attempt: the Lambda request id, or a fresh id.
func owner(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return ids.New("o")
}

// claim takes the request of the event for this attempt. It returns nil (and no
// error) when there is nothing to do: the request is finished, of the wrong type,
// or held by another live attempt.
func (p *processor) claim(ctx context.Context, ev privacy.Event, typ, who string) (*chat.PrivacyRequest, *chat.Tenant, error) {
	if ev.TenantID == "" || ev.RequestID == "" {
		return nil, nil, fmt.Errorf("event without tenantId or requestId")
	}
	tenant, err := p.st.Tenant(ctx, ev.TenantID)
	if err != nil {
		return nil, nil, fmt.Errorf("read tenant: %w", err)
	}
	r, err := p.st.ClaimPrivacyRequest(ctx, ev.TenantID, ev.RequestID, who, p.lease)
	if errors.Is(err, store.ErrPrivacyBusy) {
		p.log.InfoContext(ctx, "privacy request held by another attempt", "tenantId", ev.TenantID, "privacyRequest", ev.RequestID)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("claim request: %w", err)
	}
	if r.Terminal() {
		p.log.InfoContext(ctx, "privacy request already finished", "tenantId", ev.TenantID, "privacyRequest", r.ID, "status", r.Status)
		return nil, nil, nil
	}
	if r.Type != typ {
		return nil, nil, fmt.Errorf("request %s is of type %s, not %s", r.ID, r.Type, typ)
	}
	return r, tenant, nil
}

// resolveOnce fixes the subject's contact ids on the first attempt, together with
// a pointer to the request in each contact's partition, and returns them. Later
// attempts use the stored ids, so a retry after a partial erasure (the contact
// profile, and with it the email index entry, already gone) still finds the rest.
func (p *processor) resolveOnce(ctx context.Context, r *chat.PrivacyRequest, who string) ([]string, error) {
	if r.Resolved {
		return r.ContactIDs, nil
	}
	contacts, err := p.st.ResolveSubject(ctx, r.TenantID, r.Subject)
	if err != nil {
		return nil, err
	}
	// The pointers are written first (a put is idempotent); if the update of the
	// request fails, the next attempt resolves and writes them again.
	for _, c := range contacts {
		if err := p.st.PutPrivacyPointer(ctx, r.TenantID, c, r.ID); err != nil {
			return nil, err
		}
	}
	if err := p.st.PutSubjectPointer(ctx, r.TenantID, r.Subject, r.ID); err != nil {
		return nil, err
	}
	u := chat.PrivacyUpdate{Resolved: true}
	if len(contacts) > 0 {
		u.ContactIDs = contacts
	}
	if err := p.st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, u); err != nil {
		return nil, err
	}
	r.ContactIDs, r.Resolved = contacts, true
	return contacts, nil
}

// finish ends an attempt: a lost lease means another attempt took the request
// over (it finishes it), so this one stops quietly; any other error is a failure.
func (p *processor) finish(ctx context.Context, tenant *chat.Tenant, r *chat.PrivacyRequest, who string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrPrivacyLeaseLost) {
		p.log.InfoContext(ctx, "privacy request taken over by another attempt", "tenantId", r.TenantID, "privacyRequest", r.ID)
		return nil
	}
	return p.fail(ctx, tenant, r, who, err)
}

// fail records a failed attempt: the step that failed is added to the request's
// errors and the lease is given up, so Lambda's retry can take the request at
// once; after the last attempt the request is failed. It returns err, so Lambda
// retries (and finally sends the event to the on-failure destination).
func (p *processor) fail(ctx context.Context, tenant *chat.Tenant, r *chat.PrivacyRequest, who string, err error) error {
	name := "internal"
	var se *stepError
	if errors.As(err, &se) {
		name = se.step
	}
	p.log.ErrorContext(ctx, "privacy request attempt failed", "tenantId", r.TenantID, "privacyRequest", r.ID,
		"attempt", r.Attempts, "step", name, "error", err.Error())
	msg := fmt.Sprintf("attempt %d: %s failed", r.Attempts, name)
	u := chat.PrivacyUpdate{Errors: append(r.Errors, msg), Release: true}
	action := "privacy." + r.Type + ".attempt_failed"
	if r.Attempts >= p.maxAttempts {
		now := p.st.Now()
		u.Status, u.StatusReason, u.CompletedAt = chat.PrivacyFailed, name+" failed", &now
		action = "privacy." + r.Type + ".fail"
	}
	if uerr := p.st.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, u); uerr != nil && !errors.Is(uerr, store.ErrPrivacyLeaseLost) {
		p.log.ErrorContext(ctx, "recording the failure failed", "privacyRequest", r.ID, "error", uerr.Error())
	}
	if aerr := privacy.Audit(ctx, p.st, tenant, privacy.System(p.function), action, r.ID, nil); aerr != nil {
		p.log.ErrorContext(ctx, "audit failed", "privacyRequest", r.ID, "error", aerr.Error())
	}
	return err
}
