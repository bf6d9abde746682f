package retention_test

import (
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/retention"
)

const day = 24 * time.Hour

var t0 = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func TestShortened_ListsOnlyClassesWithAShorterPeriod(t *testing.T) {
	applied := retention.Defaults
	next := retention.Merge(retention.Periods{UsageDays: 10, PersonalDays: 1095, ArchiveDays: 5})
	got := retention.Shortened(applied, next)
	if len(got) != 1 || got[0] != retention.Usage {
		t.Fatalf("shortened %v, want [usage] (archive is not a hot-table class, personal unchanged)", got)
	}
	if got := retention.Shortened(next, retention.Defaults); len(got) != 0 {
		t.Fatalf("lengthening listed %v", got)
	}
}

func TestRestamp_NeverExtendsAndLeavesHeldItemsAlone(t *testing.T) {
	p := retention.Merge(retention.Periods{CommunicationDays: 30})
	basis := t0.Add(-10 * day)
	old := retention.ExpiresAt(retention.Defaults, retention.Communication, basis)
	for _, tc := range []struct {
		name    string
		current int64
		want    int64
	}{
		{"shortened to basis + new period", old, basis.Add(30 * day).Unix()},
		{"already shorter stays", basis.Add(5 * day).Unix(), basis.Add(5 * day).Unix()},
		{"held (no expiresAt) stays held", 0, 0},
	} {
		if got := retention.Restamp(p, retention.Communication, basis, tc.current); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestExpiresAt_HeldPeriodsStampNothing(t *testing.T) {
	p := retention.Defaults
	p.Held = true
	for _, c := range retention.Classes {
		if got := retention.ExpiresAt(p, c, t0); got != 0 {
			t.Errorf("%s under hold: %d, want 0", c, got)
		}
	}
	if got := retention.TenantExpiresAt(p, nil, t0); got != 0 {
		t.Errorf("held tenant: %d", got)
	}
}

func TestTenantExpiresAt_ActiveLifetimeClosedGrace(t *testing.T) {
	p := retention.Merge(retention.Periods{ClosedGraceDays: 30})
	if got, want := retention.TenantExpiresAt(p, nil, t0), t0.Add(retention.TenantRenewal).Unix(); got != want {
		t.Errorf("active: %d, want %d", got, want)
	}
	closed := t0.Add(-day)
	if got, want := retention.TenantExpiresAt(p, &closed, t0), closed.Add(30*day+retention.PurgeWindow).Unix(); got != want {
		t.Errorf("closed: %d, want %d", got, want)
	}
	if retention.RenewTenant(t0.Add(retention.TenantRenewal).Unix(), t0) {
		t.Error("a fresh expiry needs no renewal")
	}
	if !retention.RenewTenant(t0.Add(retention.TenantRenewal/3).Unix(), t0) {
		t.Error("an expiry less than half the renewal away is not renewed")
	}
}
