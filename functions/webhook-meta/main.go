// Command webhook-meta serves the webhooks of the three Meta products:
// GET /webhooks/meta (the subscription handshake) and POST /webhooks/meta
// (signed Messenger, Instagram and WhatsApp events: contacts' messages into
// the inbox, their files into the attachment bucket, WhatsApp delivery
// statuses onto our messages).
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/metabridge"
	"github.com/livesupportbot/backend/shared/s3link"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it. The app secret and the
// verify token (META_APP_SECRETS) are read per request, from the cold start's
// one background fetch; a deployment without them answers 503.
func run(ctx context.Context, getenv func(string) string) error {
	env, err := awsclients.Env(getenv, "CHANNEL_KMS_KEY_ID", "ATTACHMENT_BUCKET")
	if err != nil {
		return err
	}
	rt, err := awsclients.Start(ctx, getenv, "META_APP_SECRETS", "SUBJECT_HASH_SECRET")
	if err != nil {
		return err
	}
	b := metabridge.New(metabridge.Deps{Store: rt.Store, Secrets: rt.Secrets,
		Cipher: slackkms.New(rt.Config, getenv, env["CHANNEL_KMS_KEY_ID"]),
		Graph:  &meta.Graph{BaseURL: getenv("META_GRAPH_URL")},
		Files:  &attachment.Store{Objects: s3link.New(rt.Config, getenv), Bucket: env["ATTACHMENT_BUCKET"]},
		Log:    logging.FromEnv(getenv, "webhook-meta")})
	return serve(b.Handle)
}
