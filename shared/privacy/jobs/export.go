package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// SchemaVersion is the version of the export document's shape.
const SchemaVersion = 1

// DefaultLinkTTL is how long a download link works (SigV4 allows 7 days at most).
const DefaultLinkTTL = 7 * 24 * time.Hour

// ObjectStore is the part of the S3 API the processors use.
type ObjectStore interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Presigner makes presigned GET links (s3.PresignClient).
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// ExportKey is the S3 key of a request's export file. It holds no identifier of
// the subject.
func ExportKey(tenantID, requestID string) string {
	return "exports/" + tenantID + "/" + requestID + ".json"
}

// Table names of a part: where an item was found.
const (
	TableData    = store.TableData
	TableArchive = store.TableArchive
)

// Exporter is the privacy-export function: it builds the subject's export file.
type Exporter struct {
	Store   Store
	S3      ObjectStore
	Presign Presigner
	Bucket  string
	// KMSKeyID, when set, encrypts export files with that KMS key (SSE-KMS);
	// otherwise with S3-managed keys (SSE-S3).
	KMSKeyID string
	// Files gives a contact's attachments (attachment.Store; nil: none).
	Files SubjectFiles
	// LinkTTL is how long the download link works (DefaultLinkTTL when 0).
	LinkTTL     time.Duration
	Lease       time.Duration
	MaxAttempts int
	Log         *slog.Logger
}

// SubjectFiles returns the files kept of a contact, with their bytes.
type SubjectFiles interface {
	SubjectFiles(ctx context.Context, tenantID, contactID string) ([]attachment.File, error)
}

// Document is the export file: one JSON document with every item about the
// subject, each part with its data class and retention.
type Document struct {
	SchemaVersion int       `json:"schemaVersion"`
	GeneratedAt   time.Time `json:"generatedAt"`
	RequestID     string    `json:"requestId"`
	TenantID      string    `json:"tenantId"`
	Subject       struct {
		ContactIDs []string `json:"contactIds"`
		VisitorID  string   `json:"visitorId,omitempty"`
		Email      string   `json:"email,omitempty"`
		Channel    string   `json:"channel,omitempty"`
		ExternalID string   `json:"externalId,omitempty"`
	} `json:"subject"`
	// Contacts summarises each contact profile, with its marketing opt-out.
	Contacts []ContactSummary `json:"contacts"`
	// RetentionPolicy is the tenant's retention of each class, in days.
	RetentionPolicy map[retention.Class]ClassRetention `json:"retentionPolicy"`
	Parts           []Part                             `json:"parts"`
	// Files are the subject's attachments (images, documents... received
	// through channels), each with its bytes (base64).
	Files []attachment.File `json:"files,omitempty"`
}

// ContactSummary is a contact profile as the export shows it.
type ContactSummary struct {
	ContactID       string    `json:"contactId"`
	Name            string    `json:"name,omitempty"`
	Email           string    `json:"email,omitempty"`
	Phone           string    `json:"phone,omitempty"`
	MarketingOptOut bool      `json:"marketingOptOut"`
	LegalHold       bool      `json:"legalHold"`
	CreatedAt       time.Time `json:"createdAt"`
	LastSeenAt      time.Time `json:"lastSeenAt"`
}

// ClassRetention is how long a class is kept.
type ClassRetention struct {
	Days        int  `json:"days"`
	Archived    bool `json:"archived"`
	ArchiveDays int  `json:"archiveDays,omitempty"`
}

// Part is one stored item.
type Part struct {
	Table     string          `json:"table"`
	Entity    string          `json:"entity"`
	DataClass retention.Class `json:"dataClass"`
	Retention PartRetention   `json:"retention"`
	Key       struct {
		PK string `json:"pk"`
		SK string `json:"sk"`
	} `json:"key"`
	Data map[string]any `json:"data"`
}

// PartRetention says until when an item is kept, or that it is on legal hold.
type PartRetention struct {
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	LegalHold bool       `json:"legalHold,omitempty"`
	Policy    string     `json:"policy"`
}

// Handle processes one export request event. Processing twice, or by two
// attempts at once, gives one file and one result: the request is claimed under a
// lease, a finished one is left alone, and the file's key is the request's.
func (e *Exporter) Handle(ctx context.Context, ev privacy.Event) error {
	p := &processor{st: e.Store, function: "privacy-export", lease: e.Lease, maxAttempts: e.MaxAttempts, log: e.Log}
	return p.handle(ctx, ev, chat.PrivacyExport, func(ctx context.Context, tenant *chat.Tenant, r *chat.PrivacyRequest, who string) error {
		return e.run(ctx, p, tenant, r, who)
	})
}

