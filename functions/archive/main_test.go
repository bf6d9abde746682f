package main

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
)

const subjectKey = "subject-hash-key-for-tests-0123456789"

// The sample event's first record is a TTL removal of a visitor's message; the
// second, a user's delete, which is not archived.
const (
	sampleTenant  = "t0000000000000000000000000"
	sampleContact = "c0000000000000000000000000"
	sampleSK      = "MSG#2025-11-28T10:00:01.000000Z#m0000000000000000000000000"
)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

// start runs run with the test's environment and returns the handler it
// serves, as the Lambda runtime would call it.
func start(t *testing.T, getenv func(string) string) lambda.Handler {
	t.Helper()
	return lambda.NewHandler(fn.Start(t, getenv))
}

// invoke sends the sample event and returns the batch item failures.
func invoke(t *testing.T, h lambda.Handler) []events.DynamoDBBatchItemFailure {
	t.Helper()
	payload, err := os.ReadFile("../../events/archive.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	return resp.BatchItemFailures
}

func archivedSKs(t *testing.T, tt *testaws.Tables) []string {
	t.Helper()
	var sks []string
	for _, it := range tt.ScanAll(t, tt.Archive) {
		sks = append(sks, it["SK"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

func TestRun_ServesAHandlerThatArchivesTheSampleTTLRemoval(t *testing.T) {
	tt := testaws.NewTables(t)
	h := start(t, testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": subjectKey}, nil))
	if failed := invoke(t, h); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	if got := archivedSKs(t, tt); len(got) != 1 || got[0] != sampleSK {
		t.Fatalf("archived %v, want only the TTL removal %s", got, sampleSK)
	}
}

// The store hashes subjects with the secret the function names: a contact
// erased under that key is recognised and its message not archived.
func TestRun_RecognisesSubjectsErasedUnderTheSecretKey(t *testing.T) {
	tt := testaws.NewTables(t)
	erased := tt.Store().WithSubjectKey([]byte(subjectKey))
	if err := erased.Suppress(context.Background(), sampleTenant, chat.SuppressContact, sampleContact, "r1"); err != nil {
		t.Fatal(err)
	}
	h := start(t, testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": subjectKey}, nil))
	if failed := invoke(t, h); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	if got := archivedSKs(t, tt); len(got) != 0 {
		t.Fatalf("archived %v of an erased subject", got)
	}
}

func TestRun_RefusesToStartWithoutItsSettings(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": subjectKey}, nil),
		[2]string{"DATA_TABLE", ""}, [2]string{"ARCHIVE_TABLE", ""}, [2]string{"SUBJECT_HASH_SECRET_ARN", ""})
}
