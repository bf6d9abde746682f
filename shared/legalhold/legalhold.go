// Package legalhold puts a contact, or a whole tenant, on legal hold and lifts
// it (privacy policy, section 5: retention required by law). A hold removes
// expiresAt from every item of the subject in both tables, so nothing of it
// expires, is swept, archived away or erased; lifting it gives every item its
// expiresAt back, recomputed with retention.ExpiresAt from the item's own basis
// under the tenant's current periods, so items whose time has passed expire as
// normal.
package legalhold

import (
	"context"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Result counts the items a hold or lift changed.
type Result struct {
	Items   int `json:"items"`   // items of the subject found
	Changed int `json:"changed"` // items whose expiresAt was removed or restored
}

// HoldContact puts a contact on legal hold. A missing, expired or foreign contact
// is chat.ErrNotFound. Repeating it is harmless.
func HoldContact(ctx context.Context, st *store.Store, tenantID, contactID string) (*Result, error) {
	stripped, err := st.SetContactHold(ctx, tenantID, contactID, true)
	if err != nil {
		return nil, err
	}
	res, err := hold(ctx, st, tenantID, contactID)
	if err != nil {
		return nil, err
	}
	if stripped {
		res.Changed++ // the profile, stripped with the flag
	}
	return res, nil
}

func hold(ctx context.Context, st *store.Store, tenantID, contactID string) (*Result, error) {
	items, err := st.SubjectItems(ctx, tenantID, contactID)
	if err != nil {
		return nil, err
	}
	res := &Result{Items: len(items)}
	for _, it := range items {
		if it.Held() || !store.Holdable(it.PK, it.SK) {
			continue
		}
		ok, err := st.HoldItem(ctx, it.Table, it.PK, it.SK)
		if err != nil {
			return nil, err
		}
		if ok {
			res.Changed++
		}
	}
	return res, nil
}

// LiftContact lifts a contact's legal hold. While the whole tenant is on hold
// the flag is cleared but the items stay held until the tenant's hold is lifted.
func LiftContact(ctx context.Context, st *store.Store, tenantID, contactID string) (*Result, error) {
	rec, err := st.TenantRecord(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if _, err := st.SetContactHold(ctx, tenantID, contactID, false); err != nil {
		return nil, err
	}
	if rec.Tenant.LegalHold {
		return &Result{}, nil
	}
	return release(ctx, st, rec.Tenant.Periods(), tenantID, contactID)
}

func release(ctx context.Context, st *store.Store, p retention.Periods, tenantID, contactID string) (*Result, error) {
	items, err := st.SubjectItems(ctx, tenantID, contactID)
	if err != nil {
		return nil, err
	}
	created := map[string]time.Time{}
	for _, it := range items {
		if it.Entity == "conversation" {
			if t, err := time.Parse(time.RFC3339Nano, it.CreatedAt()); err == nil {
				created[strings.TrimPrefix(it.PK, store.ConversationPK(tenantID, ""))] = t
			}
		}
	}
	res := &Result{Items: len(items)}
	for _, it := range items {
		if !it.Held() {
			continue
		}
		ok, err := st.ReleaseItem(ctx, it.Table, it.PK, it.SK, st.RestoredExpiry(p, it, created))
		if err != nil {
			return nil, err
		}
		if ok {
			res.Changed++
		}
	}
	return res, nil
}

// HoldTenant puts a whole tenant on legal hold for the platform operator: the
// profile and every contact's items (found through the retention index of
// personal data, month by month since the tenant was created) lose their
// expiresAt, and new items are written without one. It can be repeated to
// finish an interrupted run.
func HoldTenant(ctx context.Context, st *store.Store, tenantID string) (*Result, error) {
	if err := st.SetTenantHold(ctx, tenantID, true); err != nil {
		return nil, err
	}
	return eachContact(ctx, st, tenantID, func(contactID string, _ retention.Periods) (*Result, error) {
		return hold(ctx, st, tenantID, contactID)
	})
}

// LiftTenant lifts a tenant-wide legal hold: every contact not on its own hold
// gets its items' expiresAt back.
func LiftTenant(ctx context.Context, st *store.Store, tenantID string) (*Result, error) {
	if err := st.SetTenantHold(ctx, tenantID, false); err != nil {
		return nil, err
	}
	return eachContact(ctx, st, tenantID, func(contactID string, p retention.Periods) (*Result, error) {
		c, err := st.Contact(ctx, tenantID, contactID)
		if err == nil && c.LegalHold {
			return &Result{}, nil
		}
		return release(ctx, st, p, tenantID, contactID)
	})
}

func eachContact(ctx context.Context, st *store.Store, tenantID string, fn func(string, retention.Periods) (*Result, error)) (*Result, error) {
	rec, err := st.TenantRecord(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	p := rec.Tenant.Periods()
	from := rec.Tenant.CreatedAt
	if from.IsZero() {
		from = st.Now().AddDate(-10, 0, 0)
	}
	total := &Result{}
	for _, m := range store.Months(from, st.Now()) {
		var after map[string]string
		for {
			entries, next, err := st.RetentionPage(ctx, tenantID, retention.Personal, m, from, after, 100)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if e.Entity != "contact" {
					continue
				}
				id := strings.TrimPrefix(e.PK, store.ContactPK(tenantID, ""))
				r, err := fn(id, p)
				if err != nil {
					return nil, err
				}
				total.Items += r.Items
				total.Changed += r.Changed
			}
			if next == nil {
				break
			}
			after = next
		}
	}
	return total, nil
}
