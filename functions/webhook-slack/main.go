// Command webhook-slack serves Slack: POST /webhooks/slack/events (signed Events
// API requests: agents' thread replies become agent messages, uninstalls remove
// the integration) and GET /webhooks/slack/oauth (the app's install callback).
package main

import (
	"context"
	"sync"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// notConfigured says "slack is off" once per process.
var notConfigured sync.Once

// run builds the handler at cold start and serves it. The app's two secrets
// (SLACK_APP_SECRETS) are read per request, from the cold start's one
// background fetch.
func run(ctx context.Context, getenv func(string) string) error {
	rt, err := awsclients.Start(ctx, getenv, "SLACK_APP_SECRETS")
	if err != nil {
		return err
	}
	log := logging.FromEnv(getenv, "webhook-slack")
	sc, err := slackbridge.ConfigFromEnv(getenv, "SLACK_CLIENT_ID", "SLACK_KMS_KEY_ID")
	if err != nil { // Slack is optional: answer 503 rather than fail the stack
		// A deployment without Slack is a choice, not a fault: said once, at INFO.
		notConfigured.Do(func() {
			log.Info("slack is off (set the SlackClientId parameter, SLACK_CLIENT_ID, to turn it on); every request gets 503", "missing", err.Error())
		})
		return serve(slackbridge.NotConfigured)
	}
	sc.Secrets = rt.Secrets
	h := slackbridge.New(slackbridge.Deps{Config: sc, Store: rt.Store, Cipher: slackkms.New(rt.Config, getenv, sc.KMSKeyID), Log: log})
	return serve(h.Handle)
}
