// Package logging sets up the JSON slog logger every function uses, and the
// LogValuer types that mask personal data (emails, IP addresses) once, so a
// call site cannot forget. Message text, tokens and secrets are never logged.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a JSON logger that adds the function name to every line and the
// Lambda request id from the context of each record.
func New(w io.Writer, function string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(requestIDHandler{h}).With("function", function)
}

// FromEnv returns New(os.Stdout, name of the Lambda function or fallback).
func FromEnv(getenv func(string) string, fallback string) *slog.Logger {
	name := getenv("AWS_LAMBDA_FUNCTION_NAME")
	if name == "" {
		name = fallback
	}
	return New(os.Stdout, name)
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(a)}
}

func (h requestIDHandler) WithGroup(n string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(n)}
}

// Email logs as its first letter and domain: "a***@example.com".
type Email string

// LogValue masks the email.
func (e Email) LogValue() slog.Value {
	local, domain, ok := strings.Cut(string(e), "@")
	if !ok || local == "" {
		return slog.StringValue("***")
	}
	return slog.StringValue(local[:1] + "***@" + domain)
}

// IP logs as its /24 (IPv4) or /48 (IPv6) network.
type IP string

// LogValue masks the address.
func (ip IP) LogValue() slog.Value { return slog.StringValue(TruncateIP(string(ip))) }

// TruncateIP returns the /24 or /48 network of an address ("" if it is not one).
func TruncateIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	bits := 24
	if a.Is6() && !a.Is4In6() {
		bits = 48
	}
	p, _ := a.Unmap().Prefix(bits)
	return p.String()
}
