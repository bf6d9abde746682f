package main

import (
	"context"
	"errors"
	"strings"
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
)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func TestRun_ErasesTheSubjectOfItsSampleEvent(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	bucket := testaws.NewBucket(t)
	mgmt := pushertest.New(t)
	getenv := testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": "subject-key"},
		map[string]string{"EXPORT_BUCKET": bucket.Name, "WS_MANAGEMENT_ENDPOINT": mgmt.URL + "/dev"})
	h := fn.Start(t, getenv).(func(context.Context, privacy.Event) error)

	// The sample event's tenant and request, about a contact with a live connection.
	var ev privacy.Event
	testaws.LoadEvent(t, "privacy-erase.json", &ev)
	st := tt.Store()
	tn, contact := testaws.SampleRequest(t, st, ev, chat.PrivacyErase)
	conn := "conn-" + ids.Secret(6)
	if err := st.PutConnection(ctx, &chat.Connection{ID: conn, TenantID: tn.ID, ContactID: contact, ConnectedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	now := st.Now()
	// An earlier export about the contact: its file goes with the erasure.
	export := ids.New(ids.Request)
	if err := st.PutPrivacyRequest(ctx, &chat.PrivacyRequest{ID: export, TenantID: tn.ID, Type: chat.PrivacyExport,
		Reason: chat.ReasonSubjectRequest, Subject: &chat.PrivacySubject{ContactID: contact}, Status: chat.PrivacyCompleted,
		ReceivedAt: now, DueAt: now.Add(chat.PrivacyDue)}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPrivacyPointer(ctx, tn.ID, contact, export); err != nil {
		t.Fatal(err)
	}
	file := jobs.ExportKey(tn.ID, export)
	if _, err := bucket.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket.Name), Key: aws.String(file),
		Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}

	if err := h(ctx, ev); err != nil {
		t.Fatal(err)
	}
	r, err := st.PrivacyRequest(ctx, tn.ID, ev.RequestID)
	if err != nil || r.Status != chat.PrivacyCompleted || r.Counts["contacts"] != 1 || r.Counts["connections"] != 1 {
		t.Fatalf("request %+v, %v", r, err)
	}
	if _, err := st.Contact(ctx, tn.ID, contact); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("contact after erasure: %v", err)
	}
	if files := bucket.Objects(t); len(files) != 0 {
		t.Errorf("export files left: %v", files)
	}
	if !mgmt.Closed(conn) {
		t.Error("the live connection was not closed")
	}
	// The suppression entry is hashed with the secret the function fetched.
	erased, err := st.WithSubjectKey([]byte("subject-key")).IsSuppressed(ctx, tn.ID, chat.SuppressContact, contact)
	if err != nil || !erased {
		t.Errorf("contact suppressed: %v, %v", erased, err)
	}
}

func TestRun_MissingSettingsAreStartUpErrors(t *testing.T) {
	tt := testaws.NewTables(t)
	full := map[string]string{"EXPORT_BUCKET": "b", "WS_MANAGEMENT_ENDPOINT": "http://127.0.0.1:1/dev"}
	fn.Refuses(t, testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": "k"}, full),
		[2]string{"EXPORT_BUCKET", ""}, [2]string{"WS_MANAGEMENT_ENDPOINT", ""}, [2]string{"DATA_TABLE", ""},
		[2]string{"SUBJECT_HASH_SECRET_ARN", ""})
}
