// Command widget-session serves POST /widget/v1/session: it checks a widget key
// and the browser's Origin and issues a signed visitor token.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/widgetsession"
)

func main() {
	_, getenv, st := awsclients.MustStart(context.Background(), os.Getenv, "VISITOR_TOKEN_SECRET", "SUBJECT_HASH_SECRET")
	env, err := awsclients.Env(getenv, "VISITOR_TOKEN_SECRET", "WEBSOCKET_URL")
	if err != nil {
		awsclients.Fatal(err)
	}
	tokens, err := visitortoken.New(env["VISITOR_TOKEN_SECRET"])
	if err != nil {
		awsclients.Fatal(err)
	}
	h := widgetsession.New(widgetsession.Deps{Store: st, Limiter: ratelimit.New(st), Tokens: tokens, WebSocketURL: env["WEBSOCKET_URL"], Log: logging.FromEnv("widget-session")})
	lambda.Start(h.Handle)
}
