package store

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/ids"
)

// adminLists are the four paged admin lists of a tenant, by name.
func adminLists(tenantID string) map[string]pageList {
	return map[string]pageList{
		"apiKeys":       apiKeyPages(tenantID),
		"audit":         auditPages(tenantID),
		"contacts":      contactEmailPages(tenantID, "ann@example.com"),
		"conversations": conversationStatusPages(tenantID, "open"),
	}
}

// FuzzPageCursor feeds the admin lists arbitrary cursors and sort keys.
// Whatever the input, a cursor never panics and never yields a start key
// outside the list's own partition (so never another tenant's); a cursor a
// list mints opens for that list only, giving back the key it was minted from,
// and not for the same list of another tenant or another list.
func FuzzPageCursor(f *testing.F) {
	at := TimeKey(time.Date(2026, 3, 10, 12, 1, 0, 0, time.UTC))
	tA, tB := ids.New(ids.Tenant), ids.New(ids.Tenant)
	f.Add(tA, tB, ids.New(ids.APIKey), "")
	f.Add(tA, tB, prefAudit+at+"#"+ids.New(ids.Event), "abc")
	f.Add(tA, tA+"x", prefContactIndex+ids.New(ids.Contact), "AAAAAAAAAAAAQ")
	f.Add("a", "a#b", at+"#"+ids.New(ids.Conversation), base64.RawURLEncoding.EncodeToString([]byte("12345678"+legacyPrefAPIKey)))
	f.Fuzz(func(t *testing.T, tenant, intruder, sk, cursor string) {
		lists := adminLists(tenant)
		for name, l := range lists {
			k, err := l.startKey(cursor)
			if err != nil {
				if !strings.Contains(err.Error(), "bad cursor") {
					t.Fatalf("%s: error %v", name, err)
				}
				continue
			}
			if cursor != "" {
				checkInPartition(t, name, tenant, l, k)
			}
		}
		for name, l := range lists {
			lek, ok := l.start(sk)
			if !ok {
				continue
			}
			checkInPartition(t, name, tenant, l, lek)
			c, err := l.cursor(lek)
			if err != nil || c == "" {
				t.Fatalf("%s: no cursor of %q: %v", name, sk, err)
			}
			if got, err := l.startKey(c); err != nil || !reflect.DeepEqual(got, lek) {
				t.Fatalf("%s: own cursor gave %v, %v; minted from %v", name, got, err, lek)
			}
			for other, ol := range lists {
				if other == name {
					continue
				}
				if got, err := ol.startKey(c); err == nil {
					t.Fatalf("%s's cursor opened for %s: %v", name, other, got)
				}
			}
			if intruder != tenant {
				if got, err := adminLists(intruder)[name].startKey(c); err == nil {
					t.Fatalf("tenant %q's %s cursor opened for %q: %v", tenant, name, intruder, got)
				}
			}
		}
	})
}

// checkInPartition fails unless key k is in list l's partition and its item
// is the tenant's.
func checkInPartition(t *testing.T, name, tenant string, l pageList, k map[string]types.AttributeValue) {
	t.Helper()
	part := "PK"
	if l.sortAttr == "GSI1SK" {
		part = "GSI1PK"
	}
	if v, ok := k[part].(*types.AttributeValueMemberS); !ok || v.Value != l.partition {
		t.Fatalf("%s: start key %v outside partition %q", name, k, l.partition)
	}
	pk, ok := k["PK"].(*types.AttributeValueMemberS)
	if !ok || !strings.HasPrefix(pk.Value, TenantPrefix(tenant)) {
		t.Fatalf("%s: start key %v outside the tenant of %q", name, k, l.partition)
	}
}
