package ingest

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
)

func TestCutKeepsWholeCharacters(t *testing.T) {
	s := strings.Repeat("é", 10)
	if got := cut(s, 4); got != "éééé" || !utf8.ValidString(got) {
		t.Errorf("cut = %q", got)
	}
	if got := cut("short", 10); got != "short" {
		t.Errorf("cut = %q", got)
	}
}

// An event that is not a message with a dedupe key and a full sender is
// refused before the store is touched (a nil Store would panic).
func TestMessageRefusesIncompleteEvents(t *testing.T) {
	in := &Ingester{}
	full := channel.Event{Kind: channel.KindMessage, DedupeKey: "m1", From: channel.Identity{Channel: "messenger", Account: "1", UserID: "u"}}
	for name, ev := range map[string]channel.Event{
		"not a message": {Kind: channel.KindOther, DedupeKey: "m1", From: full.From},
		"no dedupe key": {Kind: channel.KindMessage, From: full.From},
		"no account":    {Kind: channel.KindMessage, DedupeKey: "m1", From: channel.Identity{Channel: "messenger", UserID: "u"}},
		"no user":       {Kind: channel.KindMessage, DedupeKey: "m1", From: channel.Identity{Channel: "messenger", Account: "1"}},
	} {
		if _, _, err := in.Message(context.Background(), &chat.Tenant{ID: "t"}, ev); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
}
