package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// adminList pages one of the admin lists of a tenant: it returns the ids of
// one page and the cursor of the next.
type adminList func(ctx context.Context, tenantID string, limit int, cursor string) ([]string, string, error)

func adminListsOf(st *store.Store) map[string]adminList {
	return map[string]adminList{
		"apiKeys": func(ctx context.Context, tid string, limit int, c string) ([]string, string, error) {
			ks, next, err := st.APIKeys(ctx, tid, limit, c)
			out := []string{}
			for _, k := range ks {
				out = append(out, k.ID)
			}
			return out, next, err
		},
		"audit": func(ctx context.Context, tid string, limit int, c string) ([]string, string, error) {
			es, next, err := st.AuditEvents(ctx, tid, limit, c)
			out := []string{}
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out, next, err
		},
		"contacts": func(ctx context.Context, tid string, limit int, c string) ([]string, string, error) {
			cs, next, err := st.ContactsByEmail(ctx, tid, "Ann@Example.com", limit, c)
			out := []string{}
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out, next, err
		},
		"conversations": func(ctx context.Context, tid string, limit int, c string) ([]string, string, error) {
			cs, next, err := st.ConversationsByStatus(ctx, tid, chat.StatusOpen, 1, limit, c)
			out := []string{}
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out, next, err
		},
	}
}

// seedAdminLists puts three items in each admin list of the tenant.
func seedAdminLists(t *testing.T, st *store.Store, tenantID string) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		putKey(t, st, tenantID, "agent", st.Now())
		if err := st.PutAuditEvent(ctx, &chat.AuditEvent{ID: ids.New(ids.Event), TenantID: tenantID,
			At: st.Now().Add(time.Duration(i) * time.Second), Action: "test"}, retention.Defaults); err != nil {
			t.Fatal(err)
		}
		cid := ids.New(ids.Contact)
		if _, err := st.Identify(ctx, tenantID, cid, "Ann", "ann@example.com", retention.Defaults); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.OpenConversation(ctx, tenantID, cid, chat.ChannelWidget, retention.Defaults); err != nil {
			t.Fatal(err)
		}
	}
}

// The admin lists page with opaque cursors: a page of one at a time reads each
// item once, the last page has no cursor, and a cursor opens only for the list
// and tenant that minted it. Anything else is ErrBadPageCursor (invalid) and
// reads nothing.
func TestAdminLists_PageWithOpaqueCursors(t *testing.T) {
	st := testaws.NewTables(t).Store()
	ctx := context.Background()
	tA, tB := ids.New(ids.Tenant), ids.New(ids.Tenant)
	seedAdminLists(t, st, tA)
	seedAdminLists(t, st, tB)
	lists := adminListsOf(st)
	cursors := map[string]string{} // a mid-list cursor of tenant A per list
	for name, list := range lists {
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			got, next, err := list(ctx, tA, 1, cursor)
			if err != nil {
				t.Fatalf("%s page %d: %v", name, pages, err)
			}
			for _, id := range got {
				if seen[id] {
					t.Fatalf("%s: %s read twice", name, id)
				}
				seen[id] = true
			}
			pages++
			if next == "" || pages > 10 {
				break
			}
			if cursors[name] == "" {
				cursors[name] = next
			}
			cursor = next
		}
		if len(seen) != 3 {
			t.Fatalf("%s: read %d items over %d pages, want 3", name, len(seen), pages)
		}
	}
	for name, list := range lists {
		bad := map[string]string{
			"garbage":   "not a cursor!",
			"empty key": "AAAAAAAAAAA",
			"too long":  fmt.Sprintf("%0300d", 0),
			"truncated": cursors[name][:len(cursors[name])-2],
		}
		for other, c := range cursors {
			if other != name {
				bad[other+"'s cursor"] = c
			}
		}
		for what, c := range bad {
			if got, _, err := list(ctx, tA, 1, c); !errors.Is(err, store.ErrBadPageCursor) || chat.ErrorCode(err) != chat.EInvalid || len(got) > 0 {
				t.Errorf("%s, %s: %v, %v; want ErrBadPageCursor", name, what, got, err)
			}
		}
		if got, _, err := list(ctx, tB, 1, cursors[name]); !errors.Is(err, store.ErrBadPageCursor) || len(got) > 0 {
			t.Errorf("%s: tenant A's cursor read %v for tenant B: %v", name, got, err)
		}
	}
	// A cursor of the open conversations does not page the closed ones.
	if _, _, err := st.ConversationsByStatus(ctx, tA, chat.StatusClosed, 1, 1, cursors["conversations"]); !errors.Is(err, store.ErrBadPageCursor) {
		t.Errorf("open list's cursor on the closed list: %v", err)
	}
	if _, _, err := st.ContactsByEmail(ctx, tA, "bob@example.com", 1, cursors["contacts"]); !errors.Is(err, store.ErrBadPageCursor) {
		t.Errorf("ann's cursor on bob's search: %v", err)
	}
}

// API keys and audit events are stored under the attribute names they always
// had, whatever their domain types look like.
func TestAdminRecords_StoredAttributeNames(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	tid := ids.New(ids.Tenant)
	now := st.Now()
	revoked := now
	if err := st.PutAPIKey(ctx, &chat.APIKey{ID: ids.New(ids.APIKey), TenantID: tid, Name: "n", Role: "agent",
		Prefix: "p", Hash: "h", CreatedBy: "c", CreatedAt: now, RevokedAt: &revoked}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAuditEvent(ctx, &chat.AuditEvent{ID: ids.New(ids.Event), TenantID: tid, At: now, ActorKey: "k",
		ActorRole: "owner", Action: "a", Targets: map[string]string{"x": "y"}, RequestID: "r"}, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"apiKey":     "PK SK GSI1PK GSI1SK dataClass entity expiresAt createdAt createdBy hash id name prefix revokedAt role tenantId",
		"auditEvent": "PK SK dataClass entity expiresAt action actorKeyId actorRole at id requestId targets tenantId",
	}
	got := map[string]string{}
	for _, item := range tt.ScanAll(t, tt.Data) {
		var names []string
		for n := range item {
			names = append(names, n)
		}
		sort.Strings(names)
		e, _ := item["entity"].(*types.AttributeValueMemberS)
		if e != nil {
			got[e.Value] = strings.Join(names, " ")
		}
	}
	for entity, names := range want {
		w := strings.Fields(names)
		sort.Strings(w)
		if got[entity] != strings.Join(w, " ") {
			t.Errorf("%s stored as %q, want %q", entity, got[entity], strings.Join(w, " "))
		}
	}
}
