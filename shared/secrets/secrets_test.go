package secrets_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/secrets"
)

// counting counts the calls a client makes.
type counting struct {
	*secretsmanager.Client
	calls int
}

func (c *counting) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	c.calls++
	return c.Client.BatchGetSecretValue(ctx, in, opts...)
}

func newSecret(t *testing.T, c *secretsmanager.Client, value string) string {
	t.Helper()
	out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(fmt.Sprintf("test-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func TestLoad_OneCallForEverySecret(t *testing.T) {
	c := &counting{Client: secretsmanager.NewFromConfig(testaws.Config(t))}
	env := map[string]string{
		"VISITOR_TOKEN_SECRET_ARN": newSecret(t, c.Client, "visitor-secret-value"),
		"SUBJECT_HASH_SECRET_ARN":  newSecret(t, c.Client, "subject-secret-value"),
		"SLACK_APP_SECRETS_ARN":    newSecret(t, c.Client, `{"SLACK_CLIENT_SECRET":"cs","SLACK_SIGNING_SECRET":"ss"}`),
	}
	got, err := secrets.Load(context.Background(), c, func(k string) string { return env[k] },
		"VISITOR_TOKEN_SECRET", "SUBJECT_HASH_SECRET", "SLACK_APP_SECRETS")
	if err != nil {
		t.Fatal(err)
	}
	if c.calls != 1 {
		t.Errorf("%d calls, want 1", c.calls)
	}
	for k, want := range map[string]string{"VISITOR_TOKEN_SECRET": "visitor-secret-value", "SUBJECT_HASH_SECRET": "subject-secret-value",
		"SLACK_CLIENT_SECRET": "cs", "SLACK_SIGNING_SECRET": "ss"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	getenv := secrets.Getenv(got, func(k string) string { return "env:" + k })
	if getenv("SUBJECT_HASH_SECRET") != "subject-secret-value" || getenv("DATA_TABLE") != "env:DATA_TABLE" {
		t.Errorf("Getenv overlays wrongly: %q %q", getenv("SUBJECT_HASH_SECRET"), getenv("DATA_TABLE"))
	}
}

func TestLoad_ErrorsNameSecretsNeverValues(t *testing.T) {
	c := secretsmanager.NewFromConfig(testaws.Config(t))
	present := newSecret(t, c, "a-value-that-must-not-leak")
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"missing ARN variable": {map[string]string{"A_ARN": present}, "B_ARN"},
		"unknown secret":       {map[string]string{"A_ARN": present, "B_ARN": present + "-gone"}, "B"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := secrets.Load(context.Background(), c, func(k string) string { return tc.env[k] }, "A", "B")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "must-not-leak") {
				t.Errorf("error %q: want it to name %q and show no value", err, tc.want)
			}
		})
	}
}

func TestLoad_NoNamesNoCall(t *testing.T) {
	c := &counting{}
	got, err := secrets.Load(context.Background(), c, func(string) string { return "" })
	if err != nil || len(got) != 0 || c.calls != 0 {
		t.Fatalf("got %v, %v after %d calls", got, err, c.calls)
	}
}

// BenchmarkLoad is the cold-start call: a new client (new connection) and one
// BatchGetSecretValue for four secrets, against moto.
func BenchmarkLoad(b *testing.B) {
	cfg := testaws.Config(b)
	c := secretsmanager.NewFromConfig(cfg)
	env := map[string]string{}
	names := []string{"A", "B", "C", "D"}
	for _, n := range names {
		out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
			Name: aws.String(fmt.Sprintf("bench-%s-%d", n, time.Now().UnixNano())), SecretString: aws.String("value-" + n)})
		if err != nil {
			b.Fatal(err)
		}
		env[n+"_ARN"] = aws.ToString(out.ARN)
	}
	b.ResetTimer()
	for range b.N {
		fresh := secretsmanager.NewFromConfig(cfg) // as at a cold start: no open connection
		if _, err := secrets.Load(context.Background(), fresh, func(k string) string { return env[k] }, names...); err != nil {
			b.Fatal(err)
		}
	}
}
