package privacy_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/store"
)

// batchPut writes items with BatchWriteItem, 25 at a time.
func batchPut(tb testing.TB, db *dynamodb.Client, table string, items []map[string]any) {
	tb.Helper()
	ctx := context.Background()
	for start := 0; start < len(items); start += 25 {
		var reqs []types.WriteRequest
		for _, m := range items[start:min(start+25, len(items))] {
			av, err := attributevalue.MarshalMap(m)
			if err != nil {
				tb.Fatal(err)
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
		}
		pending := map[string][]types.WriteRequest{table: reqs}
		for len(pending) > 0 {
			res, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				tb.Fatal(err)
			}
			pending = res.UnprocessedItems
		}
	}
}

// subjectItems returns n items of one contact in the shapes the store writes
// (profile, connection, conversation pointer, conversation meta, then messages
// and their dedupe markers), all in the Data table.
func subjectItems(tenantID, contactID string, n int) []map[string]any {
	now := time.Now().UTC()
	exp := now.Add(365 * 24 * time.Hour).Unix()
	conv := ids.New(ids.Conversation)
	cpk, vpk := store.ContactPK(tenantID, contactID), store.ConversationPK(tenantID, conv)
	items := []map[string]any{
		{"PK": cpk, "SK": "PROFILE", "ID": contactID, "Name": "Person " + contactID, "Email": contactID + "@example.com",
			"GSI1PK": store.EmailKey(tenantID, contactID+"@example.com"), "GSI1SK": "CONTACT#" + contactID,
			"GSI2PK": store.RetentionKey(tenantID, "personal", now, cpk), "GSI2SK": store.RetentionSort(now, cpk),
			"MarketingOptOut": false, "LegalHold": false, "OpenConversationID": conv,
			"CreatedAt": now.Format(time.RFC3339Nano), "LastSeenAt": now.Format(time.RFC3339Nano),
			"entity": "contact", "dataClass": "personal", "expiresAt": exp},
		{"PK": cpk, "SK": "CONN#" + ids.Secret(8), "ContactID": contactID, "ConnectedAt": now.Format(time.RFC3339Nano),
			"entity": "connection", "dataClass": "technical", "expiresAt": now.Add(3 * time.Hour).Unix()},
		{"PK": cpk, "SK": "CONV#" + conv, "conversationId": conv, "entity": "conversationPointer", "dataClass": "communication", "expiresAt": exp},
		{"PK": vpk, "SK": "META", "ID": conv, "ContactID": contactID, "Channel": "widget", "Status": "open",
			"GSI1PK": store.StatusKey(tenantID, "open"), "GSI1SK": store.TimeKey(now) + "#" + conv,
			"GSI2PK": store.RetentionKey(tenantID, "communication", now, vpk), "GSI2SK": store.RetentionSort(now, vpk),
			"CreatedAt": now.Format(time.RFC3339Nano), "LastActivityAt": now.Format(time.RFC3339Nano),
			"entity": "conversation", "dataClass": "communication", "expiresAt": exp},
	}
	for i := 0; len(items) < n; i++ {
		at := now.Add(time.Duration(i) * time.Millisecond)
		id, cmid := ids.New(ids.Message), ids.Secret(6)
		sk := store.MessageSK(at, id)
		items = append(items, map[string]any{"PK": vpk, "SK": sk, "id": id, "conversationId": conv, "tenantId": tenantID,
			"contactId": contactID, "authorKind": "visitor", "text": "Hello, I have a question about my order number " + id,
			"channel": "widget", "createdAt": at.Format(time.RFC3339Nano), "clientMessageId": cmid,
			"entity": "message", "dataClass": "communication", "expiresAt": exp})
		if len(items) < n {
			items = append(items, map[string]any{"PK": vpk, "SK": "CMID#" + cmid, "messageSk": sk,
				"entity": "dedupe", "dataClass": "technical", "expiresAt": exp})
		}
	}
	return items
}

