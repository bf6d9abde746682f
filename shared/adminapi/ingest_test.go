package adminapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/store"
)

// TestReply_ResendAfterHalfWriteStoresOne plays an admin-api instance that
// times out between the dedupe marker of an Idempotency-Key and the message
// (the message write fails after the marker succeeded). The client retries
// three times with the same key: the first retry completes the message the
// marker names (201), the others find it (200), and one message is stored and
// audited.
func TestReply_ResendAfterHalfWriteStoresOne(t *testing.T) {
	e := newEnv(t)
	hook := &testaws.HookDB{Client: e.tt.DB}
	e.api = adminapi.New(withStore(store.New(hook, e.tt.Data, e.tt.Archive).WithSubjectKey(subjectKey), e.deps()))
	f := e.newFixture("Half")
	hook.Hook = testaws.FailFirstMessagePut()
	send := func() response {
		return e.request(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey,
			`{"text":"Your parcel left today.","agentName":"Ana"}`, map[string]string{"idempotency-key": "half-1"})
	}
	wantProblem(t, "first attempt", send(), http.StatusInternalServerError)
	convPK := store.ConversationPK(f.ID, f.ConvID)
	marker := rawItems(t, e, convPK, "CMID#")
	if len(marker) != 1 {
		t.Fatalf("%d dedupe markers, want 1", len(marker))
	}
	want := marker[0]["messageSk"].(*types.AttributeValueMemberS).Value
	var statuses []int
	for i := range 3 {
		res := send()
		statuses = append(statuses, res.Status)
		m := res.json(t)
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["createdAt"]))
		if err != nil || store.MessageSK(at, fmt.Sprint(m["id"])) != want {
			t.Errorf("retry %d answered %d %s, want the message at %s", i, res.Status, res.Body, want)
		}
	}
	if fmt.Sprint(statuses) != "[201 200 200]" {
		t.Errorf("retries answered %v, want [201 200 200]: the completing retry creates, the others find", statuses)
	}
	var keys []string
	for _, it := range rawItems(t, e, convPK, "MSG#") {
		if it["authorKind"].(*types.AttributeValueMemberS).Value == "agent" {
			keys = append(keys, it["SK"].(*types.AttributeValueMemberS).Value)
		}
	}
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("stored replies %v, want exactly the marker's %s", keys, want)
	}
	evs, _, err := e.store.AuditEvents(context.Background(), f.ID, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == adminapi.ActMessageCreate {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d message.create audit events, want 1", n)
	}
}

// rawItems returns the items of a partition whose sort key starts with prefix,
// as stored.
func rawItems(t *testing.T, e *env, pk, prefix string) []map[string]types.AttributeValue {
	t.Helper()
	res, err := e.tt.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(e.tt.Data), KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}
