// Package awsclients loads the AWS configuration of a function once, at cold
// start, and reads the settings every function needs from the environment.
// Endpoints of local services come from the SDK's own AWS_ENDPOINT_URL variables.
package awsclients

import (
	"context"
	"fmt"
	"os"
	"strings"

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
func Config(ctx context.Context) (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("load aws config: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN"))),
		ConfigSources: []any{envEndpoints{}},
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}

// envEndpoints resolves AWS_ENDPOINT_URL_<SERVICE> (the SDK id upper-cased, spaces
// as underscores), as the SDK's shared configuration does.
type envEndpoints struct{}

func (envEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := os.Getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_")))
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

// Store builds the store from DATA_TABLE and ARCHIVE_TABLE, with the subject hash
// key of SUBJECT_HASH_SECRET when it is set.
func Store(cfg aws.Config, getenv func(string) string) (*store.Store, error) {
	env, err := Env(getenv, "DATA_TABLE", "ARCHIVE_TABLE")
	if err != nil {
		return nil, err
	}
	st := store.New(dynamodb.NewFromConfig(cfg), env["DATA_TABLE"], env["ARCHIVE_TABLE"])
	if k := getenv("SUBJECT_HASH_SECRET"); k != "" {
		st = st.WithSubjectKey([]byte(k)) // hashes erased subjects' identifiers (suppression)
	}
	return st, nil
}

// Fatal logs a start-up error as one line and exits: a missing setting is a clear
// message, not a panic inside a request.
func Fatal(err error) {
	fmt.Fprintf(os.Stderr, `{"level":"ERROR","msg":"start-up failed","error":%q}`+"\n", err.Error())
	os.Exit(1)
}

// MustStore loads the AWS configuration and builds the store, or logs why not and
// exits: the start of every function that uses the tables and no secret.
func MustStore(ctx context.Context, getenv func(string) string) (aws.Config, *store.Store) {
	cfg, _, st := MustStart(ctx, getenv)
	return cfg, st
}

// MustStart is the start of a function: it loads the AWS configuration, then
// the named secrets from Secrets Manager in one call (secrets.Load: the
// environment holds only <NAME>_ARN), then the store, or logs why not and exits.
// The getenv it returns answers the secrets first, then the environment; the
// store takes SUBJECT_HASH_SECRET from it.
func MustStart(ctx context.Context, getenv func(string) string, secretNames ...string) (aws.Config, func(string) string, *store.Store) {
	cfg, err := Config(ctx)
	if err != nil {
		Fatal(err)
	}
	if len(secretNames) > 0 {
		vals, err := secrets.Load(ctx, secretsmanager.NewFromConfig(cfg), getenv, secretNames...)
		if err != nil {
			Fatal(err)
		}
		getenv = secrets.Getenv(vals, getenv)
	}
	st, err := Store(cfg, getenv)
	if err != nil {
		Fatal(err)
	}
	return cfg, getenv, st
}
