package adminapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
)

// BenchmarkListConversations lists one page of 25 from a tenant with 1,000 open
// conversations and reports the DynamoDB requests and read units per call
// (TestListCost_FlatAsTenantGrows shows they do not grow with the tenant).
func BenchmarkListConversations(b *testing.B) {
	m := testaws.NewMeter()
	e := newMeteredEnv(b, m)
	a := e.newTenant("Bench")
	e.seedBulk(a.ID, 1000, time.Now().Add(-time.Hour))
	m.Reset()
	for b.Loop() {
		if res := e.call(http.MethodGet, "/v1/conversations?limit=25", a.OwnerKey, ""); res.Status != http.StatusOK {
			b.Fatalf("list: %d %s", res.Status, res.Body)
		}
	}
	calls, read, _ := m.Snapshot()
	total := 0
	for _, n := range calls {
		total += n
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
	b.ReportMetric(read/float64(b.N), "read-units/op")
}
