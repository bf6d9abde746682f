package store

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
)

// The subject of a privacy request is found by one of its identifiers
// (chat.PrivacySubject): a contact or visitor id names a contact partition
// directly (a visitor who only browsed has page views and devices there, and
// no profile); an email, through the email index, every contact with it; a
// messaging channel's identity, through the channel user lookup, its contact;
// a Slack member's identity names no contact, only the member's item.

// ResolveSubject returns the contact ids of a subject, sorted: the given
// contact or visitor id, every contact whose email is the given one, or the
// contact of a channel identity (none for a Slack member, or an unknown one).
func (s *Store) ResolveSubject(ctx context.Context, tenantID string, subject *chat.PrivacySubject) ([]string, error) {
	switch {
	case subject == nil:
		return nil, nil
	case subject.PersonID() != "":
		return []string{subject.PersonID()}, nil
	case subject.Channel == chat.ChannelSlack:
		return nil, nil
	case subject.Channel != "":
		return s.channelContact(ctx, tenantID, subject.Channel, subject.ExternalID)
	}
	var out []string
	err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.data), IndexName: aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :e AND begins_with(GSI1SK, :c)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":e": &types.AttributeValueMemberS{Value: EmailKey(tenantID, subject.Email)},
			":c": &types.AttributeValueMemberS{Value: "CONTACT#"},
		},
		ProjectionExpression: aws.String("GSI1SK"),
	}, func(m map[string]types.AttributeValue) error {
		if v, ok := m["GSI1SK"].(*types.AttributeValueMemberS); ok {
			out = append(out, strings.TrimPrefix(v.Value, "CONTACT#"))
		}
		return nil
	})
	if err != nil {
		return nil, wrap("query contacts by email", err)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// channelContact reads the contact of a messaging channel's user from its
// lookup item (externalId is "<account>:<user>"); an unknown user has none.
func (s *Store) channelContact(ctx context.Context, tenantID, channel, externalID string) ([]string, error) {
	account, user, ok := strings.Cut(externalID, ":")
	if !ok {
		return nil, nil
	}
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.data,
		Key: key(ChannelUserPK(tenantID, channel, account, user), skChannelUser), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("contactId")})
	if err != nil {
		return nil, wrap("get channel user", err)
	}
	if v, ok := res.Item["contactId"].(*types.AttributeValueMemberS); ok && v.Value != "" {
		return []string{v.Value}, nil
	}
	return nil, nil
}

// slackMemberKey is the key of a Slack member's item a subject names ("" when
// it names none).
func slackMemberKey(tenantID string, subject *chat.PrivacySubject) (pk, sk string) {
	if subject == nil || subject.Channel != chat.ChannelSlack {
		return "", ""
	}
	team, user, ok := strings.Cut(subject.ExternalID, ":")
	if !ok {
		return "", ""
	}
	return SlackPK(tenantID), SlackMemberSK(team, user)
}

// SubjectKnown reports whether the store holds anything about a subject named
// by contact or visitor id (one item of its contact partition, of any class:
// a visitor who only browsed counts) or by channel identity (its lookup or
// Slack member item). An email subject is always known: a request by email
// may find nothing, and says so in its counts.
func (s *Store) SubjectKnown(ctx context.Context, tenantID string, subject *chat.PrivacySubject) (bool, error) {
	switch {
	case subject.Email != "":
		return true, nil
	case subject.Channel == chat.ChannelSlack:
		pk, sk := slackMemberKey(tenantID, subject)
		if pk == "" {
			return false, nil
		}
		res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.data, Key: key(pk, sk),
			ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("PK")})
		return err == nil && res.Item != nil, wrap("get slack member", err)
	case subject.Channel != "":
		contacts, err := s.channelContact(ctx, tenantID, subject.Channel, subject.ExternalID)
		return len(contacts) > 0, err
	}
	// Any item counts, expired ones too: an export then shows nothing, truly,
	// and an erasure deletes what TTL has not yet.
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.data,
		KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: ContactPK(tenantID, subject.PersonID())}},
		ProjectionExpression: aws.String("PK"), Limit: aws.Int32(1)})
	if err != nil {
		return false, wrap("query contact partition", err)
	}
	return len(res.Items) > 0, nil
}

// memberPointerPrefix is the sort key prefix of the request pointers of the
// Slack member whose item has sort key memberSK.
func memberPointerPrefix(memberSK string) string { return prefPrivReq + memberSK + "#" }

// AddSubjectItems adds to h the items a subject names outside any contact
// partition: a Slack member's item and the pointers to the requests about
// them. Its export shows them; its erasure deletes them.
func (s *Store) AddSubjectItems(ctx context.Context, h *Holdings, tenantID string, subject *chat.PrivacySubject, live bool) error {
	pk, sk := slackMemberKey(tenantID, subject)
	if pk == "" {
		return nil
	}
	pointers, err := s.queryPartition(ctx, TableData, pk, memberPointerPrefix(sk), live)
	if err != nil {
		return err
	}
	for _, it := range pointers {
		h.note(it, map[string]bool{})
	}
	h.contacts = append(h.contacts, pointers...)
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.data, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return wrap("get slack member", err)
	}
	if res.Item == nil {
		return nil
	}
	if live {
		var b Base
		if err := attributevalue.UnmarshalMap(res.Item, &b); err != nil {
			return wrap("unmarshal slack member", err)
		}
		if !b.Live(s.Now()) {
			return nil
		}
	}
	h.contacts = append(h.contacts, heldItem{table: TableData, attrs: res.Item})
	return nil
}
