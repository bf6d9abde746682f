package adminapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
)

// An API key reads "lsb_<tenantId>_<keyId>_<secret>": ids never contain "_", so
// the tenant and key id are found without a lookup table, and authentication is
// one strongly consistent GetItem (no cache, so a revoke works at once).
const keyScheme = "lsb"

// hashKey is the stored form of a key: its SHA-256, hex.
func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// mintKey makes a new key for a tenant and returns the secret key (shown once)
// and its stored record.
func mintKey(tenantID, name string, role Role, createdBy string, now time.Time) (string, *chat.APIKey) {
	id := ids.New(ids.APIKey)
	secret := keyScheme + "_" + tenantID + "_" + id + "_" + ids.Secret(32)
	return secret, &chat.APIKey{
		ID: id, TenantID: tenantID, Name: name, Role: string(role),
		Prefix: keyScheme + "_" + tenantID + "_" + id, Hash: hashKey(secret),
		CreatedBy: createdBy, CreatedAt: now.UTC(),
	}
}

// parseKey splits a key into tenant and key id.
func parseKey(key string) (tenantID, keyID string, ok bool) {
	parts := strings.Split(key, "_")
	if len(parts) != 4 || parts[0] != keyScheme || !ids.Valid(ids.Tenant, parts[1]) ||
		!ids.Valid(ids.APIKey, parts[2]) || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

var errUnauthorized = chat.Errorf(chat.EUnauthorized, "a valid API key is required: Authorization: Bearer <key>")

// authenticate resolves an Authorization header to a principal for route. A
// missing, malformed, unknown, wrong, revoked or expired key, and a key of a
// closed or missing tenant, are all the same 401; only an owner key of a
// closed account may call the routes open to it (closedAllows).
func (a *API) authenticate(ctx context.Context, platformToken, header string, route *Route) (Principal, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, errUnauthorized
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return Principal{}, errUnauthorized
	}
	if platformToken != "" && equalSecret(token, platformToken) {
		return Principal{KeyID: "operator", Role: RoleOperator}, nil
	}
	tenantID, keyID, ok := parseKey(token)
	if !ok {
		return Principal{}, errUnauthorized
	}
	k, err := a.store.APIKey(ctx, tenantID, keyID)
	if chat.ErrorCode(err) == chat.ENotFound {
		return Principal{}, errUnauthorized
	}
	if err != nil {
		return Principal{}, err
	}
	want, got := []byte(k.Hash), []byte(hashKey(token))
	if subtle.ConstantTimeCompare(want, got) != 1 || k.RevokedAt != nil || !Role(k.Role).Valid() {
		return Principal{}, errUnauthorized
	}
	t, err := a.tenant(ctx, tenantID)
	if chat.ErrorCode(err) == chat.ENotFound {
		return Principal{}, errUnauthorized
	}
	if err != nil {
		return Principal{}, err
	}
	if t.Status == "closed" && !a.closedAllows(t, Role(k.Role), route) {
		return Principal{}, errUnauthorized
	}
	return Principal{TenantID: tenantID, KeyID: keyID, Role: Role(k.Role), Tenant: t}, nil
}

// closedAllows reports whether a key of role of the closed tenant t may call
// route: an owner key, a route open to closed accounts, and the grace period
// not over (or the route open after it too).
func (a *API) closedAllows(t *chat.Tenant, role Role, route *Route) bool {
	if route == nil || role != RoleOwner || !route.WhileClosed || t.ClosedAt == nil {
		return false
	}
	return route.AfterGrace || a.now().Before(deletionAt(t))
}

// equalSecret compares two secrets in constant time, lengths included (it
// compares their SHA-256 digests).
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// limitKey counts a request against its key's limit (the tenant's apiKey
// setting, or the platform default; the operator token's counter is under the
// platform pseudo-tenant). Only authenticated requests are counted, so no one
// can spend another's budget with a guessed key id; unauthenticated traffic is
// bounded by the HTTP API's stage throttle.
func (a *API) limitKey(ctx context.Context, p Principal) error {
	tenantID := p.TenantID
	if tenantID == "" {
		tenantID = store.PlatformID
	}
	return a.limiter.Take(ctx, tenantID, store.KeyRateSubject(p.KeyID), ratelimit.APIKey,
		ratelimit.Effective(p.Tenant, ratelimit.APIKey))
}
