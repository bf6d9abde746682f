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

// flaky fails its first n calls, as Secrets Manager unreachable at cold start.
type flaky struct {
	counting
	fail int
}

func (c *flaky) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	if c.fail > 0 {
		c.fail--
		c.calls++
		return nil, fmt.Errorf("connection refused")
	}
	return c.counting.BatchGetSecretValue(ctx, in, opts...)
}

func TestFetch_InTheBackgroundOnceAndAgainAfterAFailure(t *testing.T) {
	sm := secretsmanager.NewFromConfig(testaws.Config(t))
	env := map[string]string{"A_ARN": newSecret(t, sm, "value-a"), "SLACK_ARN": newSecret(t, sm, `{"S1":"one"}`)}
	getenv := func(k string) string { return env[k] }

	c := &flaky{counting: counting{Client: sm}}
	p := secrets.Fetch(context.Background(), c, getenv, "A", "SLACK")
	for range 3 {
		if v, err := p.Get("A"); err != nil || v != "value-a" {
			t.Fatalf("Get(A) = %q, %v", v, err)
		}
	}
	if v, err := p.Get("S1"); err != nil || v != "one" {
		t.Fatalf("Get(S1) = %q, %v", v, err)
	}
	if c.calls != 1 {
		t.Errorf("%d calls for four Gets, want 1", c.calls)
	}
	if _, err := p.Get("NOT_A_SECRET"); err == nil || !strings.Contains(err.Error(), "NOT_A_SECRET") {
		t.Errorf("unknown name: %v", err)
	}

	c = &flaky{counting: counting{Client: sm}, fail: 1}
	p = secrets.Fetch(context.Background(), c, getenv, "A")
	if v, err := p.Get("A"); err != nil || v != "value-a" {
		t.Fatalf("after a failed background fetch, Get(A) = %q, %v; want a second try", v, err)
	}
	if c.calls != 2 {
		t.Errorf("%d calls, want 2 (the failed one and the retry)", c.calls)
	}
	c = &flaky{counting: counting{Client: sm}, fail: 2}
	p = secrets.Fetch(context.Background(), c, getenv, "A")
	if _, err := p.Get("A"); err == nil || strings.Contains(err.Error(), "value-a") {
		t.Fatalf("two failures: %v, want an error that shows no value", err)
	}
}
