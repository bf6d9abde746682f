package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Privacy requests (docs/CONTRACT.md, "Privacy rights"): an export or an erasure
// of one subject, with a lifecycle and a due date.
//
//	item              PK                  SK
//	privacy request   T#t#PRIVACY         REQ#<requestId>
//	tombstone         T#t#PRIVACY         TOMB#<requestId>
//	request pointer   T#t#CONTACT#c       PRIVREQ#<requestId>   (names the subject's requests, erased with it)
const (
	prefPrivReq = "PRIVREQ#"
	prefReq     = "REQ#"
	prefTomb    = "TOMB#"
)

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

// PrivacySubject names the person of a request: a contact id or an email.
type PrivacySubject struct {
	ContactID string `dynamodbav:"contactId,omitempty" json:"contactId,omitempty"`
	Email     string `dynamodbav:"email,omitempty" json:"email,omitempty"`
}

// PrivacyRequest is one export or erasure request.
type PrivacyRequest struct {
	ID       string          `dynamodbav:"id" json:"id"`
	TenantID string          `dynamodbav:"tenantId" json:"-"`
	Type     string          `dynamodbav:"type" json:"type"`
	Reason   string          `dynamodbav:"reason" json:"reason"`
	Subject  *PrivacySubject `dynamodbav:"subject,omitempty" json:"subject,omitempty"`
	// SubjectErased is set once the subject was erased: the request then keeps no
	// identifier of the subject at all.
	SubjectErased bool `dynamodbav:"subjectErased,omitempty" json:"subjectErased,omitempty"`
	// ContactIDs are the contacts the subject resolved to, fixed by the first
	// processing attempt (so a retry after a partial erasure still finds them).
	ContactIDs []string `dynamodbav:"contactIds,omitempty" json:"-"`
	// SubjectHashes are the salted hashes (<kind>#<hash>) of the identifiers an
	// erasure suppresses, kept from its first attempt for the tombstone.
	SubjectHashes []string       `dynamodbav:"subjectHashes,omitempty" json:"-"`
	SubjectHash   string         `dynamodbav:"subjectHash,omitempty" json:"-"`
	Resolved      bool           `dynamodbav:"resolved,omitempty" json:"-"`
	Status        string         `dynamodbav:"status" json:"status"`
	StatusReason  string         `dynamodbav:"statusReason,omitempty" json:"statusReason,omitempty"`
	RequestedBy   string         `dynamodbav:"requestedBy,omitempty" json:"requestedBy,omitempty"`
	ReceivedAt    time.Time      `dynamodbav:"receivedAt" json:"receivedAt"`
	DueAt         time.Time      `dynamodbav:"dueAt" json:"dueAt"`
	StartedAt     *time.Time     `dynamodbav:"startedAt,omitempty" json:"startedAt,omitempty"`
	CompletedAt   *time.Time     `dynamodbav:"completedAt,omitempty" json:"completedAt,omitempty"`
	Attempts      int            `dynamodbav:"attempts" json:"attempts"`
	Counts        map[string]int `dynamodbav:"counts" json:"counts"`
	Errors        []string       `dynamodbav:"errors,omitempty" json:"errors,omitempty"`
	// ExportKey is the S3 key of a finished export's file.
	ExportKey         string     `dynamodbav:"exportKey,omitempty" json:"-"`
	DownloadURL       string     `dynamodbav:"downloadUrl,omitempty" json:"downloadUrl,omitempty"`
	DownloadExpiresAt *time.Time `dynamodbav:"downloadExpiresAt,omitempty" json:"downloadExpiresAt,omitempty"`
	LeaseOwner        string     `dynamodbav:"leaseOwner,omitempty" json:"-"`
	LeaseUntil        int64      `dynamodbav:"leaseUntil,omitempty" json:"-"`
	// Overdue is computed on read: not finished and past dueAt.
	Overdue bool `dynamodbav:"-" json:"overdue"`
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

type privacyRequestItem struct {
	Base
	PrivacyRequest
}

// PrivacyPK is the partition of a tenant's privacy requests and tombstones.
func PrivacyPK(tenantID string) string { return TenantPrefix(tenantID) + "PRIVACY" }

// complianceExpiresAt is the expiresAt of privacy requests, tombstones and
// suppressions: records the platform keeps to show it honoured a request, for the
// platform's longest personal-data period whatever the tenant chose.
func complianceExpiresAt(at time.Time) int64 {
	return retention.ExpiresAt(retention.Maximums, retention.Personal, at)
}

// PutPrivacyRequest records a new request; the id must be new.
func (s *Store) PutPrivacyRequest(ctx context.Context, r *PrivacyRequest) error {
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	item, err := attributevalue.MarshalMap(privacyRequestItem{
		Base: Base{PK: PrivacyPK(r.TenantID), SK: prefReq + r.ID, DataClass: retention.Personal,
			Entity: "privacyRequest", ExpiresAt: complianceExpiresAt(r.ReceivedAt)},
		PrivacyRequest: *r,
	})
	if err != nil {
		return wrap("marshal privacy request", err)
	}
	created, err := s.putNew(ctx, item)
	if err == nil && !created {
		return chat.Errorf(chat.EConflict, "privacy request exists")
	}
	return wrap("put privacy request", err)
}

// PrivacyRequest reads a request (strongly consistent); missing or foreign is
// chat.ErrNotFound.
func (s *Store) PrivacyRequest(ctx context.Context, tenantID, id string) (*PrivacyRequest, error) {
	var it privacyRequestItem
	ok, err := s.getLive(ctx, PrivacyPK(tenantID), prefReq+id, true, &it)
	if err != nil {
		return nil, wrap("get privacy request", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	r := it.PrivacyRequest
	r.TenantID, r.Overdue = tenantID, r.IsOverdue(s.Now())
	return &r, nil
}

// PrivacyRequests lists a tenant's requests, newest first, up to limit, starting
// after the request id after ("" for the first page). It returns the id to pass
// for the next page, or "" at the end.
func (s *Store) PrivacyRequests(ctx context.Context, tenantID, after string, limit int) ([]*PrivacyRequest, string, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	var start map[string]types.AttributeValue
	if after != "" {
		start = key(PrivacyPK(tenantID), prefReq+after)
	}
	var items []privacyRequestItem
	last, err := s.queryPage(ctx, PrivacyPK(tenantID), prefReq, true, limit, start, &items)
	if err != nil {
		return nil, "", wrap("query privacy requests", err)
	}
	now := s.Now()
	out := make([]*PrivacyRequest, len(items))
	for i := range items {
		r := items[i].PrivacyRequest
		r.TenantID, r.Overdue = tenantID, r.IsOverdue(now)
		out[i] = &r
	}
	next := ""
	if sk, ok := last["SK"].(*types.AttributeValueMemberS); ok {
		next = strings.TrimPrefix(sk.Value, prefReq)
	}
	return out, next, nil
}

// ErrPrivacyBusy is returned by ClaimPrivacyRequest when another processor holds
// the request's lease.
var ErrPrivacyBusy = fmt.Errorf("privacy request is being processed elsewhere")

// ClaimPrivacyRequest moves a received (or abandoned) request to processing under
// a lease held by owner until now+lease, and counts the attempt. A request another
// owner holds is ErrPrivacyBusy; a finished one is returned as it is, with no
// error, so the caller sees Terminal() and stops: processing twice gives one result.
func (s *Store) ClaimPrivacyRequest(ctx context.Context, tenantID, id, owner string, lease time.Duration) (*PrivacyRequest, error) {
	now := s.Now()
	startedAt, _ := attributevalue.Marshal(now)
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(PrivacyPK(tenantID), prefReq+id),
		UpdateExpression: aws.String("SET #st = :proc, leaseOwner = :o, leaseUntil = :lu, " +
			"startedAt = if_not_exists(startedAt, :started), attempts = if_not_exists(attempts, :zero) + :one"),
		ConditionExpression: aws.String("attribute_exists(PK) AND #st IN (:recv, :proc) AND " +
			"(attribute_not_exists(leaseUntil) OR leaseUntil < :nowUnix OR leaseOwner = :o)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":proc":    &types.AttributeValueMemberS{Value: PrivacyProcessing},
			":recv":    &types.AttributeValueMemberS{Value: PrivacyReceived},
			":o":       &types.AttributeValueMemberS{Value: owner},
			":lu":      &types.AttributeValueMemberN{Value: itoa(now.Add(lease).Unix())},
			":nowUnix": &types.AttributeValueMemberN{Value: itoa(now.Unix())},
			":started": startedAt,
			":zero":    &types.AttributeValueMemberN{Value: "0"},
			":one":     &types.AttributeValueMemberN{Value: "1"},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		cur, gerr := s.PrivacyRequest(ctx, tenantID, id)
		if gerr != nil {
			return nil, gerr
		}
		if cur.Terminal() {
			return cur, nil
		}
		return nil, ErrPrivacyBusy
	}
	if err != nil {
		return nil, wrap("claim privacy request", err)
	}
	var it privacyRequestItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return nil, wrap("unmarshal privacy request", err)
	}
	r := it.PrivacyRequest
	r.TenantID = tenantID
	return &r, nil
}

// PrivacyUpdate is a change of a request: attributes to set and to remove.
type PrivacyUpdate struct {
	Set    map[string]any
	Remove []string
	// Add adds to counters of the counts map.
	Add map[string]int
}

// privacyUpdate builds the conditional update of a request held by owner (or, for
// owner "", of any request not yet finished).
func (s *Store) privacyUpdate(tenantID, id, owner string, u PrivacyUpdate) (*types.Update, error) {
	names := map[string]string{"#st": "status"}
	vals := map[string]types.AttributeValue{
		":done": &types.AttributeValueMemberS{Value: PrivacyCompleted},
		":blk":  &types.AttributeValueMemberS{Value: PrivacyBlocked},
	}
	var sets []string
	keys := make([]string, 0, len(u.Set))
	for k := range u.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		av, err := attributevalue.Marshal(u.Set[k])
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", k, err)
		}
		n, v := fmt.Sprintf("#s%d", i), fmt.Sprintf(":s%d", i)
		names[n], vals[v] = k, av
		sets = append(sets, n+" = "+v)
	}
	i := 0
	for k, n := range u.Add {
		nk, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		names[nk], vals[v] = k, &types.AttributeValueMemberN{Value: itoa(int64(n))}
		vals[":zero"] = &types.AttributeValueMemberN{Value: "0"}
		sets = append(sets, fmt.Sprintf("counts.%s = if_not_exists(counts.%s, :zero) + %s", nk, nk, v))
		i++
	}
	expr := ""
	if len(sets) > 0 {
		expr = "SET " + strings.Join(sets, ", ")
	}
	var rems []string
	for i, k := range u.Remove {
		n := fmt.Sprintf("#r%d", i)
		names[n] = k
		rems = append(rems, n)
	}
	if len(rems) > 0 {
		expr += " REMOVE " + strings.Join(rems, ", ")
	}
	cond := "attribute_exists(PK) AND NOT #st IN (:done, :blk)"
	if owner != "" {
		cond += " AND leaseOwner = :owner"
		vals[":owner"] = &types.AttributeValueMemberS{Value: owner}
	}
	return &types.Update{
		TableName: &s.data, Key: key(PrivacyPK(tenantID), prefReq+id),
		UpdateExpression: aws.String(strings.TrimSpace(expr)), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
	}, nil
}

