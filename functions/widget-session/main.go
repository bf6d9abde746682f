// Command widget-session serves POST /widget/v1/session: it checks a widget key
// and the browser's Origin and issues a signed visitor token.
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/widgetsession"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	env, err := awsclients.Env(getenv, "WEBSOCKET_URL")
	if err != nil {
		return err
	}
	rt, err := awsclients.Start(ctx, getenv, "VISITOR_TOKEN_SECRET", "SUBJECT_HASH_SECRET")
	if err != nil {
		return err
	}
	// The token key is read on the first request that needs it.
	tokens := visitortoken.FromSecret(func() (string, error) { return rt.Secrets.Get("VISITOR_TOKEN_SECRET") })
	h := widgetsession.New(widgetsession.Deps{Store: store.NewSessionStore(rt.Store), Limiter: ratelimit.New(rt.Store), Tokens: tokens,
		WebSocketURL: env["WEBSOCKET_URL"], Log: logging.FromEnv(getenv, "widget-session")})
	return serve(h.Handle)
}
