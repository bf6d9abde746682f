package awsclients_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
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