// ErrPrivacyLeaseLost is returned when a request changed under a processor: its
// lease was taken over or the request already finished.
var ErrPrivacyLeaseLost = fmt.Errorf("privacy request lease lost")

// UpdatePrivacyRequest applies u to a request that owner holds (any unfinished
// request when owner is ""), together with the extra writes, in one transaction
// when there are any.
func (s *Store) UpdatePrivacyRequest(ctx context.Context, tenantID, id, owner string, u PrivacyUpdate, extra ...types.TransactWriteItem) error {
	up, err := s.privacyUpdate(tenantID, id, owner, u)
	if err != nil {
		return wrap("privacy update", err)
	}
	if len(extra) == 0 {
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: up.TableName, Key: up.Key, UpdateExpression: up.UpdateExpression,
			ConditionExpression: up.ConditionExpression, ExpressionAttributeNames: up.ExpressionAttributeNames,
			ExpressionAttributeValues: up.ExpressionAttributeValues,
		})
	} else {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: append([]types.TransactWriteItem{{Update: up}}, extra...),
		})
	}
	if isConditionFailed(err) {
		return ErrPrivacyLeaseLost
	}
	return wrap("update privacy request", err)
}

// ScrubPrivacyRequest removes every identifier of the subject from a request of
// any status (an earlier export of a subject who is now erased): subject, contact
// ids and the download link, leaving the salted hash. A request still open is
// ended with endStatus and endReason, so an attempt working on it stops (its next
// conditional update fails) and nothing it would add survives.
func (s *Store) ScrubPrivacyRequest(ctx context.Context, tenantID, id, subjectHash, endStatus, endReason string) error {
	now, _ := attributevalue.Marshal(s.Now())
	vals := map[string]types.AttributeValue{
		":t": &types.AttributeValueMemberBOOL{Value: true},
		":h": &types.AttributeValueMemberS{Value: subjectHash},
	}
	const scrub = "SET subjectErased = :t, subjectHash = :h"
	const drop = " REMOVE subject, contactIds, downloadUrl, downloadExpiresAt, exportKey"
	open := map[string]types.AttributeValue{
		":recv": &types.AttributeValueMemberS{Value: PrivacyReceived},
		":proc": &types.AttributeValueMemberS{Value: PrivacyProcessing},
		":end":  &types.AttributeValueMemberS{Value: endStatus},
		":why":  &types.AttributeValueMemberS{Value: endReason},
		":now":  now,
	}
	for k, v := range vals {
		open[k] = v
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(PrivacyPK(tenantID), prefReq+id),
		UpdateExpression:         aws.String(scrub + ", #st = :end, statusReason = :why, completedAt = :now" + drop + ", leaseOwner, leaseUntil"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND #st IN (:recv, :proc)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"}, ExpressionAttributeValues: open,
	})
	if !isConditionFailed(err) {
		return wrap("scrub open privacy request", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(PrivacyPK(tenantID), prefReq+id),
		UpdateExpression: aws.String(scrub + drop), ConditionExpression: aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: vals,
	})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("scrub privacy request", err)
}

