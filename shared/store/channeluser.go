package store

import (
	"context"
	"fmt"
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

// The items of a messaging channel's users (Messenger, Instagram, WhatsApp...):
//
//	item              PK                                        SK                                 class
//	channel user      T#t#CHUSER#<channel>#<account>#<user>     USER                               personal   (the lookup: contactId, lastInboundAt)
//	user of contact   T#t#CONTACT#c                             CHUSER#<channel>#<account>#<user>  personal   (channel, externalId, name, userPK)
//	inbound marker    T#t#CONTACT#c                             INBOUND#<dedupe key>               technical  (conversationId)
//
// The lookup is what an inbound webhook finds a contact by: one UpdateItem per
// message records the time of the user's last message (the reply window
// counts from it) and returns the contact id, creating it on the user's first
// message (if_not_exists, so two racing first messages get one contact). The
// contact's own item names the lookup (userPK), so a privacy request, which
// finds everything from the contact partition, finds the lookup too, and an
// erasure deletes the lookup before the item that leads to it.
//
// The inbound marker dedupes a provider's message id (mid, wamid) for the
// contact across conversations: a redelivery after the conversation closed
// still finds the conversation it was stored in (WhatsApp retries for 7 days).
const (
	skChannelUser   = "USER"
	prefContactUser = "CHUSER#"
	prefInbound     = "INBOUND#"
)

// ChannelUserPK is the lookup partition of a user of a channel account.
func ChannelUserPK(tenantID, channel, account, user string) string {
	return TenantPrefix(tenantID) + "CHUSER#" + channel + "#" + account + "#" + user
}

func contactUserSK(u *chat.ChannelUser) string {
	return prefContactUser + u.Channel + "#" + u.Account + "#" + u.UserID
}

// channelUserRecord is a channel user as stored, on both items.
type channelUserRecord struct {
	Channel     string `dynamodbav:"channel"`
	Account     string `dynamodbav:"account"`
	UserID      string `dynamodbav:"userId"`
	ExternalID  string `dynamodbav:"externalId"`
	DisplayName string `dynamodbav:"displayName,omitempty"`
	ContactID   string `dynamodbav:"contactId"`
	// LastInbound is TimeKey of the user's last message: fixed width, so
	// a condition compares it.
	LastInbound string `dynamodbav:"lastInboundAt,omitempty"`
	// UserPK (on the contact's item) is the lookup's partition key.
	UserPK string `dynamodbav:"userPK,omitempty"`
	// SideDay (on the lookup) is the day the contact's item was last
	// written: it is renewed with the lookup's expiry once a day.
	SideDay string `dynamodbav:"sideDay,omitempty"`
	// On the lookup: LINE's last reply token and when it came; whether the
	// user stopped the channel's messages.
	ReplyToken   string `dynamodbav:"replyToken,omitempty"`
	ReplyTokenAt string `dynamodbav:"replyTokenAt,omitempty"`
	Unsubscribed bool   `dynamodbav:"unsubscribed,omitempty"`
	// On the lookup: the sends counted against a per-message quota
	// (WeChat's 5 within 48 hours): QuotaOf is the LastInbound they count
	// after, QuotaParts the message parts counted (a retried part counts
	// once).
	QuotaOf    string   `dynamodbav:"quotaOf,omitempty"`
	QuotaParts []string `dynamodbav:"quotaParts,omitempty,stringset"`
}

type channelUserItem struct {
	Base
	channelUserRecord
}

func (r channelUserRecord) user() *chat.ChannelUser {
	last, _ := time.Parse(timeKey, r.LastInbound)
	replyAt, _ := time.Parse(timeKey, r.ReplyTokenAt)
	quotaOf, _ := time.Parse(timeKey, r.QuotaOf)
	return &chat.ChannelUser{Channel: r.Channel, Account: r.Account, UserID: r.UserID, DisplayName: r.DisplayName,
		ContactID: r.ContactID, LastInboundAt: last, ReplyToken: r.ReplyToken, ReplyTokenAt: replyAt, Unsubscribed: r.Unsubscribed,
		QuotaOf: quotaOf, QuotaParts: r.QuotaParts}
}

// TouchChannelUser records a message of u (u.Channel, Account, UserID and
// DisplayName, if the provider gave one) received at at, and returns the user
// with the contact it is: the stored one, or, for a user never seen,
// u.ContactID (a new contact id the caller chose). The user's last inbound
// time never moves back (a late redelivery leaves it; providers' times are
// whole seconds, so a message of the same second writes it again). Once a day it renews
// the expiry of both of the user's items (personal data, counted from the
// user's last message; items on legal hold keep none).
func (s *Store) TouchChannelUser(ctx context.Context, tenantID string, u *chat.ChannelUser, at time.Time, p retention.Periods) (*chat.ChannelUser, error) {
	if u.Channel == "" || u.Account == "" || u.UserID == "" || u.ContactID == "" {
		return nil, fmt.Errorf("touch channel user: channel, account, user and contact id are required")
	}
	pk := ChannelUserPK(tenantID, u.Channel, u.Account, u.UserID)
	vals := map[string]types.AttributeValue{":at": str(TimeKey(at))}
	set := []string{"lastInboundAt = :at"}
	if u.DisplayName != "" {
		vals[":name"] = str(u.DisplayName)
		set = append(set, "displayName = :name")
	}
	if u.ReplyToken != "" {
		vals[":rt"] = str(u.ReplyToken)
		set = append(set, "replyToken = :rt", "replyTokenAt = :at")
	}
	// Most messages are of a known user: one update, that leaves the expiry
	// alone (an item on legal hold has none). A new user is created with its
	// expiry; a lost race or a later message recorded first is read.
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(pk, skChannelUser),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("attribute_exists(PK) AND lastInboundAt <= :at"),
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		res, err = s.createChannelUser(ctx, pk, u, at, p)
	}
	var it channelUserItem
	switch {
	case err == nil:
		err = attributevalue.UnmarshalMap(res.Attributes, &it)
	case isConditionFailed(err):
		var ok bool
		if ok, err = s.getLive(ctx, pk, skChannelUser, true, &it); err == nil && !ok {
			err = fmt.Errorf("channel user vanished")
		}
	}
	if err != nil {
		return nil, wrap("touch channel user", err)
	}
	if day := DayEnd(at).Format(time.DateOnly); it.SideDay < day {
		if err := s.renewChannelUser(ctx, tenantID, pk, &it, day, at, p); err != nil {
			return nil, err
		}
	}
	return it.user(), nil
}

