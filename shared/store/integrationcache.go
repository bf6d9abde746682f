package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
)

// IntegrationCache keeps, per instance and for a while, a tenant's
// integration of one channel, or that it has none: a destination that
// dispatch runs for every message of every tenant (the Zendesk desk, the
// bot) costs tenants without the integration no read.
type IntegrationCache struct {
	store interface {
		ChannelIntegration(ctx context.Context, tenantID, channel string) (*chat.ChannelIntegration, error)
	}
	channel string
	ttl     time.Duration
	m       sync.Map // tenant id -> cachedIntegration
}

type cachedIntegration struct {
	in  *chat.ChannelIntegration // nil: none
	exp time.Time
}

// NewIntegrationCache returns a cache of s's integrations of channel.
func NewIntegrationCache(s interface {
	ChannelIntegration(ctx context.Context, tenantID, channel string) (*chat.ChannelIntegration, error)
}, channel string, ttl time.Duration) *IntegrationCache {
	return &IntegrationCache{store: s, channel: channel, ttl: ttl}
}

// Integration returns the tenant's integration (nil: none), from the cache
// while fresh at now.
func (c *IntegrationCache) Integration(ctx context.Context, tenantID string, now time.Time) (*chat.ChannelIntegration, error) {
	if e, ok := c.m.Load(tenantID); ok && now.Before(e.(cachedIntegration).exp) {
		return e.(cachedIntegration).in, nil
	}
	in, err := c.store.ChannelIntegration(ctx, tenantID, c.channel)
	if errors.Is(err, chat.ErrNotFound) {
		in, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.m.Store(tenantID, cachedIntegration{in: in, exp: now.Add(c.ttl)})
	return in, nil
}

// Forget drops the tenant's entry (it connected or disconnected here).
func (c *IntegrationCache) Forget(tenantID string) { c.m.Delete(tenantID) }
