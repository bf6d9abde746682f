package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/legalhold"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// A channel user's two items carry an expiry, renewed with the user's
// messages; a legal hold on the contact takes it off both, and later
// messages neither put it back nor retry the renewal on every message.
func TestChannelUser_LegalHoldKeepsNoExpiry(t *testing.T) {
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive)
	ctx := context.Background()
	tenant, contact := ids.New(ids.Tenant), ids.New(ids.Contact)
	if err := st.PutTenant(ctx, &chat.Tenant{ID: tenant, Status: "active", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	u := &chat.ChannelUser{Channel: "whatsapp", Account: "3003", UserID: "15550001", ContactID: contact}
	at := time.Now().UTC()
	if _, err := st.TouchChannelUser(ctx, tenant, u, at, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.OpenConversation(ctx, tenant, contact, "whatsapp", retention.Defaults); err != nil {
		t.Fatal(err)
	}
	expiry := func(pk, sk string) bool {
		t.Helper()
		res, err := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &tt.Data, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || res.Item == nil {
			t.Fatalf("item %s %s: %v", pk, sk, err)
		}
		_, ok := res.Item["expiresAt"]
		return ok
	}
	lookup, side := store.ChannelUserPK(tenant, "whatsapp", "3003", "15550001"), store.ContactPK(tenant, contact)
	sideSK := "CHUSER#whatsapp#3003#15550001"
	if !expiry(lookup, "USER") || !expiry(side, sideSK) {
		t.Fatal("a new channel user's items have no expiry")
	}
	if _, err := legalhold.Over(st).HoldContact(ctx, tenant, contact); err != nil {
		t.Fatal(err)
	}
	if expiry(lookup, "USER") || expiry(side, sideSK) {
		t.Fatal("the hold left an expiry on the channel user")
	}
	// The next day's first message tries the renewal once, then records the
	// day; the day's later messages are one write each.
	next := at.Add(24 * time.Hour)
	if _, err := st.TouchChannelUser(ctx, tenant, u, next, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if expiry(lookup, "USER") || expiry(side, sideSK) {
		t.Error("a message put the expiry back on held items")
	}
	m.Reset()
	if _, err := st.TouchChannelUser(ctx, tenant, u, next.Add(time.Minute), retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if calls, _, _ := m.Snapshot(); testaws.Requests(calls) != 1 {
		t.Errorf("a held user's later message of the day made %v, want one update", calls)
	}
}