// createChannelUser writes the lookup of a user never seen, on the condition
// that it does not exist.
func (s *Store) createChannelUser(ctx context.Context, pk string, u *chat.ChannelUser, at time.Time, p retention.Periods) (*dynamodb.UpdateItemOutput, error) {
	it := channelUserItem{
		Base: Base{PK: pk, SK: skChannelUser, DataClass: retention.Personal, Entity: "channelUser",
			GSI2PK: RetentionKey(TenantOfKey(pk), string(retention.Personal), DayEnd(at), pk), GSI2SK: RetentionSort(DayEnd(at), pk+"#"+skChannelUser),
			ExpiresAt: retention.ExpiresAt(p, retention.Personal, DayEnd(at))},
		channelUserRecord: channelUserRecord{Channel: u.Channel, Account: u.Account, UserID: u.UserID, ExternalID: u.ExternalID(),
			DisplayName: u.DisplayName, ContactID: u.ContactID, LastInbound: TimeKey(at), ReplyToken: u.ReplyToken, ReplyTokenAt: replyAt(u.ReplyToken, at)},
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemOutput{Attributes: item}, nil
}

// renewChannelUser writes the contact's item of the user and then records on
// the lookup that it did (SideDay), moving both expiries, and their retention
// index entries, to the personal period after at's day (so the sweep applies
// a shorter personal period to them). Items without expiresAt (legal hold)
// keep none.
func (s *Store) renewChannelUser(ctx context.Context, tenantID, pk string, it *channelUserItem, day string, at time.Time, p retention.Periods) error {
	exp := retention.ExpiresAt(p, retention.Personal, DayEnd(at))
	spk, ssk, basis := ContactPK(tenantID, it.ContactID), contactUserSK(it.user()), DayEnd(at)
	side := channelUserItem{
		Base: Base{PK: spk, SK: ssk, DataClass: retention.Personal, Entity: "contactChannelUser", ExpiresAt: exp,
			GSI2PK: RetentionKey(tenantID, string(retention.Personal), basis, spk), GSI2SK: RetentionSort(basis, spk+"#"+ssk)},
		channelUserRecord: channelUserRecord{Channel: it.Channel, Account: it.Account, UserID: it.UserID,
			ExternalID: it.ExternalID, DisplayName: it.DisplayName, ContactID: it.ContactID, UserPK: pk},
	}
	item, err := attributevalue.MarshalMap(side)
	if err != nil {
		return wrap("marshal contact channel user", err)
	}
	in := &dynamodb.PutItemInput{TableName: &s.data, Item: item}
	if exp != 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(PK) OR attribute_exists(expiresAt)")
	}
	if _, err := s.db.PutItem(ctx, in); err != nil && !isConditionFailed(err) {
		return wrap("put contact channel user", err)
	}
	vals := map[string]types.AttributeValue{":day": str(day)}
	upd := "SET sideDay = :day"
	cond := "attribute_exists(PK)"
	if exp != 0 {
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(exp)}
		vals[":g2pk"] = str(RetentionKey(tenantID, string(retention.Personal), basis, pk))
		vals[":g2sk"] = str(RetentionSort(basis, pk+"#"+skChannelUser))
		upd += ", expiresAt = :exp, GSI2PK = :g2pk, GSI2SK = :g2sk"
		cond += " AND attribute_exists(expiresAt)"
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(pk, skChannelUser),
		UpdateExpression: aws.String(upd), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals})
	if isConditionFailed(err) && exp != 0 {
		// On legal hold (no expiresAt): record the day only, so the user's
		// next messages of the day do not try again.
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(pk, skChannelUser),
			UpdateExpression: aws.String("SET sideDay = :day"), ConditionExpression: aws.String("attribute_exists(PK)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":day": str(day)}})
	}
	if err != nil && !isConditionFailed(err) {
		return wrap("renew channel user", err)
	}
	return nil
}

