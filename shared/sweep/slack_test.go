package sweep_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/sweep"
)

// Tenants that installed Slack before the bridge stopped storing member
// profiles have items with emails and image links: the daily sweep strips
// them once per tenant (a held tenant's wait for the hold to be lifted), and
// later runs do not look again.
func TestSweep_StripsLegacySlackMemberProfilesOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a, held := w.tenant(t, retention.Periods{}), w.tenant(t, retention.Periods{})
	if err := w.st.SetTenantHold(ctx, held.ID, true); err != nil {
		t.Fatal(err)
	}
	exp := strconv.FormatInt(t0.Add(300*day).Unix(), 10)
	for _, tid := range []string{a.ID, held.ID} {
		_, err := w.tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(w.tt.Data), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: store.SlackPK(tid)}, "SK": &types.AttributeValueMemberS{Value: store.SlackMemberSK("T1", "U1")},
			"entity": &types.AttributeValueMemberS{Value: "slackMember"}, "expiresAt": &types.AttributeValueMemberN{Value: exp},
			"teamId": &types.AttributeValueMemberS{Value: "T1"}, "userId": &types.AttributeValueMemberS{Value: "U1"},
			"realName": &types.AttributeValueMemberS{Value: "Ann Agent"}, "email": &types.AttributeValueMemberS{Value: "ann@acme.test"},
			"imageUrl": &types.AttributeValueMemberS{Value: "https://avatars.example.test/ann.png"},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	profile := func(tid string) (string, bool) {
		res, err := w.tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(w.tt.Data), Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: store.SlackPK(tid)}, "SK": &types.AttributeValueMemberS{Value: store.SlackMemberSK("T1", "U1")}}})
		if err != nil {
			t.Fatal(err)
		}
		_, email := res.Item["email"]
		_, image := res.Item["imageUrl"]
		name, _ := res.Item["displayName"].(*types.AttributeValueMemberS)
		if name == nil {
			return "", email || image
		}
		return name.Value, email || image
	}
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if name, leaks := profile(a.ID); leaks || name != "Ann Agent" {
		t.Fatalf("after the sweep: display name %q, email or image kept %v", name, leaks)
	}
	if _, leaks := profile(held.ID); !leaks {
		t.Fatal("a held tenant's items were changed")
	}
	// A profile written again (as a restore could) is not looked for again:
	// the tenant's state records that its profiles were stripped.
	if _, err := w.tt.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(w.tt.Data),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: store.SlackPK(a.ID)}, "SK": &types.AttributeValueMemberS{Value: store.SlackMemberSK("T1", "U1")}},
		UpdateExpression:          aws.String("SET email = :e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberS{Value: "ann@acme.test"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sweeper(sweep.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, leaks := profile(a.ID); !leaks {
		t.Fatal("the second run looked for legacy profiles again")
	}
}
