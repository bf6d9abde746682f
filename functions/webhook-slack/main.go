// Command webhook-slack serves Slack: POST /webhooks/slack/events (signed Events
// API requests: agents' thread replies become agent messages, uninstalls remove
// the integration) and GET /webhooks/slack/oauth (the app's install callback).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

func main() {
	cfg, getenv, st := awsclients.MustStart(context.Background(), os.Getenv, "SLACK_APP_SECRETS")
	log := logging.FromEnv("webhook-slack")
	sc, err := slackbridge.ConfigFromEnv(getenv)
	if err != nil { // Slack is optional: answer 503 rather than fail the stack
		log.Error("slack is not configured; every request gets 503", "error", err.Error())
		lambda.Start(slackbridge.NotConfigured)
		return
	}
	lambda.Start(slackbridge.New(sc, st, kms.NewFromConfig(cfg), log).Handle)
}