// ContactChannelUser returns the contact's user on a channel, with the time of
// its last inbound message; none is chat.ErrNotFound.
func (s *Store) ContactChannelUser(ctx context.Context, tenantID, contactID, channel string) (*chat.ChannelUser, error) {
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.data,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		FilterExpression:       aws.String(LiveFilter),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(ContactPK(tenantID, contactID)), ":sk": str(prefContactUser + channel + "#"), ":now": s.nowValue(),
		},
		Limit: aws.Int32(5),
	})
	if err != nil {
		return nil, wrap("query contact channel user", err)
	}
	if len(res.Items) == 0 {
		return nil, chat.ErrNotFound
	}
	var side channelUserItem
	if err := attributevalue.UnmarshalMap(res.Items[0], &side); err != nil {
		return nil, wrap("decode contact channel user", err)
	}
	var it channelUserItem
	ok, err := s.getLive(ctx, side.UserPK, skChannelUser, false, &it)
	if err != nil {
		return nil, wrap("get channel user", err)
	}
	if !ok || it.ContactID != contactID {
		return nil, chat.ErrNotFound
	}
	return it.user(), nil
}

type inboundMarker struct {
	Base
	ConversationID string `dynamodbav:"conversationId"`
}

// InboundConversation returns the conversation a provider's message (its
// dedupe key, "whatsapp:<wamid>") was stored in for the contact, if it was.
func (s *Store) InboundConversation(ctx context.Context, tenantID, contactID, dedupeKey string) (string, bool, error) {
	var m inboundMarker
	ok, err := s.getLive(ctx, ContactPK(tenantID, contactID), prefInbound+dedupeKey, true, &m)
	if err != nil || !ok {
		return "", false, wrap("get inbound marker", err)
	}
	return m.ConversationID, true, nil
}

