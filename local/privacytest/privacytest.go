// Package privacytest runs a contact's privacy export and erasure through the
// real processors (privacy/jobs) against moto, for the tests of the channels
// that add data about a person (their files, identities and markers).
package privacytest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/store"
)

// request stores a privacy request of typ about the contact, as the admin
// API does, and returns its event.
func request(tb testing.TB, st *store.Store, typ, tenantID, contactID string) privacy.Event {
	tb.Helper()
	r := &chat.PrivacyRequest{ID: ids.New(ids.Request), TenantID: tenantID, Type: typ, Reason: "subject_request",
		Subject: &chat.PrivacySubject{ContactID: contactID}, Status: chat.PrivacyReceived, ReceivedAt: time.Now(), DueAt: time.Now()}
	if err := st.PutPrivacyRequest(context.Background(), r); err != nil {
		tb.Fatal(err)
	}
	return privacy.Event{TenantID: tenantID, RequestID: r.ID}
}

// Export exports the contact's data (with its files, from files) into
// bucket and returns the document written.
func Export(tb testing.TB, st *store.Store, bucket *testaws.Bucket, files jobs.SubjectFiles, tenantID, contactID string) jobs.Document {
	tb.Helper()
	ctx := context.Background()
	ev := request(tb, st, chat.PrivacyExport, tenantID, contactID)
	ex := &jobs.Exporter{Store: st, S3: bucket.S3, Presign: bucket.Presigner(), Bucket: bucket.Name, Files: files}
	if err := ex.Handle(ctx, ev); err != nil {
		tb.Fatal(err)
	}
	out, err := bucket.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket.Name), Key: aws.String(jobs.ExportKey(tenantID, ev.RequestID))})
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Body.Close()
	var doc jobs.Document
	if err := json.NewDecoder(out.Body).Decode(&doc); err != nil {
		tb.Fatal(err)
	}
	return doc
}

// Erase erases the contact, with the channels' erase hooks.
func Erase(tb testing.TB, st *store.Store, bucket *testaws.Bucket, tenantID, contactID string, hooks ...jobs.EraseHook) {
	tb.Helper()
	er := &jobs.Eraser{Store: st, S3: bucket.S3, Bucket: bucket.Name, Connections: pushertest.New(tb).Pusher(), Hooks: hooks}
	if err := er.Handle(context.Background(), request(tb, st, chat.PrivacyErase, tenantID, contactID)); err != nil {
		tb.Fatal(err)
	}
}
