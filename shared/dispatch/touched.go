package dispatch

import (
	"sync"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
)

// touchedCap bounds the conversations an instance remembers; past it the
// memory starts again (a forgotten conversation costs one write to relearn).
const touchedCap = 10000

// touched remembers, per conversation, the activity its item records as far
// as this instance saw (a lower bound: only ever moved forward). A message
// less than TouchStep after it would not be written (TouchConversation's
// condition), so it is not sent: at a chat pace a skipped touch cost one
// failed conditional write. The stream hands a conversation's records to one
// shard, so its messages mostly meet the same instance.
type touched struct {
	mu sync.Mutex
	at map[[2]string]time.Time
}

func (t *touched) skip(m *chat.Message) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.at[[2]string{m.TenantID, m.ConversationID}]
	return ok && m.CreatedAt.Before(r.Add(TouchStep))
}

func (t *touched) record(m *chat.Message, recorded time.Time) {
	if recorded.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.at == nil || len(t.at) >= touchedCap {
		t.at = map[[2]string]time.Time{}
	}
	k := [2]string{m.TenantID, m.ConversationID}
	if recorded.After(t.at[k]) {
		t.at[k] = recorded
	}
}
