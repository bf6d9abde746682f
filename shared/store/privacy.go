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

// privacyRecord is the stored form of a chat.PrivacyRequest.
type privacyRecord struct {
	ID                string              `dynamodbav:"id"`
	TenantID          string              `dynamodbav:"tenantId"`
	Type              string              `dynamodbav:"type"`
	Reason            string              `dynamodbav:"reason"`
	Subject           *privacySubjectItem `dynamodbav:"subject,omitempty"`
	SubjectErased     bool                `dynamodbav:"subjectErased,omitempty"`
	ContactIDs        []string            `dynamodbav:"contactIds,omitempty"`
	SubjectHashes     []string            `dynamodbav:"subjectHashes,omitempty"`
	SubjectHash       string              `dynamodbav:"subjectHash,omitempty"`
	Resolved          bool                `dynamodbav:"resolved,omitempty"`
	Status            string              `dynamodbav:"status"`
	StatusReason      string              `dynamodbav:"statusReason,omitempty"`
	RequestedBy       string              `dynamodbav:"requestedBy,omitempty"`
	ReceivedAt        time.Time           `dynamodbav:"receivedAt"`
	DueAt             time.Time           `dynamodbav:"dueAt"`
	StartedAt         *time.Time          `dynamodbav:"startedAt,omitempty"`
	CompletedAt       *time.Time          `dynamodbav:"completedAt,omitempty"`
	Attempts          int                 `dynamodbav:"attempts"`
	Counts            map[string]int      `dynamodbav:"counts"`
	Errors            []string            `dynamodbav:"errors,omitempty"`
	ExportKey         string              `dynamodbav:"exportKey,omitempty"`
	DownloadURL       string              `dynamodbav:"downloadUrl,omitempty"`
	DownloadExpiresAt *time.Time          `dynamodbav:"downloadExpiresAt,omitempty"`
	LeaseOwner        string              `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntil        int64               `dynamodbav:"leaseUntil,omitempty"`
}

type privacySubjectItem struct {
	ContactID  string `dynamodbav:"contactId,omitempty"`
	VisitorID  string `dynamodbav:"visitorId,omitempty"`
	Email      string `dynamodbav:"email,omitempty"`
	Channel    string `dynamodbav:"channel,omitempty"`
	ExternalID string `dynamodbav:"externalId,omitempty"`
}

func privacyRecordOf(r *chat.PrivacyRequest) privacyRecord {
	var subject *privacySubjectItem
	if r.Subject != nil {
		subject = (*privacySubjectItem)(r.Subject)
	}
	return privacyRecord{ID: r.ID, TenantID: r.TenantID, Type: r.Type, Reason: r.Reason, Subject: subject,
		SubjectErased: r.SubjectErased, ContactIDs: r.ContactIDs, SubjectHashes: r.SubjectHashes, SubjectHash: r.SubjectHash,
		Resolved: r.Resolved, Status: r.Status, StatusReason: r.StatusReason, RequestedBy: r.RequestedBy,
		ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt,
		Attempts: r.Attempts, Counts: r.Counts, Errors: r.Errors, ExportKey: r.ExportKey, DownloadURL: r.DownloadURL,
		DownloadExpiresAt: r.DownloadExpiresAt, LeaseOwner: r.LeaseOwner, LeaseUntil: r.LeaseUntil}
}

// request returns the request of a record read in the tenant's partition.
func (it privacyRecord) request(tenantID string) *chat.PrivacyRequest {
	var subject *chat.PrivacySubject
	if it.Subject != nil {
		subject = (*chat.PrivacySubject)(it.Subject)
	}
	return &chat.PrivacyRequest{ID: it.ID, TenantID: tenantID, Type: it.Type, Reason: it.Reason, Subject: subject,
		SubjectErased: it.SubjectErased, ContactIDs: it.ContactIDs, SubjectHashes: it.SubjectHashes, SubjectHash: it.SubjectHash,
		Resolved: it.Resolved, Status: it.Status, StatusReason: it.StatusReason, RequestedBy: it.RequestedBy,
		ReceivedAt: it.ReceivedAt, DueAt: it.DueAt, StartedAt: it.StartedAt, CompletedAt: it.CompletedAt,
		Attempts: it.Attempts, Counts: it.Counts, Errors: it.Errors, ExportKey: it.ExportKey, DownloadURL: it.DownloadURL,
		DownloadExpiresAt: it.DownloadExpiresAt, LeaseOwner: it.LeaseOwner, LeaseUntil: it.LeaseUntil}
}

type privacyRequestItem struct {
	Base
	privacyRecord
}

// PrivacyPK is the partition of a tenant's privacy requests and tombstones.
func PrivacyPK(tenantID string) string { return TenantPrefix(tenantID) + "PRIVACY" }

// complianceExpiresAt is the expiresAt of privacy requests, tombstones and
// suppressions: records the platform keeps to show it honoured a request, for the
// platform's longest personal-data period whatever the tenant chose.
func complianceExpiresAt(at time.Time) int64 { return retention.ComplianceExpiresAt(at) }

// PutPrivacyRequest records a new request; the id must be new.
func (s *Store) PutPrivacyRequest(ctx context.Context, r *chat.PrivacyRequest) error {
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	item, err := attributevalue.MarshalMap(privacyRequestItem{
		Base: Base{PK: PrivacyPK(r.TenantID), SK: prefReq + r.ID, DataClass: retention.Personal,
			Entity: "privacyRequest", ExpiresAt: complianceExpiresAt(r.ReceivedAt)},
		privacyRecord: privacyRecordOf(r),
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
func (s *Store) PrivacyRequest(ctx context.Context, tenantID, id string) (*chat.PrivacyRequest, error) {
	var it privacyRequestItem
	ok, err := s.getLive(ctx, PrivacyPK(tenantID), prefReq+id, true, &it)
	if err != nil {
		return nil, wrap("get privacy request", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	r := it.request(tenantID)
	r.Overdue = r.IsOverdue(s.Now())
	return r, nil
}

// PrivacyRequests lists a tenant's requests, newest first, up to limit, starting
// after the request id after ("" for the first page). It returns the id to pass
// for the next page, or "" at the end.
func (s *Store) PrivacyRequests(ctx context.Context, tenantID, after string, limit int) ([]*chat.PrivacyRequest, string, error) {
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
	out := make([]*chat.PrivacyRequest, len(items))
	for i := range items {
		r := items[i].request(tenantID)
		r.Overdue = r.IsOverdue(now)
		out[i] = r
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
func (s *Store) ClaimPrivacyRequest(ctx context.Context, tenantID, id, owner string, lease time.Duration) (*chat.PrivacyRequest, error) {
	now := s.Now()
	startedAt, _ := attributevalue.Marshal(now)
	mark := newMark()
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(PrivacyPK(tenantID), prefReq+id),
		UpdateExpression: aws.String("SET #st = :proc, leaseOwner = :o, leaseUntil = :lu, " + attrWriteMark + " = :mark, " +
			"startedAt = if_not_exists(startedAt, :started), attempts = if_not_exists(attempts, :zero) + :one"),
		// The claim's own mark: its resend counts no attempt twice (below).
		ConditionExpression: aws.String("attribute_exists(PK) AND #st IN (:recv, :proc) AND " +
			"(attribute_not_exists(leaseUntil) OR leaseUntil < :nowUnix OR leaseOwner = :o) AND " +
			"(attribute_not_exists(" + attrWriteMark + ") OR " + attrWriteMark + " <> :mark)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":mark":    mark,
			":proc":    &types.AttributeValueMemberS{Value: chat.PrivacyProcessing},
			":recv":    &types.AttributeValueMemberS{Value: chat.PrivacyReceived},
			":o":       &types.AttributeValueMemberS{Value: owner},
			":lu":      &types.AttributeValueMemberN{Value: itoa(now.Add(lease).Unix())},
			":nowUnix": &types.AttributeValueMemberN{Value: itoa(now.Unix())},
			":started": startedAt,
			":zero":    &types.AttributeValueMemberN{Value: "0"},
			":one":     &types.AttributeValueMemberN{Value: "1"},
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var state map[string]types.AttributeValue
	var cf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		state = res.Attributes
	case asCondition(err, &cf) && wroteBefore(cf.Item, markOf(mark)):
		state = cf.Item // the SDK's resend of this claim: as the first attempt left it
	case isConditionFailed(err):
		cur, gerr := s.PrivacyRequest(ctx, tenantID, id)
		if gerr != nil {
			return nil, gerr
		}
		if cur.Terminal() {
			return cur, nil
		}
		return nil, ErrPrivacyBusy
	default:
		return nil, wrap("claim privacy request", err)
	}
	var it privacyRequestItem
	if err := attributevalue.UnmarshalMap(state, &it); err != nil {
		return nil, wrap("unmarshal privacy request", err)
	}
	return it.request(tenantID), nil
}

// privacyChange spells u as the attributes to set and to remove.
func privacyChange(u chat.PrivacyUpdate) (set map[string]any, remove []string) {
	set = map[string]any{}
	put := func(name string, v any, ok bool) {
		if ok {
			set[name] = v
		}
	}
	put("status", u.Status, u.Status != "")
	put("statusReason", u.StatusReason, u.StatusReason != "")
	if u.CompletedAt != nil {
		set["completedAt"] = *u.CompletedAt
	}
	put("errors", u.Errors, u.Errors != nil)
	put("counts", u.Counts, u.Counts != nil)
	put("subjectHashes", u.SubjectHashes, u.SubjectHashes != nil)
	put("contactIds", u.ContactIDs, u.ContactIDs != nil)
	put("resolved", true, u.Resolved)
	put("subjectErased", true, u.SubjectErased)
	put("exportKey", u.ExportKey, u.ExportKey != "")
	put("downloadUrl", u.DownloadURL, u.DownloadURL != "")
	if u.DownloadExpiresAt != nil {
		set["downloadExpiresAt"] = *u.DownloadExpiresAt
	}
	if u.DropSubject {
		remove = append(remove, "subject", "contactIds")
	}
	if u.Release {
		remove = append(remove, "leaseOwner", "leaseUntil")
	}
	return set, remove
}

// privacyUpdate builds the conditional update of a request held by owner (or, for
// owner "", of any request not yet finished).
func (s *Store) privacyUpdate(tenantID, id, owner string, u chat.PrivacyUpdate) (*types.Update, error) {
	set, remove := privacyChange(u)
	names := map[string]string{"#st": "status"}
	vals := map[string]types.AttributeValue{
		":done": &types.AttributeValueMemberS{Value: chat.PrivacyCompleted},
		":blk":  &types.AttributeValueMemberS{Value: chat.PrivacyBlocked},
	}
	var sets []string
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		av, err := attributevalue.Marshal(set[k])
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
	// Each update writes a mark of its own and is refused where it finds it:
	// the SDK's resend of an update whose answer was lost adds no count twice,
	// and is known as this update's (see updatePrivacyRequest).
	sets = append(sets, attrWriteMark+" = :mark")
	vals[":mark"] = newMark()
	expr := "SET " + strings.Join(sets, ", ")
	var rems []string
	for i, k := range remove {
		n := fmt.Sprintf("#r%d", i)
		names[n] = k
		rems = append(rems, n)
	}
	if len(rems) > 0 {
		expr += " REMOVE " + strings.Join(rems, ", ")
	}
	cond := "attribute_exists(PK) AND NOT #st IN (:done, :blk) AND (attribute_not_exists(" + attrWriteMark + ") OR " + attrWriteMark + " <> :mark)"
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
// request when owner is "").
func (s *Store) UpdatePrivacyRequest(ctx context.Context, tenantID, id, owner string, u chat.PrivacyUpdate) error {
	return s.updatePrivacyRequest(ctx, tenantID, id, owner, u)
}

// updatePrivacyRequest applies u to a request that owner holds, together with
// the extra writes, in one transaction when there are any. A lost lease (or a
// finished request) is ErrPrivacyLeaseLost.
func (s *Store) updatePrivacyRequest(ctx context.Context, tenantID, id, owner string, u chat.PrivacyUpdate, extra ...types.TransactWriteItem) error {
	up, err := s.privacyUpdate(tenantID, id, owner, u)
	if err != nil {
		return wrap("privacy update", err)
	}
	if len(extra) == 0 {
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: up.TableName, Key: up.Key, UpdateExpression: up.UpdateExpression,
			ConditionExpression: up.ConditionExpression, ExpressionAttributeNames: up.ExpressionAttributeNames,
			ExpressionAttributeValues:           up.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var cf *types.ConditionalCheckFailedException
		if asCondition(err, &cf) && wroteBefore(cf.Item, markOf(up.ExpressionAttributeValues[":mark"])) {
			return nil // the SDK's resend of this update
		}
	} else { // a transaction: its resend is answered by its client request token
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
		":recv": &types.AttributeValueMemberS{Value: chat.PrivacyReceived},
		":proc": &types.AttributeValueMemberS{Value: chat.PrivacyProcessing},
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

// PutPrivacyPointer writes the item, in the subject's contact partition, that
// names one of the subject's requests. It is found (and erased) with everything
// else about the subject. Writing it again is no error.
func (s *Store) PutPrivacyPointer(ctx context.Context, tenantID, contactID, requestID string) error {
	return s.putPointer(ctx, ContactPK(tenantID, contactID), prefPrivReq+requestID, requestID)
}

// PutSubjectPointer writes the pointer to a request about a subject that has
// no contact partition, a Slack member, next to the member's item, so a later
// erasure of the member finds the request (and deletes its export file). For
// any other subject it writes nothing.
func (s *Store) PutSubjectPointer(ctx context.Context, tenantID string, subject *chat.PrivacySubject, requestID string) error {
	pk, sk := slackMemberKey(tenantID, subject)
	if pk == "" {
		return nil
	}
	return s.putPointer(ctx, pk, memberPointerPrefix(sk)+requestID, requestID)
}

func (s *Store) putPointer(ctx context.Context, pk, sk, requestID string) error {
	item, err := attributevalue.MarshalMap(struct {
		Base
		RequestID string `dynamodbav:"requestId"`
	}{
		Base: Base{PK: pk, SK: sk, DataClass: retention.Personal,
			Entity: "privacyRequestPointer", ExpiresAt: complianceExpiresAt(s.Now())},
		RequestID: requestID,
	})
	if err != nil {
		return wrap("marshal privacy pointer", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put request pointer", err)
}

// tombstoneItem is the stored form of a chat.Tombstone.
type tombstoneItem struct {
	Base
	RequestID     string         `dynamodbav:"requestId"`
	SubjectHashes []string       `dynamodbav:"subjectHashes"`
	Counts        map[string]int `dynamodbav:"counts"`
	ReceivedAt    time.Time      `dynamodbav:"receivedAt"`
	CompletedAt   time.Time      `dynamodbav:"completedAt"`
}

// CompleteErasure ends an erasure that owner holds: it applies u to the request
// and writes the tombstone t, in one transaction. A lost lease is
// ErrPrivacyLeaseLost, and then nothing is written. The tombstone's period
// counts from the request's receipt, as the request's own does, so every
// audit event of the request (made at or after receipt, kept as long) lasts
// at least as long as the tombstone.
func (s *Store) CompleteErasure(ctx context.Context, tenantID, id, owner string, u chat.PrivacyUpdate, t chat.Tombstone) error {
	item, err := attributevalue.MarshalMap(tombstoneItem{
		Base: Base{PK: PrivacyPK(tenantID), SK: prefTomb + t.RequestID, DataClass: retention.Personal,
			Entity: "tombstone", ExpiresAt: complianceExpiresAt(t.ReceivedAt)},
		RequestID: t.RequestID, SubjectHashes: t.SubjectHashes, Counts: t.Counts,
		ReceivedAt: t.ReceivedAt, CompletedAt: t.CompletedAt,
	})
	if err != nil {
		return wrap("marshal tombstone", err)
	}
	return s.updatePrivacyRequest(ctx, tenantID, id, owner, u, types.TransactWriteItem{Put: &types.Put{
		TableName: &s.data, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}})
}

// Tombstone reads the tombstone an erasure request left.
func (s *Store) Tombstone(ctx context.Context, tenantID, requestID string) (*chat.Tombstone, error) {
	var it tombstoneItem
	ok, err := s.getLive(ctx, PrivacyPK(tenantID), prefTomb+requestID, true, &it)
	if err != nil {
		return nil, wrap("get tombstone", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return &chat.Tombstone{RequestID: it.RequestID, SubjectHashes: it.SubjectHashes, Counts: it.Counts,
		ReceivedAt: it.ReceivedAt, CompletedAt: it.CompletedAt}, nil
}
