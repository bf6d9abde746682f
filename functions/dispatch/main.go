// Command dispatch delivers each new message of the Data table's stream to where
// it must go (the visitor's live connections, the agents' consoles, and the
// channels that are wired in),
// reporting failed records as batch item failures, and, on its schedule, retries
// the outbound deliveries (Slack) that failed.
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/chanbridge/providers"
	"github.com/livesupportbot/backend/shared/dialogflow"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/metabridge"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/zendeskbridge"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	env, err := awsclients.Env(getenv, "WS_MANAGEMENT_ENDPOINT")
	if err != nil {
		return err
	}
	var secrets []string
	if getenv("GOOGLE_CLIENT_ID") != "" {
		secrets = append(secrets, "GOOGLE_APP_SECRETS")
	}
	rt, err := awsclients.Start(ctx, getenv, secrets...)
	if err != nil {
		return err
	}
	log := logging.FromEnv(getenv, "dispatch")
	push := pusher.New(pusher.NewClient(rt.Config, env["WS_MANAGEMENT_ENDPOINT"]))
	widget := &dispatch.Widget{Store: rt.Store, Pusher: push, Log: log}
	h := dispatch.New(dispatch.Deps{Store: rt.Store, Tenants: store.NewTenantCache(rt.Store, store.TenantCacheTTL), Log: log,
		Deliverers: []dispatch.Deliverer{widget}, Agents: &dispatch.Agents{Store: rt.Store, Pusher: push}})
	// Slack, when its key is configured: mirror visitor and bot messages to the
	// tenant's Slack thread. It is outbound: its failures are parked and retried
	// by the scheduled run.
	if sc, err := slackbridge.ConfigFromEnv(getenv, "SLACK_KMS_KEY_ID"); err == nil {
		h.Outbound = append(h.Outbound, dispatch.Destination{Name: "slack", Deliverer: slackbridge.New(slackbridge.Deps{Config: sc, Store: rt.Store, Cipher: slackkms.New(rt.Config, getenv, sc.KMSKeyID), Log: log})})
	}
	// The Meta channels, when their key is configured: agent and bot replies
	// of Messenger, Instagram and WhatsApp conversations go out through the
	// Graph API; failures worth a retry are parked like Slack's.
	if keyID := getenv("CHANNEL_KMS_KEY_ID"); keyID != "" {
		b := metabridge.New(metabridge.Deps{Store: rt.Store, Cipher: slackkms.New(rt.Config, getenv, keyID),
			Graph: &meta.Graph{BaseURL: getenv("META_GRAPH_URL")}, Log: log})
		h.Outbound = append(h.Outbound, dispatch.Destination{Name: b.Channel(), Deliverer: b})
		// Telegram, LINE, Viber, WeChat and X, with each tenant's own credentials.
		c := chanbridge.New(chanbridge.Deps{Store: rt.Store, Cipher: slackkms.New(rt.Config, getenv, keyID),
			Providers: providers.FromEnv(getenv), Log: log})
		h.Outbound = append(h.Outbound, dispatch.Destination{Name: c.Channel(), Deliverer: c})
		// Zendesk: contacts' messages of handed-off conversations go to
		// their tickets.
		z := zendeskbridge.New(zendeskbridge.Deps{Store: rt.Store, Cipher: slackkms.New(rt.Config, getenv, keyID),
			BaseURL: getenv("ZENDESK_API_URL"), Log: log})
		h.Outbound = append(h.Outbound, dispatch.Destination{Name: z.Channel(), Deliverer: z})
		// The tenants' Dialogflow agents, when the deployment has a Google
		// client: they answer visitors first.
		if cfg, ok := botbridge.ConfigFromEnv(getenv, rt.Secrets); ok {
			bot := botbridge.New(botbridge.Deps{Config: cfg, Store: rt.Store, Cipher: slackkms.New(rt.Config, getenv, keyID),
				Dialogflow: &dialogflow.Client{BaseURL: getenv("DIALOGFLOW_API_URL"), Timeout: botbridge.AskTimeout}, Log: log})
			h.Outbound = append(h.Outbound, dispatch.Destination{Name: bot.Channel(), Deliverer: bot})
		}
	}
	return serve(h.Handle)
}