// BenchmarkSubject measures the DynamoDB units of exporting and erasing one
// subject with 10 and with 1,000 items, in tables that hold other items of other
// tenants and subjects: PRIVACY_BENCH_OTHERS of them, 1,000 by default to keep
// `make bench` short on moto (the reported figures used 100,000). Units are
// computed from item sizes by testaws.Meter.
func BenchmarkSubject(b *testing.B) {
	others := 1000
	if v, err := strconv.Atoi(os.Getenv("PRIVACY_BENCH_OTHERS")); err == nil && v >= 0 {
		others = v
	}
	tt := testaws.NewTables(b)
	bucket := testaws.NewBucket(b)
	start := time.Now()
	var data, archive []map[string]any
	for i := 0; len(data)+len(archive) < others; i++ {
		tid := ids.New(ids.Tenant)
		for _, it := range subjectItems(tid, ids.New(ids.Contact), 100) {
			if i%10 == 9 {
				archive = append(archive, it)
			} else {
				data = append(data, it)
			}
		}
	}
	batchPut(b, tt.DB, tt.Data, data)
	batchPut(b, tt.DB, tt.Archive, archive)
	b.Logf("seeded %d other items (%d data, %d archive) in %v", len(data)+len(archive), len(data), len(archive), time.Since(start).Round(time.Second))

	meter := testaws.NewMeter()
	st := store.New(meter.Client(testaws.Config(b)), tt.Data, tt.Archive).WithSubjectKey([]byte("benchmark subject hash key 32 bytes"))
	tenant := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Bench", Status: "active"}
	if err := st.PutTenant(context.Background(), tenant); err != nil {
		b.Fatal(err)
	}
	exporter := &jobs.Exporter{Store: st, S3: bucket.S3, Presign: bucket.Presigner(), Bucket: bucket.Name}
	eraser := &jobs.Eraser{Store: st, S3: bucket.S3, Bucket: bucket.Name}
	for _, n := range []int{10, 1000} {
		for _, typ := range []string{chat.PrivacyExport, chat.PrivacyErase} {
			b.Run(fmt.Sprintf("%s/items=%d", typ, n), func(b *testing.B) {
				var rcu, wcu float64
				var calls int
				for b.Loop() {
					b.StopTimer()
					contact := ids.New(ids.Contact)
					batchPut(b, tt.DB, tt.Data, subjectItems(tenant.ID, contact, n))
					now := time.Now().UTC()
					r := &chat.PrivacyRequest{ID: ids.New(ids.Request), TenantID: tenant.ID, Type: typ,
						Reason: chat.ReasonSubjectRequest, Subject: &chat.PrivacySubject{ContactID: contact},
						Status: chat.PrivacyReceived, ReceivedAt: now, DueAt: now.Add(chat.PrivacyDue)}
					if err := st.PutPrivacyRequest(context.Background(), r); err != nil {
						b.Fatal(err)
					}
					meter.Reset()
					b.StartTimer()
					h := exporter.Handle
					if typ == chat.PrivacyErase {
						h = eraser.Handle
					}
					if err := h(context.Background(), privacy.Event{TenantID: tenant.ID, RequestID: r.ID}); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					c, r2, u := meter.Snapshot()
					rcu, wcu = rcu+r2, wcu+u
					for _, n := range c {
						calls += n
					}
					got, err := st.PrivacyRequest(context.Background(), tenant.ID, r.ID)
					if err != nil || got.Status != chat.PrivacyCompleted {
						b.Fatalf("request %v %v", got, err)
					}
					if typ == chat.PrivacyErase && got.Counts["dataItems"] != n+1 { // + the request pointer
						b.Fatalf("erased %v, want %d data items", got.Counts, n+1)
					}
					if typ == chat.PrivacyExport && got.Counts["items"] != n+1 {
						b.Fatalf("exported %v, want %d items", got.Counts, n+1)
					}
					b.StartTimer()
				}
				b.ReportMetric(rcu/float64(b.N), "RCU/op")
				b.ReportMetric(wcu/float64(b.N), "WCU/op")
				b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			})
		}
	}
}
