package dispatch

import (
	"context"
	"sync"

	"github.com/livesupportbot/backend/shared/chat"
)

// memo keeps what was read per key for the length of a batch: concurrent
// callers of one key share one read. A failed read is not kept, so the next
// caller reads again.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[V]
}

type memoEntry[V any] struct {
	once sync.Once
	v    V
	err  error
}

func (c *memo[V]) get(key string, load func() (V, error)) (V, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*memoEntry[V]{}
	}
	e := c.m[key]
	if e == nil {
		e = &memoEntry[V]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = load() })
	if e.err != nil {
		c.forgetEntry(key, e)
	}
	return e.v, e.err
}

func (c *memo[V]) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *memo[V]) forgetEntry(key string, e *memoEntry[V]) {
	c.mu.Lock()
	if c.m[key] == e {
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// A batch's connections of each visitor, read once per batch. A tab that
// connects while the batch runs misses its messages, as one connecting just
// after a read always did; it asks for the conversation's history when it
// connects. Outside a batch (no cache in ctx) every call reads. (The agents'
// consoles are kept longer, per instance: Agents.)
type batchCacheKey struct{}

type batchCache struct {
	visitors memo[[]chat.Connection]
}

func withBatchCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, batchCacheKey{}, &batchCache{})
}

func cacheOf(ctx context.Context) *batchCache {
	c, _ := ctx.Value(batchCacheKey{}).(*batchCache)
	return c
}

func batchConnections(ctx context.Context, tenantID, contactID string, load func() ([]chat.Connection, error)) ([]chat.Connection, error) {
	if c := cacheOf(ctx); c != nil {
		return c.visitors.get(tenantID+"/"+contactID, load)
	}
	return load()
}

func forgetConnections(ctx context.Context, tenantID, contactID string) {
	if c := cacheOf(ctx); c != nil {
		c.visitors.forget(tenantID + "/" + contactID)
	}
}
