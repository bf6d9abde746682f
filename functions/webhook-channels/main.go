// Command webhook-channels serves the webhooks of the channels whose
// credentials belong to the tenant: /webhooks/{telegram,line,viber,wechat,x}/{webhookId}
// (GET too for WeChat's and X's checks of the URL), and Zendesk's
// /webhooks/zendesk/{webhookId}. Each request is verified with its tenant's
// secret; contacts' messages and Zendesk agents' replies go into the inbox,
// files into the attachment bucket. It also serves the Dialogflow install's
// OAuth callback, GET /webhooks/dialogflow/oauth.
package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/chanbridge/providers"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/s3link"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/zendeskbridge"
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
	secrets := []string{"SUBJECT_HASH_SECRET"}
	if getenv("GOOGLE_CLIENT_ID") != "" {
		secrets = append(secrets, "GOOGLE_APP_SECRETS")
	}
	rt, err := awsclients.Start(ctx, getenv, secrets...)
	if err != nil {
		return err
	}
	cipher, log := slackkms.New(rt.Config, getenv, env["CHANNEL_KMS_KEY_ID"]), logging.FromEnv(getenv, "webhook-channels")
	b := chanbridge.New(chanbridge.Deps{Store: rt.Store, Providers: providers.FromEnv(getenv), Cipher: cipher,
		Files: &attachment.Store{Objects: s3link.New(rt.Config, getenv), Bucket: env["ATTACHMENT_BUCKET"]}, Log: log})
	z := zendeskbridge.New(zendeskbridge.Deps{Store: rt.Store, Cipher: cipher, BaseURL: getenv("ZENDESK_API_URL"), Log: log})
	cfg, _ := botbridge.ConfigFromEnv(getenv, rt.Secrets)
	bot := botbridge.New(botbridge.Deps{Config: cfg, Store: rt.Store, Cipher: cipher, Log: log})
	return serve(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		switch path := req.RawPath + req.RequestContext.HTTP.Path; {
		case strings.Contains(path, zendeskbridge.WebhookPrefix):
			return z.Handle(ctx, req)
		case strings.Contains(path, botbridge.OAuthPath):
			return bot.HandleOAuth(ctx, req)
		}
		return b.Handle(ctx, req)
	})
}
