// Package privacy carries out the privacy rights of the policy (sections 5, 10
// and 11; docs/CONTRACT.md, "Privacy rights") as tracked requests: a request is
// received through the admin API (Service), then processed asynchronously by the
// privacy-export function (Exporter: every item about the subject, in both tables,
// as one JSON document in S3 behind an expiring link) or the privacy-erase function
// (Eraser: every item of the subject deleted, live connections closed, export files
// and channel copies removed, a tombstone and suppression entries left). Every step
// writes an audit event with ids only. Gate lets the ingest paths refuse, or
// re-create unlinked, an identity that was erased.
package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
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

// Service receives and reads privacy requests; the admin API routes call it.
type Service struct {
	Store   *store.Store
	Invoker Invoker
	// ExportFunction and EraseFunction name the functions Invoker starts.
	ExportFunction string
	EraseFunction  string
	// Presign and Bucket, when set, let Get hand out a freshly signed download
	// link of a finished export (until the file's own expiry): a link signed by a
	// function's temporary role credentials stops working when they expire, which
	// is sooner than the 7 days the link is meant to live.
	Presign Presigner
	Bucket  string
}

// NewService builds the service of the admin function from the environment:
// PRIVACY_EXPORT_FUNCTION and PRIVACY_ERASE_FUNCTION name the functions it
// invokes (InvocationType Event); EXPORT_BUCKET, when set, enables fresh links.
func NewService(cfg aws.Config, st *store.Store, getenv func(string) string) (*Service, error) {
	exp, era := getenv("PRIVACY_EXPORT_FUNCTION"), getenv("PRIVACY_ERASE_FUNCTION")
	if exp == "" || era == "" {
		return nil, fmt.Errorf("missing environment: PRIVACY_EXPORT_FUNCTION and PRIVACY_ERASE_FUNCTION")
	}
	s := &Service{Store: st, Invoker: LambdaInvoker{Client: lambda.NewFromConfig(cfg)}, ExportFunction: exp, EraseFunction: era}
	if b := getenv("EXPORT_BUCKET"); b != "" {
		s.Presign, s.Bucket = NewPresigner(NewS3Client(cfg, getenv)), b
	}
	return s, nil
}

// CreateInput is the body of POST /v1/privacy-requests.
type CreateInput struct {
	Type    string               `json:"type"`
	Subject store.PrivacySubject `json:"subject"`
	Reason  string               `json:"reason"`
}

// Actor names who acts, for the audit trail: an API key id and its role, or a
// function ("privacy-erase", role "system").
type Actor struct {
	KeyID string
	Role  string
	// APIRequestID is the id of the API call, when there is one.
	APIRequestID string
}

func (in *CreateInput) validate() *chat.Error {
	fields := map[string]string{}
	if in.Type != store.PrivacyExport && in.Type != store.PrivacyErase {
		fields["type"] = `must be "export" or "erase"`
	}
	if !slices.Contains(store.Reasons, in.Reason) {
		fields["reason"] = "must be one of " + strings.Join(store.Reasons, ", ")
	}
	s := &in.Subject
	s.ContactID, s.Email = strings.TrimSpace(s.ContactID), strings.TrimSpace(s.Email)
	switch {
	case (s.ContactID == "") == (s.Email == ""):
		fields["subject"] = "give exactly one of contactId and email"
	case s.ContactID != "" && (len(s.ContactID) > 64 || strings.ContainsAny(s.ContactID, "#/ ")):
		fields["subject.contactId"] = "not a contact id"
	case s.Email != "":
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email || len(s.Email) > 254 {
			fields["subject.email"] = "not an email address"
		}
		s.Email = strings.ToLower(s.Email)
	}
	if len(fields) == 0 {
		return nil
	}
	return &chat.Error{Code: chat.EInvalid, Message: "invalid privacy request", Fields: fields}
}

