package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/livesupportbot/backend/shared/apierror"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ratelimit"
)

// methodError is a request for an existing path with a method it does not serve.
type methodError struct{ allowed []string }

func (e *methodError) Error() string { return "method not allowed" }

// fieldError returns an invalid error naming one field.
func fieldError(field, detail string) *chat.Error {
	return &chat.Error{Code: chat.EInvalid, Message: "invalid " + field + ": " + detail, Fields: map[string]string{field: detail}}
}

// problem builds the problem document of err (shared/apierror) and its
// headers. Anything that is not an application error is internal: its cause
// is logged with the request id and never shown.
func (a *API) problem(ctx context.Context, req *Request, err error) (apierror.Problem, map[string]string) {
	hdr := map[string]string{"Content-Type": apierror.ContentType}
	var me *methodError
	if errors.As(err, &me) {
		hdr["Allow"] = strings.Join(me.allowed, ", ")
		return apierror.Problem{Type: apierror.TypeBase + apierror.CodeMethodNotAllowed,
			Title: http.StatusText(http.StatusMethodNotAllowed), Status: http.StatusMethodNotAllowed,
			Detail: "this path does not serve that method", Code: apierror.CodeMethodNotAllowed, RequestID: req.RequestID}, hdr
	}
	p := apierror.NewProblem(err, req.RequestID)
	switch p.Code {
	case chat.EInternal:
		a.log.ErrorContext(ctx, "admin request failed", "apiRequestId", req.RequestID,
			"tenantId", req.Principal.TenantID, "error", err.Error())
	case chat.EUnauthorized:
		hdr["WWW-Authenticate"] = `Bearer realm="livesupportbot-admin"`
	case chat.ERateLimited:
		if s, ok := ratelimit.RetryAfterSeconds(err); ok {
			hdr["Retry-After"] = itoa(s)
		}
	}
	return p, hdr
}

func (a *API) problemResponse(ctx context.Context, req *Request, err error) *Response {
	p, hdr := a.problem(ctx, req, err)
	return &Response{Status: p.Status, Body: p, Headers: hdr}
}

func itoa(n int) string { return strconv.Itoa(n) }
