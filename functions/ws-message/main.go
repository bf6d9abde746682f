// Command ws-message handles the frames visitors send over the WebSocket:
// it stores messages once, acks the sender and answers history, identify and ping.
package main

import (
	"context"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
	"github.com/livesupportbot/backend/shared/wsmessage"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	// MAX_MESSAGE_CHARS: unset is the default limit (chat.DefaultMaxTextChars).
	maxChars, err := awsclients.Int(getenv, "MAX_MESSAGE_CHARS", 0, 1, 1<<20)
	if err != nil {
		return err
	}
	rt, err := awsclients.Start(ctx, getenv, "SUBJECT_HASH_SECRET")
	if err != nil {
		return err
	}
	tenants := store.NewTenantCache(rt.Store, store.FrameTenantCacheTTL)
	h := wsmessage.New(wsmessage.Deps{Store: rt.Store, Tenants: tenants, Limiter: ratelimit.New(rt.Store),
		// WS_MANAGEMENT_ENDPOINT, when set, replaces the request's own API.
		Pusher:   pusher.NewEndpoints(rt.Config, getenv("WS_MANAGEMENT_ENDPOINT")).For,
		MaxChars: maxChars, Log: logging.FromEnv(getenv, "ws-message"),
		PageView: usage.Hook(rt.Store, tenants)}) // pageView frames: usage and technical data
	return serve(h.Handle)
}
