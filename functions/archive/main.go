// Command archive copies the items that DynamoDB's TTL removes from the Data
// table and whose class is archived (communication) into the Archive table,
// unless their subject was erased; items of a subject on legal hold are put back.
// It reads REMOVE records of the Data table's stream and reports failed records
// as batch item failures.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
)

func main() {
	cfg, err := awsclients.Config(context.Background())
	if err != nil {
		awsclients.Fatal(err)
	}
	st, err := awsclients.Store(cfg, os.Getenv)
	if err != nil {
		awsclients.Fatal(err)
	}
	// The suppression list of erased subjects is the privacy engineer's
	// store.IsSuppressed; without it the archive could bring erased data back,
	// so it does not start.
	supp, ok := any(st).(archive.Suppressions)
	if !ok {
		awsclients.Fatal(errors.New("store has no suppression list (store.IsSuppressed)"))
	}
	lambda.Start(archive.New(st, supp, logging.FromEnv("archive")).Handle)
}
