package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func TestRun_ExportsTheSubjectOfItsSampleEvent(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	bucket := testaws.NewBucket(t)
	getenv := testaws.FunctionEnv(t, tt, nil, map[string]string{"EXPORT_BUCKET": bucket.Name, "EXPORT_LINK_TTL_HOURS": "24"})
	h := fn.Start(t, getenv).(func(context.Context, privacy.Event) error)

	var ev privacy.Event
	testaws.LoadEvent(t, "privacy-export.json", &ev)
	st := tt.Store()
	tn, contact := testaws.SampleRequest(t, st, ev, chat.PrivacyExport)

	if err := h(ctx, ev); err != nil {
		t.Fatal(err)
	}
	r, err := st.PrivacyRequest(ctx, tn.ID, ev.RequestID)
	if err != nil || r.Status != chat.PrivacyCompleted || r.DownloadURL == "" {
		t.Fatalf("request %+v, %v", r, err)
	}
	if d := r.DownloadExpiresAt.Sub(*r.CompletedAt); d != 24*time.Hour {
		t.Errorf("link lives %v, want EXPORT_LINK_TTL_HOURS (24h)", d)
	}
	res, err := http.Get(r.DownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var doc jobs.Document
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil || len(doc.Contacts) != 1 || doc.Contacts[0].ContactID != contact {
		t.Fatalf("download: %d %s", res.StatusCode, body)
	}
}

func TestRun_BadOrMissingSettingsAreStartUpErrors(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, testaws.FunctionEnv(t, tt, nil, map[string]string{"EXPORT_BUCKET": "b"}),
		[2]string{"EXPORT_BUCKET", ""}, [2]string{"EXPORT_LINK_TTL_HOURS", "200"},
		[2]string{"EXPORT_LINK_TTL_HOURS", "a week"}, [2]string{"ARCHIVE_TABLE", ""})
}
