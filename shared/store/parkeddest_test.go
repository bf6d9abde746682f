package store_test

import (
	"slices"
	"testing"

	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/metabridge"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/zendeskbridge"
)

// TestParkedDestinations_NameEveryOutboundBridge: the purge of a closed
// account deletes parked deliveries by destination name, so every bridge
// dispatch parks for must be listed.
func TestParkedDestinations_NameEveryOutboundBridge(t *testing.T) {
	for _, name := range []string{slackbridge.ChannelName, (&metabridge.Bridge{}).Channel(), (&chanbridge.Bridge{}).Channel(),
		zendeskbridge.Destination, botbridge.Destination} {
		if !slices.Contains(store.ParkedDestinations, name) {
			t.Errorf("destination %q is not in store.ParkedDestinations", name)
		}
	}
}