// ClaimInbound records that the provider's message dedupeKey of the contact
// goes to conversation convID, unless it was recorded already: it returns the
// conversation the first claim named. The marker is technical data.
func (s *Store) ClaimInbound(ctx context.Context, tenantID, contactID, dedupeKey, convID string, p retention.Periods) (string, error) {
	now := s.Now()
	item, err := attributevalue.MarshalMap(inboundMarker{
		Base: Base{PK: ContactPK(tenantID, contactID), SK: prefInbound + dedupeKey, DataClass: retention.Technical,
			Entity: "inboundMarker", ExpiresAt: retention.ExpiresAt(p, retention.Technical, now)},
		ConversationID: convID,
	})
	if err != nil {
		return "", wrap("marshal inbound marker", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	if err == nil {
		return convID, nil
	}
	var cf *types.ConditionalCheckFailedException
	if !asCondition(err, &cf) {
		return "", wrap("put inbound marker", err)
	}
	var prev inboundMarker
	if cf.Item != nil {
		err = attributevalue.UnmarshalMap(cf.Item, &prev)
	} else {
		_, err = s.getLive(ctx, ContactPK(tenantID, contactID), prefInbound+dedupeKey, true, &prev)
	}
	if err != nil || prev.ConversationID == "" {
		return "", fmt.Errorf("read inbound marker: %v", err)
	}
	return prev.ConversationID, nil
}

// replyAt is the time key of a reply token's arrival ("" without a token).
func replyAt(token string, at time.Time) string {
	if token == "" {
		return ""
	}
	return TimeKey(at)
}

// TakeReplyToken removes the user's reply token if it is still token, and
// reports whether this call took it: a LINE reply token is used once, so of
// two senders racing for it one replies and the other pushes.
func (s *Store) TakeReplyToken(ctx context.Context, tenantID string, u *chat.ChannelUser, token string) (bool, error) {
	// The taker's own mark: the SDK's resend of this write after a lost
	// answer finds it and is this take.
	mark := newMark()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data,
		Key:                                 key(ChannelUserPK(tenantID, u.Channel, u.Account, u.UserID), skChannelUser),
		UpdateExpression:                    aws.String("SET " + attrWriteMark + " = :m REMOVE replyToken, replyTokenAt"),
		ConditionExpression:                 aws.String("replyToken = :t"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":t": str(token), ":m": mark},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var cf *types.ConditionalCheckFailedException
	if asCondition(err, &cf) {
		return wroteBefore(cf.Item, markOf(mark)), nil
	}
	return err == nil, wrap("take reply token", err)
}

// SetChannelUserSubscribed records whether a known user may be sent messages
// (an unknown user is no error: nothing is stored about them).
func (s *Store) SetChannelUserSubscribed(ctx context.Context, tenantID, channel, account, user string, subscribed bool) error {
	upd := "SET unsubscribed = :u"
	vals := map[string]types.AttributeValue{":u": &types.AttributeValueMemberBOOL{Value: true}}
	if subscribed {
		upd, vals = "REMOVE unsubscribed", nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data,
		Key: key(ChannelUserPK(tenantID, channel, account, user), skChannelUser), UpdateExpression: aws.String(upd),
		ConditionExpression: aws.String("attribute_exists(PK)"), ExpressionAttributeValues: vals})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("set channel user subscribed", err)
}

// ClaimQuotaSend counts the send of part (a key stable across its retries)
// against the quota of the user's last message, u.LastInboundAt: at most max
// parts per message. It reports whether the part may go: a part counted
// already may (a retry), a new one only under max. A newer message of the
// user starts a new count. The condition makes racing senders of one user
// count each part once and never pass max.
//
// The first write is tried on the count u holds (as read with the user; no
// read), and u is kept up to date, so the parts of one message cost a write
// each; a condition that fails, or a decision not to write, is made again
// on a consistent read.
func (s *Store) ClaimQuotaSend(ctx context.Context, tenantID string, u *chat.ChannelUser, part string, max int) (bool, error) {
	pk := ChannelUserPK(tenantID, u.Channel, u.Account, u.UserID)
	of := TimeKey(u.LastInboundAt)
	// Each failed condition is another sender's count (at most max) or a
	// newer message of the user.
	for i := range max + 5 {
		it := channelUserItem{channelUserRecord: channelUserRecord{LastInbound: of, QuotaParts: u.QuotaParts}}
		if !u.QuotaOf.IsZero() {
			it.QuotaOf = TimeKey(u.QuotaOf)
		}
		read := i > 0
		if read {
			it = channelUserItem{}
			ok, err := s.getLive(ctx, pk, skChannelUser, true, &it)
			if err != nil {
				return false, wrap("get channel user", err)
			}
			if !ok {
				return false, chat.ErrNotFound
			}
			if it.LastInbound > of {
				of = it.LastInbound // a newer message: its quota
			}
		}
		in := &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(pk, skChannelUser),
			ExpressionAttributeValues: map[string]types.AttributeValue{":of": str(of), ":p": &types.AttributeValueMemberSS{Value: []string{part}}}}
		parts := []string{part}
		switch counted := it.QuotaOf == of; {
		case counted && !read && (slices.Contains(it.QuotaParts, part) || len(it.QuotaParts) >= max):
			continue // decided on a consistent read
		case counted && slices.Contains(it.QuotaParts, part):
			return true, nil
		case counted && len(it.QuotaParts) >= max:
			return false, nil
		case counted:
			in.UpdateExpression = aws.String("ADD quotaParts :p")
			in.ConditionExpression = aws.String("quotaOf = :of AND size(quotaParts) = :n")
			in.ExpressionAttributeValues[":n"] = &types.AttributeValueMemberN{Value: itoa(int64(len(it.QuotaParts)))}
			parts = append(slices.Clone(it.QuotaParts), part)
		default:
			in.UpdateExpression = aws.String("SET quotaOf = :of, quotaParts = :p")
			in.ConditionExpression = aws.String("attribute_not_exists(quotaOf) OR quotaOf < :of")
		}
		_, err := s.db.UpdateItem(ctx, in)
		if err == nil {
			at, _ := time.Parse(timeKey, of)
			u.LastInboundAt, u.QuotaOf, u.QuotaParts = at, at, parts
			return true, nil
		}
		if !isConditionFailed(err) {
			return false, wrap("claim quota send", err)
		}
	}
	return false, fmt.Errorf("claim quota send: the count kept changing")
}
