// Package awsclients loads the AWS configuration of a function once, at cold
// start, and reads the settings every function needs from the environment.
// Endpoints of local services come from the SDK's own AWS_ENDPOINT_URL variables.
package awsclients

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/shared/store"
)

// Config loads the default AWS configuration.
func Config(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
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
// exits: the start of every function that uses the tables.
func MustStore(ctx context.Context, getenv func(string) string) (aws.Config, *store.Store) {
	cfg, err := Config(ctx)
	if err != nil {
		Fatal(err)
	}
	st, err := Store(cfg, getenv)
	if err != nil {
		Fatal(err)
	}
	return cfg, st
}
