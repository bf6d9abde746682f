// Package awsclients is the start of every function: its main is
// awsclients.Main(run), and run reads its configuration only through the getenv
// it is given (Env for required variables), builds its AWS clients with Start
// and serves its handler with Serve.
// Endpoints of local services come from the SDK's own AWS_ENDPOINT_URL variables.
package awsclients

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livesupportbot/backend/shared/secrets"
	"github.com/livesupportbot/backend/shared/store"
)

// Config builds the AWS configuration of a Lambda function from the environment
// the Lambda runtime sets: AWS_REGION and the execution role's credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). It reads no
// shared config files and links none of the SSO, STS or instance-metadata
// providers that config.LoadDefaultConfig brings, which keeps each bootstrap small
// and its cold start short. The SDK's configured-endpoint variables are honoured:
// AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_<SERVICE> for one.
func Config(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("load aws config: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, getenv("AWS_SESSION_TOKEN"))),
		ConfigSources: []any{envEndpoints{getenv}},
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}

// envEndpoints resolves AWS_ENDPOINT_URL_<SERVICE> (the SDK id upper-cased, spaces
// as underscores), as the SDK's shared configuration does.
type envEndpoints struct{ getenv func(string) string }

func (e envEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := e.getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_")))
	return v, v != "", nil
}

// Env returns the values of the named variables, or an error naming every
// missing one.
func Env(getenv func(string) string, names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		v := getenv(n)
		if v == "" {
			missing = append(missing, n)
		}
		out[n] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing environment: %v", missing)
	}
	return out, nil
}

// Int reads the whole number in the variable name: def when it is unset, and
// an error naming the variable when it is not a number from min to max.
func Int(getenv func(string) string, name string, def, min, max int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d, not %q", name, min, max, v)
	}
	return n, nil
}

// Runtime is what a function's run gets at cold start: the AWS configuration,
// the store over the tables, and the function's secrets, which are still on
// their way (Secrets.Get waits for them the first time).
type Runtime struct {
	Config  aws.Config
	Store   *store.Store
	Secrets *secrets.Pending
}

// Start loads the AWS configuration, starts fetching the named secrets in the
// background (secrets.Fetch: one BatchGetSecretValue; the environment holds
// only <NAME>_ARN) and builds the store from DATA_TABLE and ARCHIVE_TABLE. When
// SUBJECT_HASH_SECRET is among the secrets, the store hashes erased subjects'
// identifiers with it. Start makes no network call itself, so a cold start does
// not wait for one.
func Start(ctx context.Context, getenv func(string) string, secretNames ...string) (*Runtime, error) {
	cfg, err := Config(getenv)
	if err != nil {
		return nil, err
	}
	env, err := Env(getenv, "DATA_TABLE", "ARCHIVE_TABLE")
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range secretNames {
		if getenv(n+"_ARN") == "" {
			missing = append(missing, n+"_ARN")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing environment: %v", missing)
	}
	rt := &Runtime{Config: cfg, Secrets: secrets.Fetch(ctx, secretsmanager.NewFromConfig(cfg), getenv, secretNames...)}
	rt.Store = store.New(dynamodb.NewFromConfig(cfg), env["DATA_TABLE"], env["ARCHIVE_TABLE"])
	if slices.Contains(secretNames, "SUBJECT_HASH_SECRET") {
		rt.Store = rt.Store.WithSubjectKeyFrom(func() ([]byte, error) {
			k, err := rt.Secrets.Get("SUBJECT_HASH_SECRET")
			return []byte(k), err
		})
	}
	return rt, nil
}

// Main runs a function's run with the process environment and exits with one
// logged line if it fails: a missing setting is a clear message, not a panic
// inside a request.
func Main(run func(ctx context.Context, getenv func(string) string) error) {
	if err := run(context.Background(), os.Getenv); err != nil {
		Fatal(err)
	}
}

// Serve hands the handler to the Lambda runtime; it returns only if the runtime
// cannot start. Mains keep it in a variable so their tests can take the handler.
func Serve(handler any) error {
	lambda.Start(handler)
	return errors.New("lambda runtime stopped")
}

// Fatal logs a start-up error as one line and exits.
func Fatal(err error) {
	fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"start-up failed","error":%q}`+"\n", err.Error())
	os.Exit(1)
}
