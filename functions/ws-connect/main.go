// Command ws-connect admits WebSocket connections: it is the $connect route's
// REQUEST authorizer (visitor token check, 401 on a bad one or an erased
// visitor's) and records and removes connections on $connect and $disconnect;
// when an agent's console is gone, the other consoles are told.
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	rt, err := awsclients.Start(ctx, getenv, "VISITOR_TOKEN_SECRET", "SUBJECT_HASH_SECRET")
	if err != nil {
		return err
	}
	// The token key is read on the first request that needs it.
	tokens := visitortoken.FromSecret(func() (string, error) { return rt.Secrets.Get("VISITOR_TOKEN_SECRET") })
	h := wsconn.New(wsconn.Deps{Store: rt.Store, Tokens: tokens, Log: logging.FromEnv(getenv, "ws-connect"),
		Pusher: pusher.NewEndpoints(rt.Config, getenv("WS_MANAGEMENT_ENDPOINT")).For})
	return serve(h.Handle)
}
