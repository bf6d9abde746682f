package awscall

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The endpoint is the service's variable, else the base endpoint, else AWS's.
func TestNew_ChoosesTheEndpointAsTheSDKDoes(t *testing.T) {
	env := map[string]string{"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:5000/"}
	getenv := func(k string) string { return env[k] }
	base := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://localhost:4566")}
	for _, tc := range []struct {
		cfg    aws.Config
		getenv func(string) string
		envID  string
		want   string
	}{
		{base, getenv, "KMS", "http://127.0.0.1:5000"},
		{base, getenv, "LAMBDA", "http://localhost:4566"},
		{aws.Config{Region: "eu-west-1"}, getenv, "LAMBDA", "https://lambda.eu-west-1.amazonaws.com"},
		{aws.Config{Region: "us-east-2"}, nil, "KMS", "https://kms.us-east-2.amazonaws.com"},
	} {
		service := strings.ToLower(tc.envID)
		if got := New(tc.cfg, tc.getenv, service, tc.envID).endpoint; got != tc.want {
			t.Errorf("%s: endpoint %q, want %q", tc.envID, got, tc.want)
		}
	}
}

// The error code comes from X-Amzn-ErrorType or the JSON body, without its
// namespace or the URL some services append.
func TestErrorCode_ReadsTheHeaderOrTheBody(t *testing.T) {
	for _, tc := range []struct {
		header, body, want string
	}{
		{"ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.lambda/", "", "ResourceNotFoundException"},
		{"", `{"__type":"com.amazonaws.kms#InvalidCiphertextException","message":"x"}`, "InvalidCiphertextException"},
		{"", `{"__type":"NotFoundException"}`, "NotFoundException"},
		{"", `{"code":"ThrottlingException"}`, "ThrottlingException"},
		{"", `<html>bad gateway</html>`, ""},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("X-Amzn-ErrorType", tc.header)
		}
		if got := errorCode(h, []byte(tc.body)); got != tc.want {
			t.Errorf("%q %q: code %q, want %q", tc.header, tc.body, got, tc.want)
		}
	}
}

func TestError_RetryableAndMessage(t *testing.T) {
	for _, tc := range []struct {
		err   *Error
		retry bool
		msg   string
	}{
		{&Error{Err: errors.New("connection reset")}, true, "connection reset"},
		{&Error{Status: 503}, true, "status 503"},
		{&Error{Status: 429, Code: "TooManyRequestsException"}, true, "status 429 TooManyRequestsException"},
		{&Error{Status: 400, Code: "ThrottlingException"}, true, "status 400 ThrottlingException"},
		{&Error{Status: 400, Code: "InvalidCiphertextException"}, false, "status 400 InvalidCiphertextException"},
		{&Error{Status: 403}, false, "status 403"},
	} {
		if tc.err.Retryable() != tc.retry || tc.err.Error() != tc.msg {
			t.Errorf("%+v: retryable %v, %q", tc.err, tc.err.Retryable(), tc.err.Error())
		}
	}
}

// Without credentials nothing is sent.
func TestDo_NeedsCredentials(t *testing.T) {
	c := New(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:1")}, nil, "kms", "KMS")
	if _, err := c.Do(context.Background(), Request{Method: http.MethodPost, EscapedURI: "/"}); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("err %v", err)
	}
}
