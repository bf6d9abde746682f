// Package webhook holds what every provider webhook handler answers with: the
// raw body of an API Gateway request (as signed), the channel.Request the
// channel seam verifies, and RFC 9457 problem responses whose status comes
// from apierror (the one map from error codes).
package webhook

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/apierror"
	"github.com/livesupportbot/backend/shared/channel"
)

// MaxBody is the largest webhook body read (1 MiB).
const MaxBody = channel.MaxBody

// RawBody is the request's body byte for byte as the provider signed it.
func RawBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if req.IsBase64Encoded {
		return base64.StdEncoding.DecodeString(req.Body)
	}
	return []byte(req.Body), nil
}

// Request is req as the channel seam takes it, with its raw body.
func Request(req events.APIGatewayV2HTTPRequest, body []byte) channel.Request {
	return channel.Request{Method: req.RequestContext.HTTP.Method, Headers: req.Headers,
		Query: req.QueryStringParameters, Body: body}
}

// Problem is the problem response of a domain error: its status from apierror,
// its detail the client-safe message.
func Problem(err error, title string) events.APIGatewayV2HTTPResponse {
	_, status := apierror.Status(err)
	return ProblemStatus(status, title, apierror.Message(err))
}

// ProblemStatus is a problem response with an HTTP-level status that no
// domain error code has (413, 503).
func ProblemStatus(status int, title, detail string) events.APIGatewayV2HTTPResponse {
	body, _ := json.Marshal(map[string]any{"type": "about:blank", "status": status, "title": title, "detail": detail})
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: string(body),
		Headers: map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"}}
}

// JSON is a JSON response.
func JSON(status int, v any) events.APIGatewayV2HTTPResponse {
	body, _ := json.Marshal(v)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: string(body),
		Headers: map[string]string{"Content-Type": "application/json"}}
}

// Text is a plain text response (a provider's handshake challenge).
func Text(status int, s string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: s,
		Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}}
}

// Forbidden is a 403 (a handshake with a wrong verify token).
func Forbidden(detail string) events.APIGatewayV2HTTPResponse {
	return ProblemStatus(http.StatusForbidden, "Forbidden", detail)
}

// CookieValues returns the values of the request's cookies named name: API
// Gateway's payload 2.0 moves them to Cookies; a Cookie header (a test, another
// front) counts too.
func CookieValues(req events.APIGatewayV2HTTPRequest, name string) []string {
	lines := append([]string(nil), req.Cookies...)
	for k, v := range req.Headers {
		if strings.EqualFold(k, "cookie") {
			lines = append(lines, v)
		}
	}
	var out []string
	for _, line := range lines {
		cs, _ := http.ParseCookie(line)
		for _, c := range cs {
			if c.Name == name {
				out = append(out, c.Value)
			}
		}
	}
	return out
}
