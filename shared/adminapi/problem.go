package adminapi

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ratelimit"
)

const problemType = "application/problem+json"

// ProblemTypeBase is the start of the type URI of every problem document; the
// chat error code follows it.
const ProblemTypeBase = "https://livesupportbot.dev/problems/"

// Problem is an RFC 9457 problem document. Errors lists the failing fields of a
// validation problem.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Code      string       `json:"code"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldIssue `json:"errors,omitempty"`
}

// FieldIssue is one failing field of a validation problem.
type FieldIssue struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// statusOf is the one mapping from chat error codes to HTTP statuses. An
// oversized body is a 400 like any other bad input (DESIGN: bad input is a 400
// problem document), told apart by its code.
var statusOf = map[string]int{
	chat.ENotFound:     http.StatusNotFound,
	chat.EInvalid:      http.StatusBadRequest,
	chat.ETooLarge:     http.StatusBadRequest,
	chat.EUnauthorized: http.StatusUnauthorized,
	chat.EForbidden:    http.StatusForbidden,
	chat.EConflict:     http.StatusConflict,
	chat.ERateLimited:  http.StatusTooManyRequests,
	chat.EInternal:     http.StatusInternalServerError,
	codeMethod:         http.StatusMethodNotAllowed,
}

const codeMethod = "method_not_allowed"

// methodError is a request for an existing path with a method it does not serve.
type methodError struct{ allowed []string }

func (e *methodError) Error() string { return "method not allowed" }

// fieldError returns an invalid error naming one field.
func fieldError(field, detail string) *chat.Error {
	return &chat.Error{Code: chat.EInvalid, Message: "invalid " + field + ": " + detail, Fields: map[string]string{field: detail}}
}

// problem builds the problem document of err. Anything that is not an
// application error is internal: its cause is logged with the request id and
// never shown.
func (a *API) problem(ctx context.Context, req *Request, err error) (Problem, map[string]string) {
	hdr := map[string]string{"Content-Type": problemType}
	var me *methodError
	if errors.As(err, &me) {
		hdr["Allow"] = strings.Join(me.allowed, ", ")
		return Problem{Type: ProblemTypeBase + codeMethod, Title: http.StatusText(http.StatusMethodNotAllowed), Status: http.StatusMethodNotAllowed,
			Detail: "this path does not serve that method", Code: codeMethod, RequestID: req.RequestID}, hdr
	}
	code := chat.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		code, status = chat.EInternal, http.StatusInternalServerError
	}
	p := Problem{Type: ProblemTypeBase + code, Title: http.StatusText(status), Status: status,
		Detail: chat.ErrorMessage(err), Code: code, RequestID: req.RequestID}
	switch code {
	case chat.EInternal:
		p.Detail = "internal error"
		a.log.ErrorContext(ctx, "admin request failed", "apiRequestId", req.RequestID,
			"tenantId", req.Principal.TenantID, "error", err.Error())
	case chat.EUnauthorized:
		hdr["WWW-Authenticate"] = `Bearer realm="livesupportbot-admin"`
	case chat.ERateLimited:
		if s, ok := ratelimit.RetryAfterSeconds(err); ok {
			hdr["Retry-After"] = itoa(s)
		}
	}
	var ce *chat.Error
	if errors.As(err, &ce) && len(ce.Fields) > 0 {
		names := make([]string, 0, len(ce.Fields))
		for f := range ce.Fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			p.Errors = append(p.Errors, FieldIssue{Field: f, Detail: ce.Fields[f]})
		}
	}
	return p, hdr
}

func (a *API) problemResponse(ctx context.Context, req *Request, err error) *Response {
	p, hdr := a.problem(ctx, req, err)
	return &Response{Status: p.Status, Body: p, Headers: hdr}
}

func itoa(n int) string { return strconv.Itoa(n) }
