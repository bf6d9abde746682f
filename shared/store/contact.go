package store

import (
	"context"

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

// contactBase returns the keys and retention attributes of a contact item.
func contactBase(c *chat.Contact, p retention.Periods) Base {
	pk := ContactPK(c.TenantID, c.ID)
	b := Base{
		PK: pk, SK: SKProfile, DataClass: retention.Personal, Entity: "contact",
		GSI2PK: RetentionKey(c.TenantID, string(retention.Personal), c.LastSeenAt),
		GSI2SK: RetentionSort(c.LastSeenAt, pk),
	}
	if c.Email != "" {
		b.GSI1PK, b.GSI1SK = EmailKey(c.TenantID, c.Email), "CONTACT#"+c.ID
	}
	if !c.LegalHold {
		b.ExpiresAt = retention.ExpiresAt(p, retention.Personal, c.LastSeenAt)
	}
	return b
}

// PutContact writes a contact whole (create or replace).
func (s *Store) PutContact(ctx context.Context, c *chat.Contact, p retention.Periods) error {
	item, err := attributevalue.MarshalMap(contactItem{Base: contactBase(c, p), Contact: *c})
	if err != nil {
		return wrap("marshal contact", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put contact", err)
}

// Identify sets the name and email a visitor gave in the pre-chat form, creating
// the contact if it is new.
func (s *Store) Identify(ctx context.Context, tenantID, contactID, name, email string, p retention.Periods) (*chat.Contact, error) {
	c, err := s.Contact(ctx, tenantID, contactID)
	if err == chat.ErrNotFound {
		now := s.Now()
		c, err = &chat.Contact{ID: contactID, TenantID: tenantID, CreatedAt: now}, nil
	}
	if err != nil {
		return nil, err
	}
	c.Name, c.Email, c.LastSeenAt = name, email, s.Now()
	return c, s.PutContact(ctx, c, p)
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
// loser of the condition reads the winner's.
func (s *Store) OpenConversation(ctx context.Context, tenantID, contactID, channel string, p retention.Periods) (*chat.Contact, string, error) {
	for range 3 {
		c, err := s.Contact(ctx, tenantID, contactID)
		if err != nil && err != chat.ErrNotFound {
			return nil, "", err
		}
		if c != nil && c.OpenConversationID != "" {
			return c, c.OpenConversationID, nil
		}
		now := s.Now()
		if c == nil {
			c = &chat.Contact{ID: contactID, TenantID: tenantID, CreatedAt: now}
		}
		cv := &chat.Conversation{ID: newConversationID(), TenantID: tenantID, ContactID: contactID,
			Channel: channel, Status: chat.StatusOpen, CreatedAt: now, LastActivityAt: now}
		c.OpenConversationID, c.LastSeenAt = cv.ID, now
		err = s.openConversationTx(ctx, c, cv, p)
		if err == nil {
			return c, cv.ID, nil
		}
		if !isConditionFailed(err) {
			return nil, "", wrap("open conversation", err)
		}
	}
	return nil, "", chat.Errorf(chat.EConflict, "conversation is being opened, try again")
}

func (s *Store) openConversationTx(ctx context.Context, c *chat.Contact, cv *chat.Conversation, p retention.Periods) error {
	contact, err := attributevalue.MarshalMap(contactItem{Base: contactBase(c, p), Contact: *c})
	if err != nil {
		return err
	}
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
	// The contact put is conditioned on having no open conversation, so of two
	// racing openers only one wins.
	put := &types.Put{TableName: &s.data, Item: contact,
		ConditionExpression:       aws.String("attribute_not_exists(OpenConversationID) OR OpenConversationID = :none"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":none": &types.AttributeValueMemberS{Value: ""}}}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: put},
		{Put: &types.Put{TableName: &s.data, Item: conv, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: &s.data, Item: ptr}},
	}})
	return err
}
