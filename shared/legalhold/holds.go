package legalhold

import "context"

// Holds is this package's operations over one store, for callers that take
// them as an interface (the admin API).
type Holds struct{ st Store }

// Over returns the holds over st.
func Over(st Store) Holds { return Holds{st: st} }

// HoldContact is HoldContact over the store.
func (h Holds) HoldContact(ctx context.Context, tenantID, contactID string) (*Result, error) {
	return HoldContact(ctx, h.st, tenantID, contactID)
}

// LiftContact is LiftContact over the store.
func (h Holds) LiftContact(ctx context.Context, tenantID, contactID string) (*Result, error) {
	return LiftContact(ctx, h.st, tenantID, contactID)
}

// HoldTenant is HoldTenant over the store.
func (h Holds) HoldTenant(ctx context.Context, tenantID string) (*Result, error) {
	return HoldTenant(ctx, h.st, tenantID)
}

// LiftTenant is LiftTenant over the store.
func (h Holds) LiftTenant(ctx context.Context, tenantID string) (*Result, error) {
	return LiftTenant(ctx, h.st, tenantID)
}
