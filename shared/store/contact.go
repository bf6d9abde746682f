package store

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

type contactItem struct {
	Base
	chat.Contact
}

// Contact reads a contact; missing, expired or foreign is chat.ErrNotFound.
func (s *Store) Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error) {
	var it contactItem
	ok, err := s.getLive(ctx, ContactPK(tenantID, contactID), SKProfile, false, &it)
	if err != nil {
		return nil, wrap("get contact", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	it.Contact.TenantID = tenantID
	return &it.Contact, nil
}

// A contact's profile is written only by updates of its own attributes, never
// replaced: frames of one visitor run in parallel Lambda instances (a first
// message opens a conversation while identify sets the name), and a whole-item
// put of what one of them read would undo the other's write.
//
// Every visitor write (identify, opening a conversation) is a contactWrite: the
// attributes of its change, plus what follows from the visit (LastSeenAt, the
// retention index position and expiresAt it gives), plus the profile's identity,
// set only where missing, so the first write creates a whole profile. It applies
// to a live or missing profile only: one past its expiresAt is gone for every
// read, so it is deleted first and the write starts a new one. A contact on
// legal hold gets no expiresAt; under a tenant-wide hold none is kept.

// contactWrite is one update of a contact profile.
type contactWrite struct {
	pk    string
	names map[string]string
	vals  map[string]types.AttributeValue
	sets  []string
	conds []string
	exp   int64 // the expiresAt the visit gives (0: tenant-wide hold)
}

// visitWrite starts the update of a visit of the contact at now under p.
func (s *Store) visitWrite(tenantID, contactID string, now time.Time, p retention.Periods) *contactWrite {
	w := &contactWrite{pk: ContactPK(tenantID, contactID), names: map[string]string{},
		vals: map[string]types.AttributeValue{}, exp: retention.ExpiresAt(p, retention.Personal, now)}
	w.set("ID", str(contactID))
	w.set("TenantID", str(tenantID))
	w.setIfMissing("CreatedAt", timeValue(now))
	w.setIfMissing("LegalHold", &types.AttributeValueMemberBOOL{Value: false})
	w.setIfMissing("MarketingOptOut", &types.AttributeValueMemberBOOL{Value: false})
	w.setKey("entity", str("contact"))
	w.setKey("dataClass", str(string(retention.Personal)))
	w.set("LastSeenAt", timeValue(now))
	w.setKey("GSI2PK", str(RetentionKey(tenantID, string(retention.Personal), now, w.pk)))
	w.setKey("GSI2SK", str(RetentionSort(now, w.pk)))
	w.vals[":now"] = s.nowValue()
	// Live or missing: an expired profile is deleted first (profileState).
	w.conds = append(w.conds, "(attribute_not_exists(PK) OR attribute_not_exists(expiresAt) OR expiresAt > :now)")
	return w
}

// set sets a field of chat.Contact (stored under its Go name).
func (w *contactWrite) set(field string, v types.AttributeValue) {
	w.names["#"+field] = attrName(chat.Contact{}, field)
	w.vals[":"+field] = v
	w.sets = append(w.sets, "#"+field+" = :"+field)
}

// setIfMissing sets a field of chat.Contact on a profile that has none.
func (w *contactWrite) setIfMissing(field string, v types.AttributeValue) {
	w.names["#"+field] = attrName(chat.Contact{}, field)
	w.vals[":"+field] = v
	w.sets = append(w.sets, "#"+field+" = if_not_exists(#"+field+", :"+field+")")
}

// unchanged conditions the write on a field of chat.Contact still holding
// was, as read (missing when was is empty).
func (w *contactWrite) unchanged(field, was string) {
	w.names["#"+field] = attrName(chat.Contact{}, field)
	w.vals[":"+field+"Was"] = str(was)
	cond := "#" + field + " = :" + field + "Was"
	if was == "" {
		cond = "(attribute_not_exists(#" + field + ") OR " + cond + ")"
	}
	w.conds = append(w.conds, cond)
}

// setKey sets one of the store's own attributes (keys of the indexes, entity,
// dataClass).
func (w *contactWrite) setKey(name string, v types.AttributeValue) {
	w.vals[":"+name] = v
	w.sets = append(w.sets, name+" = :"+name)
}

// input returns the update, for a profile that is on legal hold (held) or not.
func (w *contactWrite) input(table string, held bool) *dynamodb.UpdateItemInput {
	names, vals := maps.Clone(w.names), maps.Clone(w.vals)
	sets, conds := slices.Clone(w.sets), slices.Clone(w.conds)
	expr := ""
	switch {
	case w.exp == 0:
		expr = " REMOVE expiresAt"
	case held:
		conds = append(conds, "#LegalHold = :held")
		vals[":held"] = &types.AttributeValueMemberBOOL{Value: true}
	default:
		conds = append(conds, "(attribute_not_exists(#LegalHold) OR #LegalHold = :held)")
		vals[":held"] = &types.AttributeValueMemberBOOL{Value: false}
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(w.exp)}
		sets = append(sets, "expiresAt = :exp")
	}
	return &dynamodb.UpdateItemInput{
		TableName: &table, Key: key(w.pk, SKProfile),
		UpdateExpression:          aws.String("SET " + strings.Join(sets, ", ") + expr),
		ConditionExpression:       aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}
}

// writeContact runs the write and returns the profile after it. A failed
// condition says why in the profile it returns: past its expiresAt (deleted,
// then the write is tried again) or on legal hold, or no longer (tried again
// as such). A write refused for a transaction in progress is tried again.
func (s *Store) writeContact(ctx context.Context, w *contactWrite) (*contactItem, error) {
	held := false
	for range 4 {
		in := w.input(s.data, held)
		in.ReturnValues = types.ReturnValueAllNew
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		res, err := s.db.UpdateItem(ctx, in)
		if err == nil {
			var it contactItem
			if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
				return nil, wrap("unmarshal contact", err)
			}
			return &it, nil
		}
		if isTransactionConflict(err) {
			conflictPause()
			continue
		}
		var cf *types.ConditionalCheckFailedException
		if !asCondition(err, &cf) {
			return nil, wrap("update contact", err)
		}
		old, err := s.profileState(ctx, w.pk, cf.Item)
		if err != nil {
			return nil, err
		}
		held = old != nil && old.LegalHold
	}
	return nil, chat.Errorf(chat.EConflict, "the contact is changing, try again")
}

