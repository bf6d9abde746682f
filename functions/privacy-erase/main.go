// Command privacy-erase is invoked asynchronously when an erase request is
// created: it erases the subject from both tables, closes their live connections,
// deletes their export files, calls the channel adapters' erase hooks, and leaves
// only a tombstone and suppression entries (salted hashes).
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/s3link"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	env, err := awsclients.Env(getenv, "EXPORT_BUCKET", "WS_MANAGEMENT_ENDPOINT")
	if err != nil {
		return err
	}
	rt, err := awsclients.Start(ctx, getenv, "SUBJECT_HASH_SECRET")
	if err != nil {
		return err
	}
	log := logging.FromEnv(getenv, "privacy-erase")
	// Channel adapters add their erase hooks here.
	var hooks []jobs.EraseHook
	if sc, err := slackbridge.ConfigFromEnv(getenv, "SLACK_KMS_KEY_ID"); err == nil {
		hooks = append(hooks, slackbridge.New(slackbridge.Deps{Config: sc, Store: rt.Store, Cipher: slackkms.New(rt.Config, getenv, sc.KMSKeyID), Log: log}))
	}
	if bucket := getenv("ATTACHMENT_BUCKET"); bucket != "" { // channel messages' files
		hooks = append(hooks, &attachment.Store{Objects: s3link.New(rt.Config, getenv), Bucket: bucket})
	}
	e := &jobs.Eraser{Store: rt.Store, S3: jobs.SignedDeleter{Signer: s3link.New(rt.Config, getenv)}, Bucket: env["EXPORT_BUCKET"],
		Connections: pusher.New(pusher.NewClient(rt.Config, env["WS_MANAGEMENT_ENDPOINT"])), Hooks: hooks, Log: log}
	return serve(e.Handle)
}
