package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// legacyMember writes a member item as the bridge wrote them before it kept
// names only: the whole users.list profile, expiring at exp.
func legacyMember(t *testing.T, tt *testaws.Tables, tenantID, userID string, profile map[string]string, exp time.Time) {
	t.Helper()
	pk, sk := store.SlackPK(tenantID), store.SlackMemberSK("T1", userID)
	it := map[string]types.AttributeValue{
		"PK": sv(pk), "SK": sv(sk), "dataClass": sv("personal"), "entity": sv("slackMember"),
		"GSI2PK": sv(store.RetentionKey(tenantID, "personal", exp, pk)), "GSI2SK": sv(store.RetentionSort(exp, pk+"#"+sk)),
		"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(exp.Unix(), 10)},
		"teamId":    sv("T1"), "userId": sv(userID),
	}
	for k, v := range profile {
		it[k] = sv(v)
	}
	if _, err := tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tt.Data), Item: it}); err != nil {
		t.Fatal(err)
	}
}

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func numAttr(it map[string]types.AttributeValue, k string) string {
	v, _ := it[k].(*types.AttributeValueMemberN)
	if v == nil {
		return ""
	}
	return v.Value
}

var legacySlackAttrs = []string{"email", "imageUrl", "realName", "name"}

func TestSlackMemberSK(t *testing.T) {
	if got := store.SlackMemberSK("T0001", "UAGENT01"); got != "MEMBER#T0001#UAGENT01" {
		t.Errorf("SlackMemberSK = %q", got)
	}
	if got := store.SlackPK("t1"); got != "T#t1#SLACK" {
		t.Errorf("SlackPK = %q", got)
	}
}

