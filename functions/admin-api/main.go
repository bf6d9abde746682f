// Command admin-api serves the admin HTTP API (/v1/...): tenants, API keys, the
// inbox, agent replies, contacts, privacy requests and the audit trail.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/legalhold"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

func main() {
	cfg, getenv, st := awsclients.MustStart(context.Background(), os.Getenv,
		"PLATFORM_TOKEN", "SUBJECT_HASH_SECRET", "SLACK_APP_SECRETS")
	env, err := awsclients.Env(getenv, "PLATFORM_TOKEN")
	if err != nil {
		awsclients.Fatal(err)
	}
	if len(env["PLATFORM_TOKEN"]) < 32 {
		awsclients.Fatal(fmt.Errorf("PLATFORM_TOKEN must be at least 32 characters"))
	}
	maxChars, _ := strconv.Atoi(getenv("MAX_MESSAGE_CHARS")) // 0: the package default
	priv, err := privacy.NewService(cfg, st, getenv)
	if err != nil {
		awsclients.Fatal(err)
	}
	log := logging.FromEnv("admin-api")
	var slack adminapi.SlackIntegrations // nil: Slack is not configured
	if sc, err := slackbridge.ConfigFromEnv(getenv, "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"); err == nil {
		slack = adminapi.SlackBridge(slackbridge.New(sc, st, nil, log)) // the admin routes never use KMS
	}
	api := adminapi.New(adminapi.Deps{Store: st, Limiter: ratelimit.New(st), Holds: legalhold.Over(st),
		PlatformToken: env["PLATFORM_TOKEN"], Logger: log, MaxMessageChars: maxChars, Privacy: priv, Slack: slack})
	lambda.Start(api.Handle)
}
