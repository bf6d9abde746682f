package store

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
)

// ContactsByEmail lists one page of a tenant's live contacts with an email
// (compared case-insensitively), by Query on GSI1 (T#t#EMAIL#<email>), from
// cursor ("" for the first page), and returns the cursor of the next page (""
// at the end). A cursor that is not of this list is ErrBadPageCursor.
func (s *Store) ContactsByEmail(ctx context.Context, tenantID, email string, limit int, cursor string) ([]chat.Contact, string, error) {
	l := contactEmailPages(tenantID, email)
	start, err := l.startKey(cursor)
	if err != nil {
		return nil, "", err
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.data,
		IndexName:              aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :pk AND begins_with(GSI1SK, :c)"),
		FilterExpression:       aws.String(LiveFilter),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: EmailKey(tenantID, email)},
			":c":  &types.AttributeValueMemberS{Value: prefContactIndex}, ":now": s.nowValue(),
		},
		Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start,
	})
	if err != nil {
		return nil, "", wrap("query contacts by email", err)
	}
	var items []contactItem
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
		return nil, "", wrap("unmarshal contacts", err)
	}
	next, err := l.cursor(res.LastEvaluatedKey)
	if err != nil {
		return nil, "", wrap("contacts by email", err)
	}
	out := make([]chat.Contact, len(items))
	for i, it := range items {
		out[i] = it.Contact
		out[i].TenantID = tenantID
	}
	return out, next, nil
}

// UpdateContactFields changes a live contact's fields in one conditional update,
// keeping its GSI1 email key in step with its email (removed with the email), and
// returns the contact after it. Missing, expired or foreign is chat.ErrNotFound.
func (s *Store) UpdateContactFields(ctx context.Context, tenantID, contactID string, f chat.ContactFields) (*chat.Contact, error) {
	names := map[string]string{}
	vals := map[string]types.AttributeValue{":now": s.nowValue()}
	var sets, removes []string
	str := func(field string, v *string) {
		if v == nil {
			return
		}
		n := "#" + field
		names[n] = attrName(chat.Contact{}, field)
		if *v == "" {
			removes = append(removes, n)
			return
		}
		vals[":"+field] = &types.AttributeValueMemberS{Value: *v}
		sets = append(sets, n+" = :"+field)
	}
	str("Name", f.Name)
	str("Email", f.Email)
	str("Phone", f.Phone)
	if f.MarketingOptOut != nil {
		names["#MarketingOptOut"] = attrName(chat.Contact{}, "MarketingOptOut")
		vals[":MarketingOptOut"] = &types.AttributeValueMemberBOOL{Value: *f.MarketingOptOut}
		sets = append(sets, "#MarketingOptOut = :MarketingOptOut")
	}
	if f.Email != nil {
		if *f.Email == "" {
			removes = append(removes, "GSI1PK", "GSI1SK")
		} else {
			vals[":g1pk"] = &types.AttributeValueMemberS{Value: EmailKey(tenantID, *f.Email)}
			vals[":g1sk"] = &types.AttributeValueMemberS{Value: prefContactIndex + contactID}
			sets = append(sets, "GSI1PK = :g1pk", "GSI1SK = :g1sk")
		}
	}
	if len(sets) == 0 && len(removes) == 0 {
		return s.Contact(ctx, tenantID, contactID)
	}
	expr := ""
	if len(sets) > 0 {
		expr = "SET " + strings.Join(sets, ", ")
	}
	if len(removes) > 0 {
		expr += " REMOVE " + strings.Join(removes, ", ")
	}
	in := &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(ContactPK(tenantID, contactID), SKProfile),
		UpdateExpression:          aws.String(strings.TrimSpace(expr)),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (" + LiveFilter + ")"),
		ExpressionAttributeValues: vals, ReturnValues: types.ReturnValueAllNew,
	}
	if len(names) > 0 {
		in.ExpressionAttributeNames = names
	}
	res, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, wrap("update contact", err)
	}
	var it contactItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return nil, wrap("unmarshal contact", err)
	}
	it.Contact.TenantID = tenantID
	return &it.Contact, nil
}
