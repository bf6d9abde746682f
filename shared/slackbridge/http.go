package slackbridge

import (
	"context"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/webhook"
)

// problem, problemStatus and jsonResponse are shared/webhook's answers.
var (
	problem       = webhook.Problem
	problemStatus = webhook.ProblemStatus
	jsonResponse  = webhook.JSON
)

// internal logs err in full and answers 500 without any detail.
func (b *Bridge) internal(ctx context.Context, op string, err error) events.APIGatewayV2HTTPResponse {
	b.log.ErrorContext(ctx, "request failed", "op", op, "error", err.Error())
	return problem(err, "Internal Server Error")
}

// Handle routes the requests of the webhook-slack function:
// POST /webhooks/slack/events and GET /webhooks/slack/oauth (under any stage
// prefix). Anything else is 404.
func (b *Bridge) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	method, path := req.RequestContext.HTTP.Method, req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	switch {
	case method == http.MethodPost && strings.HasSuffix(path, "/webhooks/slack/events"):
		return b.HandleEvents(ctx, req)
	case method == http.MethodGet && strings.HasSuffix(path, "/webhooks/slack/oauth"):
		return b.HandleOAuth(ctx, req)
	}
	return problem(chat.Errorf(chat.ENotFound, "no such route"), "Not Found"), nil
}

// NotConfigured answers every request 503: the webhook of a deployment whose
// Slack app settings are missing (the function starts, so a stack without Slack
// still runs, and says why in its log at cold start).
func NotConfigured(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	res := problemStatus(http.StatusServiceUnavailable, "Service Unavailable", "Slack is not configured for this deployment")
	res.Headers["X-Slack-No-Retry"] = "1"
	return res, nil
}
