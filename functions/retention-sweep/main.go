// Command retention-sweep enforces retention once a day: it brings existing
// items into line when a tenant shortens a period, renews active accounts and
// deletes the personal data of closed accounts at the end of their grace period.
// It stops a minute before its timeout and continues on the next run.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/sweep"
)

func main() {
	_, st := awsclients.MustStore(context.Background(), os.Getenv)
	log := logging.FromEnv("retention-sweep")
	lambda.Start(func(ctx context.Context) (*sweep.Summary, error) {
		opt := sweep.Options{}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			opt.Owner = lc.AwsRequestID
		}
		return sweep.New(st, log, opt).Run(ctx)
	})
}
