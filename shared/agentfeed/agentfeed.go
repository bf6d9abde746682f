// Package agentfeed pushes frames to the live console connections of a
// tenant's agents: the inbox events of dispatch, and the typing and presence
// frames of ws-message. A connection that is gone is removed.
package agentfeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/pusher"
)

// Store is what the feed needs of the store (*store.Store).
type Store interface {
	AgentConnections(ctx context.Context, tenantID string) ([]chat.AgentConnection, error)
	DeleteAgentConnection(ctx context.Context, tenantID, connectionID string) error
}

// parallel bounds the pushes of one frame in flight at once: each is a
// request to API Gateway, so a tenant with many agents online is not served
// one agent after another.
const parallel = 8

// Send pushes frame to each of conns but skip (the sender's own connection,
// or ""). Gone connections are removed, and gone reports whether there were
// any (a caller that keeps the list reads it again).
func Send(ctx context.Context, st Store, p *pusher.Pusher, tenantID string, conns []chat.AgentConnection, skip string, frame any) (gone bool, err error) {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	raw, err := json.Marshal(frame) // once, not once per agent
	if err != nil {
		return false, fmt.Errorf("encode frame: %w", err)
	}
	slots := make(chan struct{}, parallel)
	for _, c := range conns {
		if c.ID == skip {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			err := p.Send(ctx, c.ID, json.RawMessage(raw))
			if errors.Is(err, pusher.ErrGone) {
				err = st.DeleteAgentConnection(ctx, tenantID, c.ID)
				mu.Lock()
				gone = true
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return gone, errors.Join(errs...)
}
