package submit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/submit"
)

// The service queues each request's event for its function through the Lambda
// API (AWS_ENDPOINT_URL_LAMBDA), with the ids only.
func TestNewService_QueuesAnEventWithIDsOnly(t *testing.T) {
	var got struct{ uri, invocationType, body string }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.uri, got.invocationType, got.body = r.RequestURI, r.Header.Get("X-Amz-Invocation-Type"), string(body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	env := map[string]string{"PRIVACY_EXPORT_FUNCTION": "exp", "PRIVACY_ERASE_FUNCTION": "erase-fn", "AWS_ENDPOINT_URL_LAMBDA": srv.URL}
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	s, err := submit.NewService(cfg, nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(privacy.Event{TenantID: "t1", RequestID: "r1"})
	if err := s.Invoker.InvokeAsync(context.Background(), s.EraseFunction, payload); err != nil {
		t.Fatal(err)
	}
	if got.uri != "/2015-03-31/functions/erase-fn/invocations" || got.invocationType != "Event" ||
		got.body != `{"tenantId":"t1","requestId":"r1"}` {
		t.Errorf("invoke %+v", got)
	}
}

func TestNewService_ReadsTheFunctionsAndTheBucket(t *testing.T) {
	env := map[string]string{"PRIVACY_EXPORT_FUNCTION": "exp"}
	getenv := func(k string) string { return env[k] }
	if _, err := submit.NewService(aws.Config{}, nil, getenv); err == nil || !strings.Contains(err.Error(), "PRIVACY_ERASE_FUNCTION") {
		t.Fatalf("missing erase function: %v", err)
	}
	env["PRIVACY_ERASE_FUNCTION"] = "era"
	s, err := submit.NewService(aws.Config{Region: "eu-west-1"}, nil, getenv)
	if err != nil || s.ExportFunction != "exp" || s.EraseFunction != "era" || s.Presign != nil {
		t.Fatalf("without bucket: %+v, %v", s, err)
	}
	env["EXPORT_BUCKET"] = "b"
	if s, err = submit.NewService(aws.Config{Region: "eu-west-1"}, nil, getenv); err != nil || s.Presign == nil || s.Bucket != "b" {
		t.Fatalf("with bucket: %+v, %v", s, err)
	}
}