// TestStripSlackMemberProfiles: the tenant's legacy member items (expired ones
// too) lose their email, image URL, real name and user name and keep the name
// their replies showed as displayName, with their retention unchanged; items
// already holding a name only and other tenants' items are left alone; a
// second run changes nothing.
func TestStripSlackMemberProfiles(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	a, b := ids.New(ids.Tenant), ids.New(ids.Tenant)
	exp := time.Now().Add(1000 * 24 * time.Hour).UTC()
	alice := map[string]string{"name": "alice", "realName": "Alice Example", "displayName": "Alice",
		"email": "alice@acme.test", "imageUrl": "https://avatars.example.test/alice.png"}
	legacyMember(t, tt, a, "U1", alice, exp)
	legacyMember(t, tt, a, "U2", map[string]string{"name": "bob", "realName": "Bob Builder", "email": "bob@acme.test"}, exp)
	legacyMember(t, tt, a, "U3", map[string]string{"imageUrl": "https://avatars.example.test/x.png"}, time.Now().Add(-time.Hour)) // expired, not yet removed by TTL
	legacyMember(t, tt, b, "U1", alice, exp)
	if err := st.PutSlackMember(ctx, a, &chat.SlackMember{TeamID: "T1", UserID: "U4", DisplayName: "Dan"}, time.Now(), retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if m, err := st.SlackMember(ctx, a, "T1", "U2"); err != nil || m.DisplayName != "Bob Builder" {
		t.Fatalf("legacy member without a display name reads as %+v %v, want its real name", m, err)
	}
	pk := store.SlackPK(a)
	before := map[string]map[string]types.AttributeValue{}
	for _, u := range []string{"U1", "U2", "U3", "U4"} {
		before[u] = rawItem(t, tt, tt.Data, pk, store.SlackMemberSK("T1", u))
	}

	n, err := st.StripSlackMemberProfiles(ctx, a)
	if err != nil || n != 3 {
		t.Fatalf("stripped %d (%v), want 3", n, err)
	}
	for u, want := range map[string]string{"U1": "Alice", "U2": "Bob Builder", "U3": "", "U4": "Dan"} {
		it := rawItem(t, tt, tt.Data, pk, store.SlackMemberSK("T1", u))
		for _, k := range legacySlackAttrs {
			if _, ok := it[k]; ok {
				t.Errorf("%s still holds %s", u, k)
			}
		}
		if str(it, "displayName") != want || str(it, "userId") != u || str(it, "teamId") != "T1" {
			t.Errorf("%s: %v, want display name %q", u, it, want)
		}
		for _, k := range []string{"GSI2PK", "GSI2SK", "dataClass", "entity"} {
			if str(it, k) != str(before[u], k) {
				t.Errorf("%s: %s changed from %q to %q", u, k, str(before[u], k), str(it, k))
			}
		}
		if numAttr(it, "expiresAt") != numAttr(before[u], "expiresAt") {
			t.Errorf("%s: expiresAt changed", u)
		}
	}
	if it := rawItem(t, tt, tt.Data, store.SlackPK(b), store.SlackMemberSK("T1", "U1")); str(it, "email") != "alice@acme.test" || str(it, "imageUrl") == "" {
		t.Errorf("another tenant's item was changed: %v", it)
	}

	if n, err := st.StripSlackMemberProfiles(ctx, a); err != nil || n != 0 {
		t.Errorf("second run stripped %d (%v), want 0", n, err)
	}
	if n, err := st.StripSlackMemberProfiles(ctx, ids.New(ids.Tenant)); err != nil || n != 0 {
		t.Errorf("a tenant without Slack: %d (%v)", n, err)
	}
	if n, err := st.StripSlackMemberProfiles(ctx, b); err != nil || n != 1 {
		t.Errorf("the other tenant: stripped %d (%v), want 1", n, err)
	}
}

// TestRenameSlackMember: a rename changes the display name of an existing
// member item only, keeps its retention, drops a legacy item's other profile
// attributes, and never creates an item.
func TestRenameSlackMember(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	ten := ids.New(ids.Tenant)
	pk := store.SlackPK(ten)
	if ok, err := st.RenameSlackMember(ctx, ten, "T1", "UNKNOWN", "Who"); err != nil || ok {
		t.Fatalf("rename of an unknown member: %v %v", ok, err)
	}
	if it := rawItem(t, tt, tt.Data, pk, store.SlackMemberSK("T1", "UNKNOWN")); it != nil {
		t.Fatalf("rename created %v", it)
	}
	seen := time.Now().Add(-48 * time.Hour)
	if err := st.PutSlackMember(ctx, ten, &chat.SlackMember{TeamID: "T1", UserID: "U1", DisplayName: "Alice"}, seen, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	before := rawItem(t, tt, tt.Data, pk, store.SlackMemberSK("T1", "U1"))
	if ok, err := st.RenameSlackMember(ctx, ten, "T1", "U1", "Alice B."); err != nil || !ok {
		t.Fatalf("rename: %v %v", ok, err)
	}
	after := rawItem(t, tt, tt.Data, pk, store.SlackMemberSK("T1", "U1"))
	if str(after, "displayName") != "Alice B." || numAttr(after, "expiresAt") != numAttr(before, "expiresAt") || str(after, "GSI2PK") != str(before, "GSI2PK") {
		t.Errorf("renamed item %v (was %v)", after, before)
	}
	if ok, err := st.RenameSlackMember(ctx, ten, "T1", "U1", "Alice B."); err != nil || ok {
		t.Errorf("rename to the same name: %v %v, want no write", ok, err)
	}
	legacyMember(t, tt, ten, "U2", map[string]string{"displayName": "Bob", "email": "bob@acme.test", "imageUrl": "https://a.test/b.png"}, time.Now().Add(time.Hour))
	if ok, err := st.RenameSlackMember(ctx, ten, "T1", "U2", "Bob"); err != nil || !ok {
		t.Fatalf("rename of a legacy item: %v %v", ok, err)
	}
	it := rawItem(t, tt, tt.Data, pk, store.SlackMemberSK("T1", "U2"))
	for _, k := range legacySlackAttrs {
		if _, ok := it[k]; ok {
			t.Errorf("renamed legacy item still holds %s", k)
		}
	}
	if str(it, "displayName") != "Bob" {
		t.Errorf("renamed legacy item %v", it)
	}
}
