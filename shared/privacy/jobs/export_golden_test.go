package jobs_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
)

// TestExport_DocumentBytesAreStable exports a fixed subject (every attribute
// type, both tables, an item on legal hold, an expired one) and compares the
// file with testdata/export.golden.json, which the export code before the store
// boundary moved wrote for the same items: the document's bytes are a contract.
func TestExport_DocumentBytesAreStable(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	st := tt.Store().WithClock(func() time.Time { return at })
	bucket := testaws.NewBucket(t)
	tid, cid, conv, old := "t0000000000000000000000cmp", "c0000000000000000000000cmp", "v0000000000000000000000cmp", "v0000000000000000000000old"
	if err := st.PutTenant(ctx, &chat.Tenant{ID: tid, Name: "Cmp", Status: "active", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	exp := at.Add(100 * 24 * time.Hour).Unix()
	put := func(table string, m map[string]any) {
		item, err := attributevalue.MarshalMap(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	cpk, vpk, opk := "T#"+tid+"#CONTACT#"+cid, "T#"+tid+"#CONV#"+conv, "T#"+tid+"#CONV#"+old
	put(tt.Data, map[string]any{"PK": cpk, "SK": "PROFILE", "GSI1PK": "T#" + tid + "#EMAIL#cmp@example.com", "GSI1SK": "CONTACT#" + cid,
		"ID": cid, "Name": "Cee Em", "Email": "cmp@example.com", "Phone": "+1555", "MarketingOptOut": true,
		"OpenConversationID": conv, "CreatedAt": at.Format(time.RFC3339Nano), "LastSeenAt": at.Format(time.RFC3339Nano),
		"entity": "contact", "dataClass": "personal", "expiresAt": exp})
	put(tt.Data, map[string]any{"PK": cpk, "SK": "CONN#abc=", "connectedAt": "x", "entity": "connection", "dataClass": "technical", "expiresAt": exp})
	put(tt.Data, map[string]any{"PK": cpk, "SK": "IDENT#slack#U1", "channel": "slack", "externalId": "U1", "entity": "channelIdentity", "dataClass": "personal"})
	put(tt.Data, map[string]any{"PK": vpk, "SK": "META", "Status": "open", "Tags": []string{"a", "b"}, "n": 3.5, "nil": nil,
		"m": map[string]any{"x": 1, "y": []any{"z", true}}, "entity": "conversation", "dataClass": "communication", "expiresAt": exp})
	put(tt.Data, map[string]any{"PK": vpk, "SK": "MSG#2026-01-01T00:00:00.000000Z#m1", "text": "hello", "bin": []byte{1, 2, 3},
		"entity": "message", "dataClass": "communication", "expiresAt": exp})
	put(tt.Data, map[string]any{"PK": vpk, "SK": "MSG#2026-01-01T00:00:01.000000Z#m2", "text": "expired",
		"entity": "message", "dataClass": "communication", "expiresAt": at.Add(-time.Hour).Unix()})
	put(tt.Archive, map[string]any{"PK": cpk, "SK": "CONV#" + old, "conversationId": old, "entity": "conversationPointer", "dataClass": "communication", "expiresAt": exp})
	put(tt.Archive, map[string]any{"PK": opk, "SK": "META", "ContactID": cid, "Status": "closed", "entity": "conversation", "dataClass": "communication", "expiresAt": exp})
	put(tt.Archive, map[string]any{"PK": opk, "SK": "MSG#2025-01-01T00:00:00.000000Z#m0", "text": "archived", "entity": "message", "dataClass": "communication", "expiresAt": exp})
	if err := st.PutPrivacyRequest(ctx, &chat.PrivacyRequest{ID: "r0000000000000000000000cmp", TenantID: tid, Type: "export", Reason: "legal",
		Subject: &chat.PrivacySubject{ContactID: cid}, Status: "received", ReceivedAt: at, DueAt: at}); err != nil {
		t.Fatal(err)
	}
	ex := &jobs.Exporter{Store: st, S3: bucket.S3, Presign: bucket.Presigner(), Bucket: bucket.Name}
	if err := ex.Handle(ctx, privacy.Event{TenantID: tid, RequestID: "r0000000000000000000000cmp"}); err != nil {
		t.Fatal(err)
	}
	out, err := bucket.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket.Name), Key: aws.String("exports/" + tid + "/r0000000000000000000000cmp.json")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	want, err := os.ReadFile("testdata/export.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("export document changed:\n%s", got)
	}
}
