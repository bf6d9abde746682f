package apierror_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/livesupportbot/backend/shared/apierror"
	"github.com/livesupportbot/backend/shared/chat"
)

func TestStatus_WrappedErrorsKeepTheirCode(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   string
		status int
		frame  string
	}{
		{fmt.Errorf("load: %w", chat.ErrNotFound), chat.ENotFound, http.StatusNotFound, chat.EInvalid},
		{chat.Errorf(chat.ETooLarge, "text too long"), chat.ETooLarge, http.StatusBadRequest, chat.ETooLarge},
		{chat.Errorf(chat.EForbidden, "no"), chat.EForbidden, http.StatusForbidden, chat.EUnauthorized},
		{chat.Errorf(chat.ERateLimited, "slow down"), chat.ERateLimited, http.StatusTooManyRequests, chat.ERateLimited},
		{chat.Errorf("made_up", "x"), chat.EInternal, http.StatusInternalServerError, chat.EInternal},
		{errors.New("dynamodb: table secret-name not found"), chat.EInternal, http.StatusInternalServerError, chat.EInternal},
	} {
		code, status := apierror.Status(tc.err)
		if code != tc.code || status != tc.status || apierror.FrameCode(tc.err) != tc.frame {
			t.Errorf("%v: got %s %d frame %s, want %s %d frame %s", tc.err, code, status, apierror.FrameCode(tc.err), tc.code, tc.status, tc.frame)
		}
	}
}

func TestNewProblem_HidesInternalCausesAndSortsFields(t *testing.T) {
	p := apierror.NewProblem(errors.New("secret cause"), "req-1")
	if p.Detail != "internal error" || p.Status != 500 || p.Type != apierror.TypeBase+chat.EInternal || p.RequestID != "req-1" {
		t.Fatalf("internal problem: %+v", p)
	}
	p = apierror.NewProblem(&chat.Error{Code: chat.EInvalid, Message: "bad", Fields: map[string]string{"b": "2", "a": "1"}}, "")
	if p.Status != 400 || len(p.Errors) != 2 || p.Errors[0].Field != "a" || p.Errors[1].Field != "b" || p.Detail != "bad" {
		t.Fatalf("validation problem: %+v", p)
	}
}
