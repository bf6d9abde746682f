package store_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

func attrNames(it map[string]types.AttributeValue) string {
	var names []string
	for k := range it {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// Page views and devices are domain types (chat); the store writes them under
// the attribute names they always had, and reads them back whole.
func TestUsageItems_StoredLayoutAndRoundTrip(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	tenant, contact := ids.New(ids.Tenant), ids.New(ids.Contact)
	pv := &chat.PageView{TenantID: tenant, ContactID: contact, Path: "/pricing", Referrer: "https://example.com/",
		Browser: "Firefox", IPNetwork: "203.0.113.0/24", TimeOnPageMs: 5300}
	if err := st.PutPageView(ctx, pv, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	d := &chat.Device{TenantID: tenant, ContactID: contact, Device: "desktop", OS: "Linux"}
	if err := st.TouchDevice(ctx, d, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	pk := store.ContactPK(tenant, contact)
	pvs, devs := rawPrefix(t, tt, pk, "PV#"), rawPrefix(t, tt, pk, "DEV#")
	if len(pvs) != 1 || len(devs) != 1 {
		t.Fatalf("stored %d page views and %d devices, want 1 each", len(pvs), len(devs))
	}
	const want = "GSI2PK GSI2SK PK SK at browser contactId dataClass entity expiresAt id ipNetwork path referrer tenantId timeOnPageMs"
	if got := attrNames(pvs[0]); got != want {
		t.Errorf("page view attributes\n got %s\nwant %s", got, want)
	}
	if got, want := attrNames(devs[0]), "GSI2PK GSI2SK PK SK contactId dataClass device entity expiresAt lastSeenAt os tenantId"; got != want {
		t.Errorf("device attributes\n got %s\nwant %s", got, want)
	}
	if str(pvs[0], "path") != "/pricing" || str(pvs[0], "ipNetwork") != "203.0.113.0/24" || str(devs[0], "os") != "Linux" {
		t.Errorf("stored values: %v %v", pvs[0], devs[0])
	}
	gotPV, err := st.PageViews(ctx, tenant, contact)
	if err != nil || len(gotPV) != 1 || gotPV[0] != *pv {
		t.Fatalf("page views %+v %v, want %+v", gotPV, err, *pv)
	}
	gotDev, err := st.Devices(ctx, tenant, contact)
	if err != nil || len(gotDev) != 1 || gotDev[0] != *d {
		t.Fatalf("devices %+v %v, want %+v", gotDev, err, *d)
	}
}