// PrivacyPointer returns the write of the item, in the subject's contact
// partition, that names one of the subject's requests. It is found (and erased)
// with everything else about the subject.
func (s *Store) PrivacyPointer(tenantID, contactID, requestID string) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(struct {
		Base
		RequestID string `dynamodbav:"requestId"`
	}{
		Base: Base{PK: ContactPK(tenantID, contactID), SK: prefPrivReq + requestID, DataClass: retention.Personal,
			Entity: "privacyRequestPointer", ExpiresAt: complianceExpiresAt(s.Now())},
		RequestID: requestID,
	})
	if err != nil {
		return types.TransactWriteItem{}, wrap("marshal privacy pointer", err)
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.data, Item: item}}, nil
}

// PrivacyRequestOfPointer returns the request id a contact-partition sort key
// names, if it is a privacy request pointer.
func PrivacyRequestOfPointer(sk string) (string, bool) { return strings.CutPrefix(sk, prefPrivReq) }

// Tombstone is what remains of an erased subject: the request, the salted hashes
// of the subject's identifiers, counts and times. Nothing else.
type Tombstone struct {
	RequestID     string         `dynamodbav:"requestId" json:"requestId"`
	SubjectHashes []string       `dynamodbav:"subjectHashes" json:"subjectHashes"`
	Counts        map[string]int `dynamodbav:"counts" json:"counts"`
	ReceivedAt    time.Time      `dynamodbav:"receivedAt" json:"receivedAt"`
	CompletedAt   time.Time      `dynamodbav:"completedAt" json:"completedAt"`
}

// TombstonePut returns the write of a tombstone, for the transaction that
// completes an erasure.
func (s *Store) TombstonePut(tenantID string, t Tombstone) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(struct {
		Base
		Tombstone
	}{
		Base: Base{PK: PrivacyPK(tenantID), SK: prefTomb + t.RequestID, DataClass: retention.Personal,
			Entity: "tombstone", ExpiresAt: complianceExpiresAt(t.CompletedAt)},
		Tombstone: t,
	})
	if err != nil {
		return types.TransactWriteItem{}, wrap("marshal tombstone", err)
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.data, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")}}, nil
}

// Tombstone reads the tombstone an erasure request left.
func (s *Store) Tombstone(ctx context.Context, tenantID, requestID string) (*Tombstone, error) {
	var it struct {
		Base
		Tombstone
	}
	ok, err := s.getLive(ctx, PrivacyPK(tenantID), prefTomb+requestID, true, &it)
	if err != nil {
		return nil, wrap("get tombstone", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return &it.Tombstone, nil
}
