package chanbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// Access tokens of Refresher providers: kept in memory per instance, in the
// store (encrypted, one item per integration) for all instances, and
// refreshed by one instance at a time under the store's lease.
const (
	// tokenMargin: a token this close to its expiry is refreshed.
	tokenMargin = 5 * time.Minute
	// leaseFor bounds one refresh (the provider call is bounded to 10 s).
	leaseFor = 30 * time.Second
	// waitFor is how long an instance waits for another's refresh.
	waitFor   = 12 * time.Second
	pollEvery = 200 * time.Millisecond
)

// keptToken is a token as the bridge holds it in memory and encrypts it.
type keptToken struct {
	Access      string    `json:"access"`
	Refresh     string    `json:"refresh,omitempty"`
	Expires     time.Time `json:"expires"`
	integration string
}

// tokens is an instance's memory of access tokens, by tenantId/channel.
type tokens struct {
	mu sync.Mutex
	m  map[string]keptToken
}

func (t *tokens) get(k string) (keptToken, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[k]
	return v, ok
}

func (t *tokens) put(k string, v keptToken) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]keptToken{}
	}
	t.m[k] = v
}

func (t *tokens) forget(k string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, k)
}

// withAccess runs call with creds.Access set to the integration's access
// token, when its provider takes one, and once more with a new token when
// the provider refused the first (ErrTokenExpired). A refresh token the
// provider refuses marks the integration broken.
func (b *Bridge) withAccess(ctx context.Context, in *chat.ChannelIntegration, p Provider, creds *Credentials, call func() error) error {
	if _, ok := p.(Refresher); !ok {
		return call()
	}
	failed := ""
	for attempt := 0; ; attempt++ {
		t, err := b.access(ctx, in, p, *creds, failed)
		if err != nil {
			return err
		}
		creds.Access = t.Access
		err = call()
		if !errors.Is(err, ErrTokenExpired) || attempt > 0 {
			return err
		}
		failed = t.Access
	}
}

// access returns a valid access token of the integration: the instance's,
// the one another instance stored, or a new one this instance refreshes
// under the lease (failed: a token the provider just refused, never
// returned again).
func (b *Bridge) access(ctx context.Context, in *chat.ChannelIntegration, p Provider, creds Credentials, failed string) (keptToken, error) {
	k := in.TenantID + "/" + in.Channel
	fresh := func(t keptToken) bool {
		return t.integration == in.WebhookID && t.Access != "" && t.Access != failed && b.now().Add(tokenMargin).Before(t.Expires)
	}
	if t, ok := b.tokens.get(k); ok && fresh(t) {
		return t, nil
	}
	deadline := b.now().Add(waitFor)
	owner := ids.Secret(16)
	for {
		kept, err := b.storedToken(ctx, in)
		if err != nil {
			return keptToken{}, err
		}
		if fresh(kept) {
			b.tokens.put(k, kept)
			return kept, nil
		}
		got, err := b.Store.LeaseChannelToken(ctx, in.TenantID, in.Channel, owner, b.now(), b.now().Add(leaseFor))
		if err != nil {
			return keptToken{}, err
		}
		if got {
			// Another instance may have stored a token between the read
			// and the lease: read again, so a rotated refresh token is
			// never used twice.
			kept, err := b.storedToken(ctx, in)
			if err == nil && fresh(kept) {
				b.tokens.put(k, kept)
				err = b.Store.ReleaseChannelToken(ctx, in.TenantID, in.Channel, owner)
				return kept, err
			}
			if err != nil {
				return keptToken{}, errors.Join(err, b.Store.ReleaseChannelToken(ctx, in.TenantID, in.Channel, owner))
			}
			return b.refresh(ctx, in, p, creds, kept, owner, failed != "")
		}
		if !b.now().Before(deadline) {
			return keptToken{}, fmt.Errorf("%s access token: another instance's refresh did not finish", in.Channel)
		}
		select {
		case <-ctx.Done():
			return keptToken{}, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// storedToken reads and decrypts the integration's stored token (zero if
// none, or one of an earlier integration).
func (b *Bridge) storedToken(ctx context.Context, in *chat.ChannelIntegration) (keptToken, error) {
	st, err := b.Store.ChannelTokenOf(ctx, in.TenantID, in.Channel)
	if err != nil || len(st.Blob) == 0 || st.Integration != in.WebhookID {
		return keptToken{}, err
	}
	raw, err := b.Cipher.Decrypt(ctx, in.TenantID, st.Blob)
	if err != nil {
		return keptToken{}, fmt.Errorf("decrypt %s access token: %w", in.Channel, err)
	}
	var t keptToken
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return keptToken{}, errors.New("decode access token: not the stored shape")
	}
	t.integration = st.Integration
	return t, nil
}

// refresh gets a new token while holding the lease, and stores it. The
// refresh token is the newest kept (X rotates it) or the connect's.
func (b *Bridge) refresh(ctx context.Context, in *chat.ChannelIntegration, p Provider, creds Credentials, kept keptToken, owner string, force bool) (keptToken, error) {
	if kept.Refresh != "" {
		creds.RefreshToken = kept.Refresh
	}
	t, err := p.(Refresher).Refresh(ctx, creds, force)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			b.Log.WarnContext(ctx, "channel token refused; the integration is broken", "tenantId", in.TenantID, "channel", in.Channel, "error", err.Error())
			err = errors.Join(err, b.Store.MarkChannelIntegrationBroken(ctx, in.TenantID, in.Channel, "token_refused"))
		}
		return keptToken{}, errors.Join(err, b.Store.ReleaseChannelToken(ctx, in.TenantID, in.Channel, owner))
	}
	next := keptToken{Access: t.Access, Refresh: t.Refresh, Expires: t.Expires, integration: in.WebhookID}
	if next.Refresh == "" {
		next.Refresh = kept.Refresh
	}
	if err := b.keep(ctx, in, owner, next); err != nil {
		return keptToken{}, err
	}
	if in.Broken != "" {
		if err := b.Store.MarkChannelIntegrationBroken(ctx, in.TenantID, in.Channel, ""); err != nil {
			return keptToken{}, err
		}
	}
	return next, nil
}

// keep encrypts t and stores it as the integration's token, owner holding
// the lease; the instance keeps it in memory too.
func (b *Bridge) keep(ctx context.Context, in *chat.ChannelIntegration, owner string, t keptToken) error {
	raw, _ := json.Marshal(t)
	blob, err := b.Cipher.Encrypt(ctx, in.TenantID, string(raw))
	if err != nil {
		return err
	}
	periods, err := b.tenants.Periods(ctx, in.TenantID)
	if err != nil {
		return err
	}
	st := store.ChannelToken{Integration: in.WebhookID, Blob: blob, Expires: store.TimeKey(t.Expires)}
	if err := b.Store.PutChannelToken(ctx, in.TenantID, in.Channel, owner, st, b.now(), periods); err != nil {
		return err
	}
	b.tokens.put(in.TenantID+"/"+in.Channel, t)
	return nil
}

// keepFirst stores the token a connect obtained as the new integration's.
func (b *Bridge) keepFirst(ctx context.Context, in *chat.ChannelIntegration, t keptToken) error {
	owner := ids.Secret(16)
	got, err := b.Store.LeaseChannelToken(ctx, in.TenantID, in.Channel, owner, b.now(), b.now().Add(leaseFor))
	if err != nil || !got {
		return errors.Join(err, b.Store.ReleaseChannelToken(ctx, in.TenantID, in.Channel, owner))
	}
	t.integration = in.WebhookID
	return b.keep(ctx, in, owner, t)
}
