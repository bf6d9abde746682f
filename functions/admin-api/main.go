// Command admin-api serves the admin HTTP API (/v1/...): tenants, API keys, the
// inbox, agent replies, agent tokens, contacts, privacy requests and the audit
// trail.
package main

import (
	"context"
	"log/slog"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/chanbridge/providers"
	"github.com/livesupportbot/backend/shared/legalhold"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/metabridge"
	"github.com/livesupportbot/backend/shared/privacy/submit"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/s3link"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/zendeskbridge"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it. The platform token,
// Slack's client secret and the agent token key are read on the first request
// that needs them, so a cold start waits for no secret.
func run(ctx context.Context, getenv func(string) string) error {
	// MAX_MESSAGE_CHARS: unset is the default limit (chat.DefaultMaxTextChars).
	maxChars, err := awsclients.Int(getenv, "MAX_MESSAGE_CHARS", 0, 1, 1<<20)
	if err != nil {
		return err
	}
	env, err := awsclients.Env(getenv, "WEBSOCKET_URL")
	if err != nil {
		return err
	}
	secrets := []string{adminapi.PlatformTokenSecret, "SUBJECT_HASH_SECRET", "SLACK_APP_SECRETS", "VISITOR_TOKEN_SECRET"}
	if getenv("GOOGLE_CLIENT_ID") != "" {
		secrets = append(secrets, "GOOGLE_APP_SECRETS")
	}
	rt, err := awsclients.Start(ctx, getenv, secrets...)
	if err != nil {
		return err
	}
	priv, err := submit.NewService(rt.Config, rt.Store, getenv)
	if err != nil {
		return err
	}
	log := logging.FromEnv(getenv, "admin-api")
	d := adminapi.Deps{Store: rt.Store, Limiter: ratelimit.New(rt.Store), Holds: legalhold.Over(rt.Store),
		Secrets: rt.Secrets, Logger: log, MaxMessageChars: maxChars, Privacy: priv, Slack: slackBridge(rt, getenv, log),
		TenantTTL: store.AdminTenantCacheTTL, PublicURL: getenv("PUBLIC_API_URL"),
		// Agent tokens are signed with the key the WebSocket authorizer checks.
		Tokens:       visitortoken.FromSecret(func() (string, error) { return rt.Secrets.Get("VISITOR_TOKEN_SECRET") }),
		WebSocketURL: env["WEBSOCKET_URL"]}
	if keyID := getenv("CHANNEL_KMS_KEY_ID"); keyID != "" {
		cipher := slackkms.New(rt.Config, getenv, keyID)
		desk := zendeskbridge.New(zendeskbridge.Deps{Store: rt.Store, Cipher: cipher, BaseURL: getenv("ZENDESK_API_URL"), Log: log})
		d.Channels = append(d.Channels, metabridge.New(metabridge.Deps{Store: rt.Store, Cipher: cipher, Log: log}),
			chanbridge.New(chanbridge.Deps{Store: rt.Store, Cipher: cipher, Providers: providers.FromEnv(getenv), Log: log}), desk)
		d.Desks = desk
		if cfg, ok := botbridge.ConfigFromEnv(getenv, rt.Secrets); ok {
			bot := botbridge.New(botbridge.Deps{Config: cfg, Store: rt.Store, Cipher: cipher, Log: log})
			d.Channels, d.Bot = append(d.Channels, bot), bot
		}
	}
	if bucket := getenv("ATTACHMENT_BUCKET"); bucket != "" {
		d.Attachments = &attachment.Store{Objects: s3link.New(rt.Config, getenv), Bucket: bucket}
	}
	return serve(adminapi.New(d).Handle)
}

// slackBridge is the Slack bridge of the admin routes, nil when the deployment
// has no Slack app. It reads the app's client secret per install link, from
// the cold start's background fetch; the admin routes never use KMS.
func slackBridge(rt *awsclients.Runtime, getenv func(string) string, log *slog.Logger) adminapi.SlackIntegrations {
	sc, err := slackbridge.ConfigFromEnv(getenv, "SLACK_CLIENT_ID")
	if err != nil {
		return nil
	}
	sc.Secrets = rt.Secrets
	return adminapi.SlackBridge(slackbridge.New(slackbridge.Deps{Config: sc, Store: rt.Store, Log: log}))
}
