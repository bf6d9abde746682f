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
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Store is what holds need of the store (*store.Store).
type Store interface {
	Now() time.Time
	TenantRecord(ctx context.Context, tenantID string) (*chat.TenantRecord, error)
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	SetContactHold(ctx context.Context, tenantID, contactID string, hold bool) (bool, error)
	SetTenantHold(ctx context.Context, tenantID string, hold bool) error
	SubjectItems(ctx context.Context, tenantID, contactID string) ([]store.Entry, error)
	RetentionPage(ctx context.Context, tenantID string, class retention.Class, from, to time.Time, after string, limit int) ([]store.Entry, string, error)
	HoldItem(ctx context.Context, ref store.ItemRef) (bool, error)
	ReleaseItem(ctx context.Context, ref store.ItemRef, exp int64) (bool, error)
	RestoredExpiry(p retention.Periods, e store.Entry, createdOf map[string]time.Time) int64
}

var _ Store = (*store.Store)(nil)

// Result counts the items a hold or lift changed.
type Result struct {
	Items   int `json:"items"`   // items of the subject found
	Changed int `json:"changed"` // items whose expiresAt was removed or restored
}

// HoldContact puts a contact on legal hold. A missing, expired or foreign contact
// is chat.ErrNotFound. Repeating it is harmless.
func HoldContact(ctx context.Context, st Store, tenantID, contactID string) (*Result, error) {
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

func hold(ctx context.Context, st Store, tenantID, contactID string) (*Result, error) {
	items, err := st.SubjectItems(ctx, tenantID, contactID)
	if err != nil {
		return nil, err
	}
	res := &Result{Items: len(items)}
	for _, it := range items {
		if it.Held() || !it.Holdable {
			continue
		}
		ok, err := st.HoldItem(ctx, it.Ref)
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
func LiftContact(ctx context.Context, st Store, tenantID, contactID string) (*Result, error) {
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

func release(ctx context.Context, st Store, p retention.Periods, tenantID, contactID string) (*Result, error) {
	items, err := st.SubjectItems(ctx, tenantID, contactID)
	if err != nil {
		return nil, err
	}
	created := map[string]time.Time{}
	for _, it := range items {
		if it.Entity == "conversation" && !it.CreatedAt.IsZero() {
			created[it.ConversationID] = it.CreatedAt
		}
	}
	res := &Result{Items: len(items)}
	for _, it := range items {
		if !it.Held() {
			continue
		}
		ok, err := st.ReleaseItem(ctx, it.Ref, st.RestoredExpiry(p, it, created))
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
func HoldTenant(ctx context.Context, st Store, tenantID string) (*Result, error) {
	if err := st.SetTenantHold(ctx, tenantID, true); err != nil {
		return nil, err
	}
	return eachContact(ctx, st, tenantID, func(contactID string, _ retention.Periods) (*Result, error) {
		return hold(ctx, st, tenantID, contactID)
	})
}

// LiftTenant lifts a tenant-wide legal hold: every contact not on its own hold
// gets its items' expiresAt back.
func LiftTenant(ctx context.Context, st Store, tenantID string) (*Result, error) {
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

func eachContact(ctx context.Context, st Store, tenantID string, fn func(string, retention.Periods) (*Result, error)) (*Result, error) {
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
	to, after := st.Now(), ""
	for {
		entries, next, err := st.RetentionPage(ctx, tenantID, retention.Personal, from, to, after, 100)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Entity != "contact" {
				continue
			}
			r, err := fn(e.ContactID, p)
			if err != nil {
				return nil, err
			}
			total.Items += r.Items
			total.Changed += r.Changed
		}
		if next == "" {
			return total, nil
		}
		after = next
	}
}
