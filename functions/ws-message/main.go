// Command ws-message handles the frames visitors send over the WebSocket:
// it stores messages once, acks the sender and answers history, identify and ping.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
	"github.com/livesupportbot/backend/shared/wsmessage"
)

func main() {
	cfg, _, st := awsclients.MustStart(context.Background(), os.Getenv, "SUBJECT_HASH_SECRET")
	maxChars, _ := strconv.Atoi(os.Getenv("MAX_MESSAGE_CHARS"))
	tenants := store.NewTenantCache(st, 30*time.Second)
	h := wsmessage.New(wsmessage.Deps{Store: st, Tenants: tenants, Limiter: ratelimit.New(st),
		Pusher:   pusher.NewEndpoints(cfg, os.Getenv("WS_MANAGEMENT_ENDPOINT")).For,
		MaxChars: maxChars, Log: logging.FromEnv("ws-message"),
		PageView: usage.Hook(st, tenants)}) // pageView frames: usage and technical data
	lambda.Start(h.Handle)
}