// Create records a request (received, due in 30 days), writes its audit event and
// invokes the function that processes it. A subject given by contact id must be a
// live contact of the tenant (a foreign, missing or erased one is not found). If
// the function cannot be started the request is marked failed and the error
// returned.
func (s *Service) Create(ctx context.Context, tenant *chat.Tenant, actor Actor, in CreateInput) (*store.PrivacyRequest, error) {
	if e := in.validate(); e != nil {
		return nil, e
	}
	if in.Subject.ContactID != "" {
		if _, err := s.Store.Contact(ctx, tenant.ID, in.Subject.ContactID); err != nil {
			return nil, err
		}
	}
	now := s.Store.Now()
	subject := in.Subject
	r := &store.PrivacyRequest{
		ID: ids.New(ids.Request), TenantID: tenant.ID, Type: in.Type, Reason: in.Reason, Subject: &subject,
		Status: store.PrivacyReceived, RequestedBy: actor.KeyID, ReceivedAt: now, DueAt: now.Add(store.PrivacyDue),
		Counts: map[string]int{},
	}
	if err := s.Store.PutPrivacyRequest(ctx, r); err != nil {
		return nil, err
	}
	if err := audit(ctx, s.Store, tenant, actor, "privacy."+r.Type+".receive", r.ID, nil); err != nil {
		return nil, err
	}
	fn := s.ExportFunction
	if r.Type == store.PrivacyErase {
		fn = s.EraseFunction
	}
	payload, _ := json.Marshal(Event{TenantID: tenant.ID, RequestID: r.ID})
	if err := s.Invoker.InvokeAsync(ctx, fn, payload); err != nil {
		ferr := s.Store.UpdatePrivacyRequest(ctx, tenant.ID, r.ID, "", store.PrivacyUpdate{
			Set: map[string]any{"status": store.PrivacyFailed, "statusReason": "could not start processing",
				"errors": []string{"could not start processing"}},
		})
		return nil, fmt.Errorf("invoke %s: %w", fn, errorsJoin(err, ferr))
	}
	return r, nil
}

// Get reads a request of the tenant; a foreign or missing one is not found.
func (s *Service) Get(ctx context.Context, tenant *chat.Tenant, actor Actor, id string) (*store.PrivacyRequest, error) {
	if !ids.Valid(ids.Request, id) {
		return nil, chat.ErrNotFound
	}
	r, err := s.Store.PrivacyRequest(ctx, tenant.ID, id)
	if err != nil {
		return nil, err
	}
	if err := audit(ctx, s.Store, tenant, actor, "privacy.request.read", r.ID, nil); err != nil {
		return nil, err
	}
	if err := s.freshLink(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// freshLink replaces the stored download link of a finished export by one signed
// now, valid until the stored link's expiry.
func (s *Service) freshLink(ctx context.Context, r *store.PrivacyRequest) error {
	if s.Presign == nil || r.ExportKey == "" || r.DownloadExpiresAt == nil {
		return nil
	}
	left := time.Until(*r.DownloadExpiresAt)
	if left <= time.Minute {
		r.DownloadURL, r.DownloadExpiresAt = "", nil // the file is expiring: ask for a new export
		return nil
	}
	link, err := s.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(r.ExportKey)},
		s3.WithPresignExpires(left))
	if err != nil {
		return fmt.Errorf("presign export link: %w", err)
	}
	r.DownloadURL = link.URL
	return nil
}

// List returns one page of the tenant's requests, newest first, each with its
// overdue flag, and the id to continue after ("" at the end).
func (s *Service) List(ctx context.Context, tenant *chat.Tenant, after string, limit int) ([]*store.PrivacyRequest, string, error) {
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

// audit writes one audit event of a privacy request: ids, action and counts
// only, never an identifier of the subject.
func audit(ctx context.Context, st *store.Store, tenant *chat.Tenant, actor Actor, action, requestID string, counts map[string]int) error {
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

// system is the actor of the processing functions.
func system(function string) Actor { return Actor{KeyID: function, Role: "system"} }

// timePtr returns a pointer to t.
func timePtr(t time.Time) *time.Time { return &t }
