package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

type tenantItem struct {
	Base
	chat.Tenant
}

// PutTenant creates a tenant; it fails if the id is taken. The tenant profile is
// personal data of the tenant's account and lives while the account does.
func (s *Store) PutTenant(ctx context.Context, t *chat.Tenant) error {
	item, err := attributevalue.MarshalMap(tenantItem{
		Base:   tenantBase(t, s.Now()),
		Tenant: *t,
	})
	if err != nil {
		return wrap("marshal tenant", err)
	}
	created, err := s.putNew(ctx, item)
	if err == nil && !created {
		return chat.Errorf(chat.EConflict, "tenant exists")
	}
	return wrap("put tenant "+t.ID, err)
}

// Tenant reads a tenant; a missing one is chat.ErrNotFound.
func (s *Store) Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error) {
	var it tenantItem
	ok, err := s.getLive(ctx, TenantPK(tenantID), SKProfile, false, &it)
	if err != nil {
		return nil, wrap("get tenant "+tenantID, err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return &it.Tenant, nil
}

// TenantByWidgetKey resolves a widget key "wk_<tenantId>_<secret>" to its tenant,
// comparing the whole key in constant time; a wrong key is chat.ErrNotFound.
func (s *Store) TenantByWidgetKey(ctx context.Context, widgetKey string) (*chat.Tenant, error) {
	return tenantByWidgetKey(ctx, s.Tenant, widgetKey)
}

func tenantByWidgetKey(ctx context.Context, tenant func(ctx context.Context, id string) (*chat.Tenant, error), widgetKey string) (*chat.Tenant, error) {
	parts := strings.Split(widgetKey, "_")
	if len(parts) != 3 || parts[0] != "wk" || parts[1] == "" {
		return nil, chat.ErrNotFound
	}
	t, err := tenant(ctx, parts[1])
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(t.WidgetKey), []byte(widgetKey)) != 1 || t.Status == "closed" {
		return nil, chat.ErrNotFound
	}
	return t, nil
}

// SessionTenantCacheTTL is how long widget-session keeps a tenant: every page
// load asks for a session, and a big tenant's page loads would otherwise put
// thousands of reads a second on its one profile item. A change of origins,
// widget key or status reaches new sessions within it (open pages see a
// settings change through their token's tenant version, FrameTenantCacheTTL).
const SessionTenantCacheTTL = 10 * time.Second

// SessionStore is the store with widget-session's tenant look-ups served from
// a TenantCache (SessionTenantCacheTTL).
type SessionStore struct {
	*Store
	tenants *TenantCache
}

// NewSessionStore returns s with its widget key look-ups cached.
func NewSessionStore(s *Store) *SessionStore {
	return &SessionStore{Store: s, tenants: NewTenantCache(s, SessionTenantCacheTTL)}
}

// TenantByWidgetKey is Store.TenantByWidgetKey from the cache.
func (s *SessionStore) TenantByWidgetKey(ctx context.Context, widgetKey string) (*chat.Tenant, error) {
	return tenantByWidgetKey(ctx, s.tenants.Tenant, widgetKey)
}

// AdminTenantCacheTTL is how long admin-api keeps the tenant of the keys it
// authenticates: every admin request needs it, and a big tenant's agents
// would otherwise put thousands of reads a second on its profile. The key
// itself is read on every request (a revoke works at once); a change of the
// tenant made through one instance takes effect there at once, elsewhere
// within this.
const AdminTenantCacheTTL = 5 * time.Second

// TenantCacheTTL is how long dispatch (and tests) keep a tenant they read.
const TenantCacheTTL = 30 * time.Second

// FrameTenantCacheTTL is how long ws-message keeps a tenant: each frame names
// the tenant version its visitor's session saw (TenantAtLeast), so a settings
// change reaches a visitor's next page at once and open pages within this.
const FrameTenantCacheTTL = 5 * time.Minute

// versioned adds to an update of the tenant profile the bump of its Version.
func versioned(in *dynamodb.UpdateItemInput) *dynamodb.UpdateItemInput {
	in.UpdateExpression = aws.String(aws.ToString(in.UpdateExpression) + " ADD #version :one")
	if in.ExpressionAttributeNames == nil {
		in.ExpressionAttributeNames = map[string]string{}
	}
	in.ExpressionAttributeNames["#version"] = attrName(chat.Tenant{}, "Version")
	if in.ExpressionAttributeValues == nil {
		in.ExpressionAttributeValues = map[string]types.AttributeValue{}
	}
	in.ExpressionAttributeValues[":one"] = &types.AttributeValueMemberN{Value: "1"}
	return in
}

// TenantCache keeps tenants read in a warm Lambda for a short time, so the hot
// message path does not read the tenant on every frame.
type TenantCache struct {
	store tenantReader
	ttl   time.Duration
	mu    sync.Mutex
	m     map[string]cachedTenant
}

type cachedTenant struct {
	t   *chat.Tenant
	exp time.Time
}

// tenantReader is what a TenantCache reads through: a *Store, or a consumer's
// interface over one.
type tenantReader interface {
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	Now() time.Time
}

// NewTenantCache returns a cache over s.
func NewTenantCache(s tenantReader, ttl time.Duration) *TenantCache {
	return &TenantCache{store: s, ttl: ttl, m: map[string]cachedTenant{}}
}

// Tenant returns the tenant, from the cache when fresh. It is safe for
// concurrent use.
func (c *TenantCache) Tenant(ctx context.Context, id string) (*chat.Tenant, error) {
	return c.TenantAtLeast(ctx, id, 0)
}

// Periods returns a tenant's retention periods, from the cache when fresh;
// a tenant that is gone has the platform's defaults (what its last items
// are written under while they are cleaned up).
func (c *TenantCache) Periods(ctx context.Context, id string) (retention.Periods, error) {
	t, err := c.Tenant(ctx, id)
	if errors.Is(err, chat.ErrNotFound) {
		return retention.Defaults, nil
	}
	if err != nil {
		return retention.Periods{}, err
	}
	return t.Periods(), nil
}

// Forget drops the tenant from the cache: the next read reads it again (its
// owner changed it).
func (c *TenantCache) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// TenantAtLeast returns the tenant from the cache when fresh and at least at
// version (one seen elsewhere, e.g. in a visitor's token), else reads it.
func (c *TenantCache) TenantAtLeast(ctx context.Context, id string, version int64) (*chat.Tenant, error) {
	now := c.store.Now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Before(e.exp) && e.t.Version >= version {
		return e.t, nil
	}
	t, err := c.store.Tenant(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[id] = cachedTenant{t: t, exp: now.Add(c.ttl)}
	c.mu.Unlock()
	return t, nil
}
