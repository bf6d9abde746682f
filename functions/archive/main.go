// Command archive copies the items that DynamoDB's TTL removes from the Data
// table and whose class is archived (communication) into the Archive table,
// unless their subject was erased; items of a subject on legal hold are put back.
// It reads REMOVE records of the Data table's stream and reports failed records
// as batch item failures.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
)

func main() {
	// Erased subjects are recognised by the hash of their contact id, keyed with
	// SUBJECT_HASH_SECRET (MustStart gives it to the store).
	_, _, st := awsclients.MustStart(context.Background(), os.Getenv, "SUBJECT_HASH_SECRET")
	lambda.Start(archive.New(st, st, logging.FromEnv("archive")).Handle)
}
