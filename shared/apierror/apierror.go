// Package apierror is the one map from the domain's error codes (shared/chat)
// to what each surface answers: an HTTP status and RFC 9457 problem document
// (admin API, widget session, webhooks) and a WebSocket error frame's code.
// Anything that is not a *chat.Error is internal: its cause is never shown.
package apierror

import (
	"errors"
	"net/http"
	"sort"

	"github.com/livesupportbot/backend/shared/chat"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// TypeBase is the start of the type URI of every problem document; the error
// code follows it.
const TypeBase = "https://livesupportbot.dev/problems/"

// CodeMethodNotAllowed is the code of a request for an existing path with a
// method it does not serve (HTTP surfaces only).
const CodeMethodNotAllowed = "method_not_allowed"

// statuses is the one mapping from error codes to HTTP statuses. An oversized
// body is a 400 like any other bad input, told apart by its code.
var statuses = map[string]int{
	chat.ENotFound:       http.StatusNotFound,
	chat.EInvalid:        http.StatusBadRequest,
	chat.ETooLarge:       http.StatusBadRequest,
	chat.EUnauthorized:   http.StatusUnauthorized,
	chat.EForbidden:      http.StatusForbidden,
	chat.EConflict:       http.StatusConflict,
	chat.EWindowClosed:   http.StatusConflict,
	chat.ERateLimited:    http.StatusTooManyRequests,
	chat.EInternal:       http.StatusInternalServerError,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
}

// Status returns err's code and its HTTP status; an unknown code is internal.
func Status(err error) (code string, status int) {
	code = chat.ErrorCode(err)
	if s, ok := statuses[code]; ok {
		return code, s
	}
	return chat.EInternal, http.StatusInternalServerError
}

// Message is the client-safe detail of err: an application error's message,
// "internal error" for anything else.
func Message(err error) string {
	if code, _ := Status(err); code == chat.EInternal {
		return "internal error"
	}
	return chat.ErrorMessage(err)
}

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

// NewProblem is the problem document of err, its fields sorted by name.
func NewProblem(err error, requestID string) Problem {
	code, status := Status(err)
	p := Problem{Type: TypeBase + code, Title: http.StatusText(status), Status: status,
		Detail: Message(err), Code: code, RequestID: requestID}
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
	return p
}

// FrameCode is the code of err's WebSocket error frame. A visitor's frame
// names no resource it may not see, so forbidden is unauthorized and not found
// or conflict are invalid.
func FrameCode(err error) string {
	switch code := chat.ErrorCode(err); code {
	case chat.EInvalid, chat.ETooLarge, chat.ERateLimited, chat.EUnauthorized:
		return code
	case chat.EForbidden:
		return chat.EUnauthorized
	case chat.ENotFound, chat.EConflict:
		return chat.EInvalid
	default:
		return chat.EInternal
	}
}
