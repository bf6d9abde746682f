package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dialogflow"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/legalhold"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

const platformToken = "platform-token-for-tests-0123456789abcdef"

// env is one test's API over its own tables.
type env struct {
	t     testing.TB
	api   *adminapi.API
	tt    *testaws.Tables
	store *store.Store
	logs  *bytes.Buffer
	now   time.Time
	n     int
}

func (e *env) seq() int { e.n++; return e.n }

func newEnv(t testing.TB, opts ...func(*adminapi.Deps)) *env {
	t.Helper()
	tt := testaws.NewTables(t)
	e := &env{t: t, tt: tt, logs: &bytes.Buffer{}, now: time.Now().UTC()}
	e.store = tt.Store().WithSubjectKey(subjectKey)
	d := e.deps()
	for _, o := range opts {
		o(&d)
	}
	if d.Now != nil { // the store on the API's clock
		d = withStore(storeOf(&d).WithClock(d.Now), d)
	}
	e.api = adminapi.New(d)
	return e
}

// deps are the API's dependencies over e's store, as production wires them.
func (e *env) deps() adminapi.Deps {
	return withStore(e.store, adminapi.Deps{PlatformToken: platformToken,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Privacy: noPrivacyProcessing(e.store),
		Slack: slackDeps(e.store), Channels: []adminapi.ChannelIntegrations{channelDeps(e.t, e.store)}, TenantTTL: store.AdminTenantCacheTTL,
		Bot: botbridge.New(botbridge.Deps{Store: e.store, Config: botbridge.Config{ClientID: "client-1", ClientSecret: "client-secret",
			Endpoint: dialogflow.GoogleEndpoint}}),
		Tokens: agentSigner(e.t), WebSocketURL: websocketURL})
}

// The key that signs the tests' agent tokens, and where agents connect.
const (
	tokenKey     = "agent-token-key-for-tests-0123456789abcdef"
	websocketURL = "wss://ws.example.test/dev"
)

// agentSigner signs and verifies the tests' agent tokens.
func agentSigner(t testing.TB) *visitortoken.Signer {
	t.Helper()
	s, err := visitortoken.New(tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withStore is d over st: the store, and the limiter and legal holds over it.
func withStore(st *store.Store, d adminapi.Deps) adminapi.Deps {
	d.Store, d.Limiter, d.Holds = st, ratelimit.New(st), legalhold.Over(st)
	return d
}

// storeOf is the store of d, for options that build on it.
func storeOf(d *adminapi.Deps) *store.Store { return d.Store.(*store.Store) }

// response is a decoded answer.
type response struct {
	Status  int
	Headers map[string]string
	Body    string
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// call sends one request through the Lambda handler as API Gateway would.
func (e *env) call(method, path, key, body string) response {
	e.t.Helper()
	p, q, _ := strings.Cut(path, "?")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: p, RawQueryString: q,
		Headers: map[string]string{"content-type": "application/json"}, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: fmt.Sprintf("req-%d", e.seq()), Stage: "$default", DomainName: "api.example.test",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: p}},
	}
	if key != "" {
		ev.Headers["authorization"] = "Bearer " + key
	}
	res, err := e.api.Handle(context.Background(), ev)
	if err != nil {
		e.t.Fatalf("%s %s: handler error %v", method, path, err)
	}
	return response{Status: res.StatusCode, Headers: res.Headers, Body: res.Body}
}

// tenant is a tenant created through the API, with its owner key.
type tenant struct {
	ID, OwnerKey, OwnerKeyID, WidgetKey string
}

func (e *env) newTenant(name string) tenant {
	e.t.Helper()
	res := e.call(http.MethodPost, "/v1/tenants", platformToken, `{"name":"`+name+`"}`)
	if res.Status != http.StatusCreated {
		e.t.Fatalf("create tenant: %d %s", res.Status, res.Body)
	}
	var out struct {
		Tenant struct{ ID, WidgetKey string }
		APIKey struct{ ID, Key string }
	}
	if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
		e.t.Fatal(err)
	}
	return tenant{ID: out.Tenant.ID, OwnerKey: out.APIKey.Key, OwnerKeyID: out.APIKey.ID, WidgetKey: out.Tenant.WidgetKey}
}

func wantStatus(t testing.TB, what string, res response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, res.Status, status, res.Body)
	}
}

func wantProblem(t testing.TB, what string, res response, status int) map[string]any {
	t.Helper()
	wantStatus(t, what, res, status)
	if ct := res.Headers["Content-Type"]; ct != "application/problem+json" {
		t.Fatalf("%s: content type %q, want application/problem+json", what, ct)
	}
	p := res.json(t)
	if p["status"] != float64(status) || p["title"] == "" || p["type"] == "" || p["detail"] == nil {
		t.Fatalf("%s: not a problem document: %s", what, res.Body)
	}
	return p
}

func (e *env) callStage(stage, method, path, key string) response {
	e.t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, Headers: map[string]string{"authorization": "Bearer " + key},
		RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: stage,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}},
	}
	res, err := e.api.Handle(context.Background(), ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Headers: res.Headers, Body: res.Body}
}

