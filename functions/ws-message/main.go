// Command ws-message handles the frames visitors send over the WebSocket:
// it stores messages once, acks the sender and answers history, identify and ping.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
	"github.com/livesupportbot/backend/shared/wsmessage"
)

func main() {
	cfg, _, st := awsclients.MustStart(context.Background(), os.Getenv, "SUBJECT_HASH_SECRET")
	maxChars, _ := strconv.Atoi(os.Getenv("MAX_MESSAGE_CHARS"))
	pushers := map[string]*pusher.Pusher{}
	pusherFor := func(rc events.APIGatewayWebsocketProxyRequestContext) *pusher.Pusher {
		ep := os.Getenv("WS_MANAGEMENT_ENDPOINT")
		if ep == "" {
			ep = "https://" + rc.DomainName + "/" + rc.Stage
		}
		if p, ok := pushers[ep]; ok {
			return p
		}
		p := pusher.New(pusher.NewClient(cfg, ep))
		pushers[ep] = p
		return p
	}
	h := &wsmessage.Handler{Store: st, Tenants: store.NewTenantCache(st, 30*time.Second), Pusher: pusherFor,
		MaxChars: maxChars, Log: logging.FromEnv("ws-message")}
	h.PageView = usage.Hook(st, h.Tenants) // pageView frames: usage and technical data
	lambda.Start(h.Handle)
}
