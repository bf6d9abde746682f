// Command retention-sweep enforces retention once a day: it brings existing
// items into line when a tenant shortens a period, renews active accounts and
// deletes the personal data of closed accounts at the end of their grace period.
// It stops a minute before its timeout and continues on the next run.
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/sweep"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime; tests capture it instead.
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	rt, err := awsclients.Start(ctx, getenv)
	if err != nil {
		return err
	}
	log := logging.FromEnv(getenv, "retention-sweep")
	h := sweep.New(sweep.Deps{Store: rt.Store, Log: log})
	return serve(h.Handle)
}
