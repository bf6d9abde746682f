// Command archive copies the items that DynamoDB's TTL removes from the Data
// table and whose class is archived (communication) into the Archive table,
// unless their subject was erased; items of a subject on legal hold are put back.
// It reads REMOVE records of the Data table's stream and reports failed records
// as batch item failures.
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime; tests capture it instead.
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	// Erased subjects are recognised by the hash of their contact id, keyed with
	// SUBJECT_HASH_SECRET: the store takes it from the secrets when it first
	// checks one.
	rt, err := awsclients.Start(ctx, getenv, "SUBJECT_HASH_SECRET")
	if err != nil {
		return err
	}
	log := logging.FromEnv(getenv, "archive")
	h := archive.New(archive.Deps{Store: rt.Store, Suppressions: rt.Store, Log: log})
	return serve(h.Handle)
}
