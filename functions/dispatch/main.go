// Command dispatch delivers each new message of the Data table's stream to where
// it must go (the visitor's live connections, and the channels that are wired in),
// reporting failed records as batch item failures, and, on its schedule, retries
// the outbound deliveries (Slack) that failed.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
)

func main() {
	cfg, st := awsclients.MustStore(context.Background(), os.Getenv)
	env, err := awsclients.Env(os.Getenv, "WS_MANAGEMENT_ENDPOINT")
	if err != nil {
		awsclients.Fatal(err)
	}
	log := logging.FromEnv("dispatch")
	h := dispatch.New(dispatch.Deps{
		Store:   st,
		Tenants: store.NewTenantCache(st, 30*time.Second),
		Log:     log,
		Deliverers: []dispatch.Deliverer{
			&dispatch.Widget{Store: st, Pusher: pusher.New(pusher.NewClient(cfg, env["WS_MANAGEMENT_ENDPOINT"])), Log: log},
		},
	})
	// Slack: mirror visitor and bot messages to the tenant's Slack thread. It is
	// outbound: its failures are parked and retried by the scheduled run.
	if sc, err := slackbridge.ConfigFromEnv(os.Getenv, "SLACK_KMS_KEY_ID"); err == nil {
		h.Outbound = append(h.Outbound, dispatch.Destination{Name: "slack", Deliverer: slackbridge.New(sc, st, slackkms.New(kms.NewFromConfig(cfg), sc.KMSKeyID), log)})
	}
	lambda.Start(h.Handle)
}