// profileState returns a contact profile as stored (nil when missing), after
// deleting it if it is past its expiresAt (then nil too).
func (s *Store) profileState(ctx context.Context, pk string, item map[string]types.AttributeValue) (*contactItem, error) {
	if item == nil {
		return nil, nil
	}
	var it contactItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, wrap("unmarshal contact", err)
	}
	if !retention.Expired(it.ExpiresAt, s.Now()) {
		return &it, nil
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.data, Key: key(pk, SKProfile),
		ConditionExpression:       aws.String("expiresAt <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": s.nowValue()},
	})
	if err != nil && !isConditionFailed(err) {
		return nil, wrap("delete expired contact", err)
	}
	return nil, nil
}

// Identify sets the name and email a visitor gave in the pre-chat form (and the
// email index entry), creating the contact if it is new. It changes nothing
// else of the contact.
func (s *Store) Identify(ctx context.Context, tenantID, contactID, name, email string, p retention.Periods) (*chat.Contact, error) {
	w := s.visitWrite(tenantID, contactID, s.Now(), p)
	w.set("Name", str(name))
	w.set("Email", str(email))
	w.setKey("GSI1PK", str(EmailKey(tenantID, email)))
	w.setKey("GSI1SK", str("CONTACT#"+contactID))
	it, err := s.writeContact(ctx, w)
	if err != nil {
		return nil, wrap("identify", err)
	}
	it.Contact.TenantID = tenantID
	if err := s.nameConversation(ctx, &it.Contact); err != nil {
		return nil, err
	}
	return &it.Contact, nil
}

// ConversationPointer is the small item under a contact that names one of its
// conversations, so everything about a subject is found by Query.
type conversationPointer struct {
	Base
	ConversationID string `dynamodbav:"conversationId"`
}

