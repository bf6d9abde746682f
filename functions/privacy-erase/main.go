// Command privacy-erase is invoked asynchronously when an erase request is
// created: it erases the subject from both tables, closes their live connections,
// deletes their export files, calls the channel adapters' erase hooks, and leaves
// only a tombstone and suppression entries (salted hashes).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

func main() {
	cfg, getenv, st := awsclients.MustStart(context.Background(), os.Getenv, "SUBJECT_HASH_SECRET")
	env, err := awsclients.Env(getenv, "EXPORT_BUCKET", "WS_MANAGEMENT_ENDPOINT")
	if err != nil {
		awsclients.Fatal(err)
	}
	log := logging.FromEnv("privacy-erase")
	// Channel adapters add their erase hooks here.
	var hooks []privacy.EraseHook
	if sc, err := slackbridge.ConfigFromEnv(getenv, "SLACK_KMS_KEY_ID"); err == nil {
		hooks = append(hooks, slackbridge.New(sc, st, slackkms.New(kms.NewFromConfig(cfg), sc.KMSKeyID), log))
	}
	e := &privacy.Eraser{
		Store: st, S3: privacy.NewS3Client(cfg, getenv), Bucket: env["EXPORT_BUCKET"],
		Connections: pusher.New(pusher.NewClient(cfg, env["WS_MANAGEMENT_ENDPOINT"])),
		Hooks:       hooks,
		Log:         log,
	}
	lambda.Start(e.Handle)
}