// fixture is a tenant with an agent key, a contact with an email, its open
// conversation and one visitor message.
type fixture struct {
	tenant
	AgentKey, AgentKeyID string
	ContactID, ConvID    string
	Email                string
}

func (e *env) newFixture(name string) fixture {
	e.t.Helper()
	ctx := context.Background()
	f := fixture{tenant: e.newTenant(name)}
	res := e.call(http.MethodPost, "/v1/api-keys", f.OwnerKey, `{"name":"agent of `+name+`","role":"agent"}`)
	wantStatus(e.t, "create agent key", res, http.StatusCreated)
	k := res.json(e.t)
	f.AgentKey, f.AgentKeyID = k["key"].(string), k["id"].(string)
	f.ContactID = ids.New(ids.Contact)
	f.Email = strings.ToLower(name) + "-visitor@example.com"
	if _, err := e.store.Identify(ctx, f.ID, f.ContactID, "Visitor of "+name, f.Email, retention.Defaults); err != nil {
		e.t.Fatal(err)
	}
	_, cvID, err := e.store.OpenConversation(ctx, f.ID, f.ContactID, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		e.t.Fatal(err)
	}
	f.ConvID = cvID
	if _, _, err := e.store.PutMessage(ctx, &chat.Message{TenantID: f.ID, ConversationID: cvID, ContactID: f.ContactID,
		Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "hello from " + name, Channel: chat.ChannelWidget}, retention.Defaults); err != nil {
		e.t.Fatal(err)
	}
	e.seedSlack(f)
	return f
}

// snapshot returns every item of a tenant's partitions, in a stable form, to
// prove that a request changed nothing of it.
func (e *env) snapshot(f fixture) string {
	e.t.Helper()
	var out []string
	for _, pk := range append([]string{store.TenantPK(f.ID), store.APIKeyPK(f.ID, f.OwnerKeyID), store.APIKeyPK(f.ID, f.AgentKeyID),
		store.ContactPK(f.ID, f.ContactID), store.ConversationPK(f.ID, f.ConvID), store.SlackPK(f.ID),
		store.SlackRoutePK(slackTeam(f)), store.AgentsPK(f.ID)}, store.AuditPartitions(f.ID)...) {
		res, err := e.tt.DB.Query(context.Background(), &dynamodb.QueryInput{
			TableName: &e.tt.Data, KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range res.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				e.t.Fatal(err)
			}
			b, _ := json.Marshal(m) // map keys marshal sorted
			out = append(out, string(b))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// newAPIWithoutStore builds the API only to read its routes.
func newAPIWithoutStore() *adminapi.API {
	return adminapi.New(adminapi.Deps{PlatformToken: platformToken})
}

// newEnvOver returns an env whose API uses a Data table of another name, sharing
// e's tables otherwise.
func newEnvOver(t *testing.T, e *env, table string) *env {
	b := &env{t: t, tt: e.tt, logs: &bytes.Buffer{}}
	b.store = store.New(e.tt.DB, table, e.tt.Archive)
	b.api = adminapi.New(withStore(b.store, adminapi.Deps{PlatformToken: platformToken,
		Logger: slog.New(slog.NewJSONHandler(b.logs, nil))}))
	return b
}

// request is call with extra headers.
func (e *env) request(method, path, key, body string, hdr map[string]string) response {
	e.t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, Body: body,
		Headers: map[string]string{"authorization": "Bearer " + key},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: fmt.Sprintf("req-%d", e.seq()),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}},
	}
	for k, v := range hdr {
		ev.Headers[k] = v
	}
	res, err := e.api.Handle(context.Background(), ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Headers: res.Headers, Body: res.Body}
}

// dumpItems returns every item of the Data table as JSON (a Scan, tests only).
func (e *env) dumpItems() string {
	e.t.Helper()
	res, err := e.tt.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &e.tt.Data})
	if err != nil {
		e.t.Fatal(err)
	}
	var all []map[string]any
	attributevalue.UnmarshalListOfMaps(res.Items, &all)
	b, _ := json.Marshal(all)
	return string(b)
}

// auditItems returns the tenant's raw audit items (all shards) as JSON.
func (e *env) auditItems(tenantID string) string {
	e.t.Helper()
	var all []map[string]any
	for _, pk := range store.AuditPartitions(tenantID) {
		res, err := e.tt.DB.Query(context.Background(), &dynamodb.QueryInput{
			TableName: &e.tt.Data, KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		var items []map[string]any
		attributevalue.UnmarshalListOfMaps(res.Items, &items)
		all = append(all, items...)
	}
	slices.SortFunc(all, func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a["SK"]), fmt.Sprint(b["SK"])) })
	b, _ := json.Marshal(all)
	return string(b)
}

// newMeteredEnv is newEnv with a store whose every DynamoDB call m counts.
func newMeteredEnv(t testing.TB, m *testaws.Meter, opts ...func(*adminapi.Deps)) *env {
	t.Helper()
	e := newEnv(t)
	e.store = store.New(m.Client(testaws.Config(t)), e.tt.Data, e.tt.Archive).WithSubjectKey(subjectKey)
	d := e.deps()
	for _, o := range opts {
		o(&d)
	}
	e.api = adminapi.New(d)
	return e
}