func (e *Exporter) run(ctx context.Context, p *processor, tenant *chat.Tenant, r *chat.PrivacyRequest, who string) error {
	if err := step("audit", privacy.Audit(ctx, e.Store, tenant, privacy.System(p.function), "privacy.export.start", r.ID, nil)); err != nil {
		return err
	}
	contacts, err := p.resolveOnce(ctx, r, who)
	if err != nil {
		return step("resolve subject", err)
	}
	h, err := gather(ctx, e.Store, r, contacts, true)
	if err != nil {
		return step("gather", err)
	}
	doc, err := buildDocument(e.Store.Now(), tenant, r, h)
	if err != nil {
		return step("build document", err)
	}
	for _, c := range h.ContactIDs {
		if e.Files == nil {
			break
		}
		fs, err := e.Files.SubjectFiles(ctx, r.TenantID, c)
		if err != nil {
			return step("read files", err)
		}
		doc.Files = append(doc.Files, fs...)
	}
	body, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return step("encode document", err)
	}
	key := ExportKey(r.TenantID, r.ID)
	put := &s3.PutObjectInput{
		Bucket: aws.String(e.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"), ServerSideEncryption: s3types.ServerSideEncryptionAes256,
	}
	if e.KMSKeyID != "" {
		put.ServerSideEncryption, put.SSEKMSKeyId = s3types.ServerSideEncryptionAwsKms, aws.String(e.KMSKeyID)
	}
	if _, err := e.S3.PutObject(ctx, put); err != nil {
		return step("write file", err)
	}
	ttl := e.LinkTTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	link, err := e.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.Bucket), Key: aws.String(key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return step("presign link", err)
	}
	now := e.Store.Now()
	counts := map[string]int{"items": len(doc.Parts), "contacts": len(doc.Contacts), "conversations": len(h.ConversationIDs), "files": len(doc.Files)}
	for _, pt := range doc.Parts {
		counts[pt.Table+"Items"]++
	}
	expires := now.Add(ttl)
	err = e.Store.UpdatePrivacyRequest(ctx, r.TenantID, r.ID, who, chat.PrivacyUpdate{
		Status: chat.PrivacyCompleted, CompletedAt: &now, Counts: counts,
		ExportKey: key, DownloadURL: link.URL, DownloadExpiresAt: &expires, Release: true,
	})
	if errors.Is(err, store.ErrPrivacyLeaseLost) {
		// Another attempt finished the request with the same file, or an erasure
		// of the subject ended it while this attempt ran: then the file just
		// written must not outlive the erasure.
		cur, gerr := e.Store.PrivacyRequest(ctx, r.TenantID, r.ID)
		if gerr != nil {
			return step("check request", gerr)
		}
		if cur.SubjectErased {
			if _, err := e.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(e.Bucket), Key: aws.String(key)}); err != nil {
				return step("delete file of erased subject", err)
			}
		}
		return nil
	}
	if err != nil {
		return step("complete", err)
	}
	if err := privacy.Audit(ctx, e.Store, tenant, privacy.System(p.function), "privacy.export.complete", r.ID, counts); err != nil {
		p.log.ErrorContext(ctx, "audit failed", "privacyRequest", r.ID, "error", err.Error())
	}
	return nil
}

// buildDocument turns the holdings into the export document.
func buildDocument(now time.Time, tenant *chat.Tenant, r *chat.PrivacyRequest, h *store.Holdings) (*Document, error) {
	periods := tenant.Periods()
	doc := &Document{SchemaVersion: SchemaVersion, GeneratedAt: now, RequestID: r.ID, TenantID: r.TenantID,
		Contacts: []ContactSummary{}, Parts: []Part{}, RetentionPolicy: map[retention.Class]ClassRetention{}}
	doc.Subject.ContactIDs = append([]string{}, h.ContactIDs...)
	if r.Subject != nil {
		doc.Subject.VisitorID, doc.Subject.Email = r.Subject.VisitorID, r.Subject.Email
		doc.Subject.Channel, doc.Subject.ExternalID = r.Subject.Channel, r.Subject.ExternalID
	}
	for _, c := range retention.Classes {
		cr := ClassRetention{Days: int(periods.Period(c) / (24 * time.Hour)), Archived: retention.Archived(c)}
		if cr.Archived {
			cr.ArchiveDays = periods.ArchiveDays
		}
		doc.RetentionPolicy[c] = cr
	}
	profiles, err := h.Profiles(r.TenantID)
	if err != nil {
		return nil, err
	}
	for _, c := range profiles {
		doc.Contacts = append(doc.Contacts, ContactSummary{ContactID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone,
			MarketingOptOut: c.MarketingOptOut, LegalHold: c.LegalHold, CreatedAt: c.CreatedAt, LastSeenAt: c.LastSeenAt})
	}
	for _, row := range h.ExportRows() {
		pt := Part{Table: row.Table, Entity: row.Entity, DataClass: retention.Class(row.DataClass), Data: row.Data}
		pt.Key.PK, pt.Key.SK = row.PK, row.SK
		pt.Retention.ExpiresAt = row.ExpiresAt
		pt.Retention.LegalHold = row.ExpiresAt == nil
		pt.Retention.Policy = policyText(pt.DataClass, row.Table, periods)
		doc.Parts = append(doc.Parts, pt)
	}
	sort.Slice(doc.Parts, func(i, j int) bool {
		a, b := doc.Parts[i], doc.Parts[j]
		if a.Table != b.Table {
			return a.Table > b.Table // data before archive
		}
		if a.Key.PK != b.Key.PK {
			return a.Key.PK < b.Key.PK
		}
		return a.Key.SK < b.Key.SK
	})
	return doc, nil
}

func policyText(c retention.Class, table string, p retention.Periods) string {
	if table == TableArchive {
		return fmt.Sprintf("archived copy, kept %d days after archiving", p.ArchiveDays)
	}
	days := int(p.Period(c) / (24 * time.Hour))
	if retention.Archived(c) {
		return fmt.Sprintf("%s data, kept %d days after last activity, then archived for %d days", c, days, p.ArchiveDays)
	}
	return fmt.Sprintf("%s data, kept %d days after last activity, not archived", c, days)
}
