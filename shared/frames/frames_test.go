package frames_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
)

func TestNewError_CodesAndMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{chat.Errorf(chat.ETooLarge, "text is longer than 4000 characters"), `{"type":"error","code":"too_large","message":"text is longer than 4000 characters","clientMessageId":"c1"}`},
		{fmt.Errorf("read: %w", chat.ErrNotFound), `{"type":"error","code":"invalid","message":"not found","clientMessageId":"c1"}`},
		{chat.Errorf(chat.EForbidden, "erased"), `{"type":"error","code":"unauthorized","message":"erased","clientMessageId":"c1"}`},
		{chat.Errorf(chat.EConflict, "closed"), `{"type":"error","code":"invalid","message":"closed","clientMessageId":"c1"}`},
		{errors.New("dynamodb: table data-secret throttled"), `{"type":"error","code":"internal","message":"internal error","clientMessageId":"c1"}`},
	} {
		b, _ := json.Marshal(frames.NewError(tc.err, "c1"))
		if string(b) != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, b, tc.want)
		}
	}
	if b, _ := json.Marshal(frames.NewError(chat.Errorf(chat.EInvalid, "x"), "")); string(b) != `{"type":"error","code":"invalid","message":"x"}` {
		t.Errorf("without clientMessageId: %s", b)
	}
}
