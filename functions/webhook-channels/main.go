// Command webhook-channels serves the webhooks of the channels whose
// credentials belong to the tenant: POST /webhooks/telegram/{webhookId},
// /webhooks/line/{webhookId} and /webhooks/viber/{webhookId}. Each request is
// verified with its tenant's secret; contacts' messages go into the inbox,
// their files into the attachment bucket.
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/chanbridge/providers"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/s3link"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	env, err := awsclients.Env(getenv, "CHANNEL_KMS_KEY_ID", "ATTACHMENT_BUCKET")
	if err != nil {
		return err
	}
	rt, err := awsclients.Start(ctx, getenv, "SUBJECT_HASH_SECRET")
	if err != nil {
		return err
	}
	b := chanbridge.New(chanbridge.Deps{Store: rt.Store, Providers: providers.FromEnv(getenv),
		Cipher: slackkms.New(rt.Config, getenv, env["CHANNEL_KMS_KEY_ID"]),
		Files:  &attachment.Store{Objects: s3link.New(rt.Config, getenv), Bucket: env["ATTACHMENT_BUCKET"]},
		Log:    logging.FromEnv(getenv, "webhook-channels")})
	return serve(b.Handle)
}
