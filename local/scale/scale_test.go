package scale

import (
	"testing"
	"time"
)

// designPoint is target (a): 10,000 tenants, the largest with 50,000
// concurrent visitors, 20,000 page views and 5,000 messages a second.
func designPoint() Platform {
	return Platform{Name: "(a) design point", Tenants: 10000, S: 1,
		Largest: Workload{Visitors: 50000, PageViews: 20000, Messages: 5000},
		Now:     time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
}

// tenTimes is target (b): ten times the platform, 100,000 tenants on the
// same Zipf law carrying ten times (a)'s total load, so the largest tenant
// grows by 10 x H(10,000) / H(100,000), about 8.1 times.
func tenTimes() Platform {
	a := designPoint()
	b := a
	b.Name, b.Tenants = "(b) ten times the platform", 10*a.Tenants
	b.Largest = a.Largest.Scale(10 * a.TotalSize() / b.TotalSize())
	return b
}

// maxUse is the share of a partition's limits no partition may pass.
const maxUse = 0.5

func TestScale_DesignPoint(t *testing.T) { checkPlatform(t, designPoint()) }

func TestScale_TenTimesThePlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 tenants: run without -short")
	}
	checkPlatform(t, tenTimes())
}

// TestScale_SlackOutageAtTenTimes: at (b), Slack down for every tenant parks
// every Slack tenant's visitor messages; the index of parked deliveries,
// one per destination for all tenants, must take them (a throttled index
// would throttle the table's writes).
func TestScale_SlackOutageAtTenTimes(t *testing.T) {
	p := tenTimes()
	r := Run(p, SlackOutage)
	t.Logf("%s, Slack down:\n%s\n%s", p.Name, r.Table(5), r.OpsTable(SlackOutage))
	failOver(t, r)
}

// failOver fails for each partition past maxUse of its limits.
func failOver(t *testing.T, r Result) {
	t.Helper()
	for _, l := range r.Over(maxUse) {
		t.Errorf("%s (tenant #%d): %.0f WCU/s, %.0f RCU/s = %.0f%% of a partition", l.Part, l.Tenant, l.WCU, l.RCU, 100*l.Use())
	}
}

func checkPlatform(t *testing.T, p Platform) {
	t.Helper()
	r := Run(p, Ops)
	t.Logf("largest tenant: %.0f visitors, %.0f page views/s, %.0f messages/s, %d inbox shards\n%s\n%s",
		p.Largest.Visitors, p.Largest.PageViews, p.Largest.Messages, InboxShardsFor(p.Largest), r.Table(15), r.OpsTable(Ops))
	msgs := p.Largest.Messages * p.TotalSize()
	rcu, wcu := r.Units("visitor message", "dispatch", "agent reply", "archive", "conversation")
	prcu, pwcu := r.Units("page load", "visit starts", "widget-session")
	pages := p.Largest.PageViews * p.TotalSize()
	t.Logf("message path: %.0f messages/s, %.2f WCU and %.2f RCU per message; page loads: %.0f/s, %.2f WCU and %.2f RCU per page load",
		msgs, wcu/msgs, rcu/msgs, pages, pwcu/pages, prcu/pages)
	failOver(t, r)
}
