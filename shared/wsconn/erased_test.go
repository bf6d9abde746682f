package wsconn_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/suppression"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
)

func authorizeReq(t *testing.T, token string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	t.Helper()
	var req events.APIGatewayCustomAuthorizerRequestTypeRequest
	testaws.LoadEvent(t, "ws-authorize.json", &req)
	req.QueryStringParameters["token"] = token
	return req
}

// An erased visitor's token is still signed and unexpired, but it names a
// visitor whose data is gone: the authorizer refuses it (401), whatever the
// tenant's re-ingest setting, so no connection is recorded under the erased id.
// The widget then asks for a new session, which refuses the erased visitor or,
// with "new_contact", gives it a new visitor id (shared/widgetsession). Each
// authorization costs one GetItem of the suppression entry.
func TestAuthorize_ErasedVisitorRefused(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	tokens, _ := visitortoken.New(strings.Repeat("s", 32))
	h := wsconn.New(wsconn.Deps{Store: st, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tn := wstest.Tenant(t, st, "Shop")
	erased, other := ids.New(ids.Contact), ids.New(ids.Contact)
	if err := st.Suppress(ctx, tn.ID, chat.SuppressContact, erased, "r1"); err != nil {
		t.Fatal(err)
	}
	for _, setting := range []string{suppression.ReingestRefuse, suppression.ReingestNewContact} {
		if _, err := st.SetReingestAfterErasure(ctx, tn.ID, setting); err != nil {
			t.Fatal(err)
		}
		_, err := h.Authorize(ctx, authorizeReq(t, tokens.Issue(tn.ID, erased, time.Hour)))
		if !errors.Is(err, wsconn.ErrUnauthorized) {
			t.Fatalf("%s: erased visitor's token: %v, want Unauthorized", setting, err)
		}
	}
	// The same visitor id at another tenant was not erased there.
	if _, err := h.Authorize(ctx, authorizeReq(t, tokens.Issue(ids.New(ids.Tenant), erased, time.Hour))); err != nil {
		t.Fatalf("same id at another tenant: %v", err)
	}
	// Once retention-sweep has moved the suppression entries of the legacy
	// layout to their shards and recorded it (store/suppressmigrate.go; until
	// then a check reads the legacy key too), an authorization reads one
	// entry, in the shard of its hash.
	if _, err := st.BeginSuppressMigration(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishSuppressMigration(ctx); err != nil {
		t.Fatal(err)
	}
	m.Reset()
	res, err := h.Authorize(ctx, authorizeReq(t, tokens.Issue(tn.ID, other, time.Hour)))
	if err != nil || res.Context["visitorId"] != other {
		t.Fatalf("a visitor who was not erased: %+v %v", res, err)
	}
	calls, read, write := m.Snapshot()
	t.Logf("one authorization: calls %v, %.1f RCU, %.1f WCU", calls, read, write)
	if fmt.Sprint(calls) != "map[GetItem:1]" || write != 0 {
		t.Errorf("one authorization made %v (%.1f WCU), want one GetItem", calls, write)
	}
	hash, err := st.SubjectHash(tn.ID, chat.SuppressContact, other)
	if err != nil {
		t.Fatal(err)
	}
	want := map[testaws.Partition]testaws.PartitionUse{{Table: tt.Data, Key: store.SuppressPK(tn.ID, hash)}: {Requests: 1, Read: 1}}
	if got := m.ByPartition(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("one authorization read %v, want %v", got, want)
	}
}

// TestTemplate_WsConnectPolicyIsWhatItUses: the DynamoDB actions the function
// calls (authorize, $connect, $disconnect, of a visitor and of an agent whose
// leaving is told to the other consoles) are exactly those its role allows,
// and it names the subject hash secret it now reads.
func TestTemplate_WsConnectPolicyIsWhatItUses(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	tokens, _ := visitortoken.New(strings.Repeat("s", 32))
	p := pushertest.New(t).Pusher()
	h := wsconn.New(wsconn.Deps{Store: st, Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Pusher: func(string, string) *pusher.Pusher { return p }})
	tid, vid := ids.New(ids.Tenant), ids.New(ids.Contact)
	agentToken, _ := tokens.IssueAgent(tid, "keyAna", "Ana")
	for _, token := range []string{tokens.Issue(tid, vid, time.Hour), agentToken} {
		res, err := h.Authorize(ctx, authorizeReq(t, token))
		if err != nil {
			t.Fatal(err)
		}
		auth := map[string]any{"principalId": res.PrincipalID}
		for k, v := range res.Context {
			auth[k] = v
		}
		for _, ev := range []string{"ws-connect.json", "ws-disconnect.json"} {
			var req events.APIGatewayWebsocketProxyRequest
			testaws.LoadEvent(t, ev, &req)
			req.RequestContext.Authorizer = auth
			if out, err := h.Route(ctx, req); err != nil || out.StatusCode != 200 {
				t.Fatalf("%s: %d %v", ev, out.StatusCode, err)
			}
		}
	}
	fn, ok := testaws.Template(t).Resources["WsConnectFunction"]
	if !ok {
		t.Fatal("template.yaml has no WsConnectFunction")
	}
	table := testaws.Template(t).Allowed("WsConnectFunction", "DataTable.Arn", "dynamodb")
	var used []string
	for a := range m.Actions() {
		used = append(used, a)
	}
	sort.Strings(used)
	if fmt.Sprint(table) != fmt.Sprint(used) {
		t.Errorf("the role allows %v on the Data table; the function calls %v", table, used)
	}
	env, _ := fn.Properties["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if _, ok := vars["SUBJECT_HASH_SECRET_ARN"]; !ok {
		t.Errorf("WsConnectFunction's environment %v does not name SUBJECT_HASH_SECRET_ARN", vars)
	}
}

// The authorizer checked the erasure list, but an erasure can complete between
// a connection's authorization and its $connect route: $connect checks again,
// so no connection record is written under an erased visitor's id (the erasure
// would not find it to delete it) and the connection is refused (403).
func TestConnect_ErasedVisitorIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	st := testaws.NewTables(t).Store()
	h := wsconn.New(wsconn.Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tid, erased, kept := ids.New(ids.Tenant), ids.New(ids.Contact), ids.New(ids.Contact)
	if err := st.Suppress(ctx, tid, chat.SuppressContact, erased, "r1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		visitor string
		status  int
		conns   int
	}{{erased, 403, 0}, {kept, 200, 1}} {
		var req events.APIGatewayWebsocketProxyRequest
		testaws.LoadEvent(t, "ws-connect.json", &req)
		req.RequestContext.Authorizer = map[string]any{"principalId": c.visitor, "tenantId": tid, "visitorId": c.visitor}
		out, err := h.Route(ctx, req)
		if err != nil || out.StatusCode != c.status {
			t.Fatalf("$connect of %s: %d %v, want %d", c.visitor, out.StatusCode, err, c.status)
		}
		conns, err := st.Connections(ctx, tid, c.visitor)
		if err != nil || len(conns) != c.conns {
			t.Fatalf("connections of %s: %v %v, want %d", c.visitor, conns, err, c.conns)
		}
	}
}
