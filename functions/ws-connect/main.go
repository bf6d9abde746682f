// Command ws-connect admits WebSocket connections: it is the $connect route's
// REQUEST authorizer (visitor token check, 401 on a bad one or an erased
// visitor's) and records and removes connections on $connect and $disconnect.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
)

func main() {
	_, getenv, st := awsclients.MustStart(context.Background(), os.Getenv, "VISITOR_TOKEN_SECRET", "SUBJECT_HASH_SECRET")
	tokens, err := visitortoken.New(getenv("VISITOR_TOKEN_SECRET"))
	if err != nil {
		awsclients.Fatal(err)
	}
	h := wsconn.New(wsconn.Deps{Store: st, Tokens: tokens, Log: logging.FromEnv("ws-connect")})
	lambda.Start(h.Handle)
}