// OpenConversation returns the visitor's contact and open conversation id,
// opening a conversation (and creating the contact) when there is none. The fast
// path is one read: closing a conversation clears the contact's
// openConversationId. Two racing first messages open one conversation: the
// contact's update is conditioned on naming none, and the loser reads the
// winner's. It sets only the contact's OpenConversationID and what a visit sets,
// so a concurrent identify keeps its name and email; and the conversation is
// opened with them (an identify between the read and the write makes it read
// again).
func (s *Store) OpenConversation(ctx context.Context, tenantID, contactID, channel string, p retention.Periods) (*chat.Contact, string, error) {
	pk := ContactPK(tenantID, contactID)
	for range 3 {
		res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.data, Key: key(pk, SKProfile), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, "", wrap("get contact", err)
		}
		old, err := s.profileState(ctx, pk, res.Item)
		if err != nil {
			return nil, "", err
		}
		now := s.Now()
		c := &chat.Contact{ID: contactID, CreatedAt: now}
		if old != nil {
			c = &old.Contact
		}
		c.TenantID = tenantID
		if c.OpenConversationID != "" {
			return c, c.OpenConversationID, nil
		}
		cv := &chat.Conversation{ID: newConversationID(), TenantID: tenantID, ContactID: contactID,
			Channel: channel, Status: chat.StatusOpen, CreatedAt: now, LastActivityAt: now,
			ContactName: c.Name, ContactEmail: c.Email}
		err = s.openConversationTx(ctx, c, cv, now, p)
		if err == nil {
			c.OpenConversationID, c.LastSeenAt = cv.ID, now
			return c, cv.ID, nil
		}
		if isTransactionConflict(err) {
			conflictPause()
		} else if !isConditionFailed(err) {
			return nil, "", wrap("open conversation", err)
		}
	}
	return nil, "", chat.Errorf(chat.EConflict, "conversation is being opened, try again")
}

// openConversationTx writes a new conversation, its pointer, and the contact's
// OpenConversationID, on the condition that the contact (as read: c) still
// names no open conversation, has the name and email read, and is still on
// legal hold or not as it was.
func (s *Store) openConversationTx(ctx context.Context, c *chat.Contact, cv *chat.Conversation, now time.Time, p retention.Periods) error {
	conv, err := attributevalue.MarshalMap(conversationItem{Base: conversationBase(cv, p), Conversation: *cv})
	if err != nil {
		return err
	}
	ptr, err := attributevalue.MarshalMap(conversationPointer{
		Base: Base{PK: ContactPK(c.TenantID, c.ID), SK: prefConv + cv.ID, DataClass: retention.Communication,
			Entity: "conversationPointer", ExpiresAt: retention.ExpiresAt(p, retention.Communication, cv.CreatedAt)},
		ConversationID: cv.ID,
	})
	if err != nil {
		return err
	}
	w := s.visitWrite(c.TenantID, c.ID, now, p)
	w.set("OpenConversationID", str(cv.ID))
	w.vals[":none"] = str("")
	w.conds = append(w.conds, "(attribute_not_exists(#OpenConversationID) OR #OpenConversationID = :none)")
	// The conversation keeps the name and email as read: an identify since
	// (which found no conversation to name) fails this, and the opening is
	// tried again with them.
	w.unchanged("Name", c.Name)
	w.unchanged("Email", c.Email)
	in := w.input(s.data, c.LegalHold)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
			ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
			ExpressionAttributeValues: in.ExpressionAttributeValues}},
		{Put: &types.Put{TableName: &s.data, Item: conv, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: &s.data, Item: ptr, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	return err
}

// isTransactionConflict reports whether DynamoDB refused a write because a
// transaction on the same item was in progress (a visitor's identify and its
// first message, which opens a conversation in a transaction, do meet). The
// write changed nothing and is worth trying again.
func isTransactionConflict(err error) bool {
	var tc *types.TransactionConflictException
	if errors.As(err, &tc) {
		return true
	}
	var cancel *types.TransactionCanceledException
	if errors.As(err, &cancel) {
		for _, r := range cancel.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return true
			}
		}
	}
	return false
}

// conflictPause waits a little before a write that met a transaction is tried
// again: the transaction takes some milliseconds.
func conflictPause() { time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond) }

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// timeValue is a time as attributevalue stores a time.Time.
func timeValue(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberS{Value: t.UTC().Format(time.RFC3339Nano)}
}
