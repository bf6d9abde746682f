package awsclients_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/livesupportbot/backend/shared/awsclients"
)

func TestConfig_EndpointsAndCredentialsFromEnv(t *testing.T) {
	var general, lambdaHits atomic.Int32
	all := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		general.Add(1)
		if r.Header.Get("Authorization") == "" {
			t.Error("request not signed")
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer all.Close()
	lam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lambdaHits.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer lam.Close()
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL", all.URL)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", lam.URL)
	cfg, err := awsclients.Config(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Fatalf("region %q", cfg.Region)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	name := "f"
	if _, err := lambda.NewFromConfig(cfg).Invoke(context.Background(), &lambda.InvokeInput{FunctionName: &name, InvocationType: "Event"}); err != nil {
		t.Fatal(err)
	}
	if general.Load() != 1 || lambdaHits.Load() != 1 {
		t.Fatalf("general endpoint got %d, lambda endpoint %d; want 1 and 1", general.Load(), lambdaHits.Load())
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if _, err := awsclients.Config(os.Getenv); err == nil {
		t.Fatal("missing credentials accepted")
	}
}

func TestInt_DefaultRangeAndAnErrorNamingTheVariable(t *testing.T) {
	env := map[string]string{"GOOD": "12", "LOW": "0", "WORD": "ten"}
	getenv := func(k string) string { return env[k] }
	for name, want := range map[string]int{"GOOD": 12, "UNSET": 7} {
		if n, err := awsclients.Int(getenv, name, 7, 1, 100); err != nil || n != want {
			t.Errorf("%s: %d, %v; want %d", name, n, err, want)
		}
	}
	for _, name := range []string{"LOW", "WORD"} {
		if _, err := awsclients.Int(getenv, name, 7, 1, 100); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the variable", name, err)
		}
	}
}

func TestStart_NamesMissingSettingsAndCallsNothing(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
		"AWS_ENDPOINT_URL": srv.URL, "DATA_TABLE": "d"}
	getenv := func(k string) string { return env[k] }
	if _, err := awsclients.Start(context.Background(), getenv); err == nil || !strings.Contains(err.Error(), "ARCHIVE_TABLE") {
		t.Fatalf("missing ARCHIVE_TABLE: %v", err)
	}
	env["ARCHIVE_TABLE"] = "a"
	if _, err := awsclients.Start(context.Background(), getenv, "SUBJECT_HASH_SECRET"); err == nil || !strings.Contains(err.Error(), "SUBJECT_HASH_SECRET_ARN") {
		t.Fatalf("missing secret ARN: %v", err)
	}
	rt, err := awsclients.Start(context.Background(), getenv)
	if err != nil || rt.Store == nil {
		t.Fatalf("Start: %v", err)
	}
	if calls.Load() != 0 {
		t.Errorf("Start made %d calls; a cold start waits for none", calls.Load())
	}
}
