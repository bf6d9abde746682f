package testaws

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// FunctionEnv is the environment a function's run sees in a main's test: the
// region and credentials Lambda sets, moto as every service's endpoint, the
// test's tables, and each secret of secrets created in moto with only its ARN
// in the environment (<NAME>_ARN), as the template configures it. extra adds
// or overrides variables; an empty value removes one.
func FunctionEnv(tb testing.TB, tt *Tables, secrets, extra map[string]string) func(string) string {
	tb.Helper()
	env := map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_ENDPOINT_URL": Endpoint(tb), "DATA_TABLE": tt.Data, "ARCHIVE_TABLE": tt.Archive,
		"S3_FORCE_PATH_STYLE": "true",
	}
	sm := secretsmanager.NewFromConfig(Config(tb))
	for name, value := range secrets {
		out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
			Name:         aws.String(fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(tb.Name(), "/", "-"), name, time.Now().UnixNano())),
			SecretString: aws.String(value)})
		if err != nil {
			tb.Fatalf("create secret %s: %v", name, err)
		}
		env[name+"_ARN"] = aws.ToString(out.ARN)
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return func(k string) string { return env[k] }
}
