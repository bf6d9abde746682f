// Command admin-api serves the admin HTTP API (/v1/...): tenants, API keys, the
// inbox, agent replies, contacts and the audit trail.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/adminapi"
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
	env, err := awsclients.Env(os.Getenv, "PLATFORM_TOKEN")
	if err != nil {
		awsclients.Fatal(err)
	}
	if len(env["PLATFORM_TOKEN"]) < 32 {
		awsclients.Fatal(fmt.Errorf("PLATFORM_TOKEN must be at least 32 characters"))
	}
	maxChars, _ := strconv.Atoi(os.Getenv("MAX_MESSAGE_CHARS")) // 0: the package default
	api := adminapi.New(adminapi.Deps{Store: st, PlatformToken: env["PLATFORM_TOKEN"],
		Logger: logging.FromEnv("admin-api"), MaxMessageChars: maxChars})
	lambda.Start(api.Handler)
}
