package privacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// fakeHook is a channel adapter's erase hook that records its calls and can fail.
type fakeHook struct {
	mu    sync.Mutex
	calls []string
	fail  int // fail this many calls first
}

func (h *fakeHook) EraseSubject(ctx context.Context, tenantID, contactID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail > 0 {
		h.fail--
		return errors.New("slack unavailable")
	}
	h.calls = append(h.calls, tenantID+"/"+contactID)
	return nil
}

func (h *fakeHook) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

// fakeManagement plays the API Gateway management API's DeleteConnection.
type fakeManagement struct {
	mu     sync.Mutex
	closed []string
}

func (f *fakeManagement) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func (f *fakeManagement) DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = append(f.closed, aws.ToString(in.ConnectionId))
	return &apigatewaymanagementapi.DeleteConnectionOutput{}, nil
}

type fixture struct {
	t        *testing.T
	tt       *testaws.Tables
	st       *store.Store
	bucket   *testaws.Bucket
	tenant   *chat.Tenant
	hook     *fakeHook
	mgmt     *fakeManagement
	exporter *jobs.Exporter
	eraser   *jobs.Eraser
	inproc   *testaws.InProcess
	svc      *privacy.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tt := testaws.NewTables(t)
	f := &fixture{t: t, tt: tt, st: tt.Store().WithSubjectKey([]byte("test subject hash key, 32 bytes!")),
		bucket: testaws.NewBucket(t), hook: &fakeHook{}, mgmt: &fakeManagement{}}
	f.tenant = f.newTenant()
	f.exporter = &jobs.Exporter{Store: f.st, S3: f.bucket.S3, Presign: f.bucket.Presigner(), Bucket: f.bucket.Name}
	f.eraser = &jobs.Eraser{Store: f.st, S3: f.bucket.S3, Bucket: f.bucket.Name,
		Connections: pusher.New(f.mgmt), Hooks: []jobs.EraseHook{f.hook}}
	f.inproc = &testaws.InProcess{Handlers: map[string]func(context.Context, privacy.Event) error{
		"export-fn": f.exporter.Handle, "erase-fn": f.eraser.Handle}}
	f.svc = &privacy.Service{Store: f.st, Invoker: f.inproc, ExportFunction: "export-fn", EraseFunction: "erase-fn"}
	return f
}

func (f *fixture) newTenant() *chat.Tenant {
	f.t.Helper()
	tn := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Acme", Status: "active", CreatedAt: time.Now().UTC()}
	tn.WidgetKey = "wk_" + tn.ID + "_" + ids.Secret(10)
	if err := f.st.PutTenant(context.Background(), tn); err != nil {
		f.t.Fatal(err)
	}
	return tn
}

// person is a seeded subject and every identifier of it.
type person struct {
	tenantID   string
	contactID  string
	name       string
	email      string
	phone      string
	channelID  string // Slack user id
	connection string
	convs      []string // conversation ids, the first one archived
	text       string   // a phrase in their messages
}

// identifiers are the values that must not survive an erasure.
func (p person) identifiers() []string {
	return []string{p.contactID, p.name, p.email, p.phone, p.channelID, p.connection}
}

// seed stores a person with everything the store keeps about people: profile
// (with marketing opt-out), a live connection, a channel identity, an open
// conversation with messages and dedupe markers, and a closed conversation that
// has been archived (pointer, meta and messages in the Archive table).
func (f *fixture) seed(tenant *chat.Tenant, email string, messages int) person {
	f.t.Helper()
	ctx := context.Background()
	suffix := strings.ToUpper(ids.Secret(5))
	p := person{tenantID: tenant.ID, contactID: ids.New(ids.Contact), name: "Name" + suffix,
		email: email, phone: "+1555" + suffix, channelID: "U" + suffix, connection: "conn" + suffix + "=",
		text: "secret-words-" + suffix}
	per := tenant.Periods()
	_, cvID, err := f.st.OpenConversation(ctx, tenant.ID, p.contactID, chat.ChannelWidget, per)
	if err != nil {
		f.t.Fatal(err)
	}
	optOut := true
	if _, err := f.st.UpdateContactFields(ctx, tenant.ID, p.contactID, chat.ContactFields{
		Name: &p.name, Email: &p.email, Phone: &p.phone, MarketingOptOut: &optOut}); err != nil {
		f.t.Fatal(err)
	}
	for i := range messages {
		kind := chat.AuthorVisitor
		if i%2 == 1 {
			kind = chat.AuthorAgent
		}
		_, _, err := f.st.PutMessage(ctx, &chat.Message{TenantID: tenant.ID, ConversationID: cvID, ContactID: p.contactID,
			Author: chat.Author{Kind: kind, Name: p.name}, Text: p.text + " " + ids.Secret(4), Channel: chat.ChannelWidget,
			ClientMessageID: ids.Secret(6)}, per)
		if err != nil {
			f.t.Fatal(err)
		}
	}
	// A message past its expiresAt that TTL has not deleted yet: reads (and
	// exports) hide it, erasure deletes it.
	f.put(f.tt.Data, map[string]any{"PK": store.ConversationPK(tenant.ID, cvID),
		"SK": store.MessageSK(time.Now().Add(-time.Hour), ids.New(ids.Message)), "text": p.text + " expired",
		"authorName": p.name, "contactId": p.contactID, "entity": "message", "dataClass": "communication",
		"expiresAt": time.Now().Add(-time.Minute).Unix()})
	if err := f.st.PutConnection(ctx, &chat.Connection{ID: p.connection, TenantID: tenant.ID, ContactID: p.contactID,
		ConnectedAt: time.Now().UTC()}); err != nil {
		f.t.Fatal(err)
	}
	// A channel identity as the channel adapters keep it under the contact.
	f.put(f.tt.Data, map[string]any{"PK": store.ContactPK(tenant.ID, p.contactID), "SK": "IDENT#slack#" + p.channelID,
		"GSI1PK": store.TenantPrefix(tenant.ID) + "IDENT#slack#" + p.channelID, "GSI1SK": "CONTACT#" + p.contactID,
		"channel": "slack", "externalId": p.channelID, "entity": "channelIdentity", "dataClass": "personal",
		"expiresAt": time.Now().Add(time.Hour).Unix()})
	// An archived conversation: the archive keeps the same keys.
	old := ids.New(ids.Conversation)
	exp := time.Now().Add(700 * 24 * time.Hour).Unix()
	f.put(f.tt.Archive, map[string]any{"PK": store.ContactPK(tenant.ID, p.contactID), "SK": "CONV#" + old,
		"conversationId": old, "entity": "conversationPointer", "dataClass": "communication", "expiresAt": exp})
	f.put(f.tt.Archive, map[string]any{"PK": store.ConversationPK(tenant.ID, old), "SK": "META",
		"ContactID": p.contactID, "Status": "closed", "entity": "conversation", "dataClass": "communication", "expiresAt": exp})
	for i := range 2 {
		f.put(f.tt.Archive, map[string]any{"PK": store.ConversationPK(tenant.ID, old),
			"SK":   store.MessageSK(time.Now().Add(-400*24*time.Hour+time.Duration(i)*time.Second), ids.New(ids.Message)),
			"text": p.text + " archived", "authorName": p.name, "contactId": p.contactID,
			"entity": "message", "dataClass": "communication", "expiresAt": exp})
	}
	p.convs = []string{old, cvID}
	return p
}

func (f *fixture) put(table string, m map[string]any) {
	f.t.Helper()
	item, err := attributevalue.MarshalMap(m)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		f.t.Fatal(err)
	}
}

// stored is one item found by a test Scan.
type stored struct {
	table, pk, sk string
	json          string
}

// scanAll reads every item of both tables (a Scan is fine in a test).
func (f *fixture) scanAll() []stored {
	f.t.Helper()
	var out []stored
	for name, table := range map[string]string{jobs.TableData: f.tt.Data, jobs.TableArchive: f.tt.Archive} {
		p := dynamodb.NewScanPaginator(f.tt.DB, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			res, err := p.NextPage(context.Background())
			if err != nil {
				f.t.Fatal(err)
			}
			for _, it := range res.Items {
				var m map[string]any
				if err := attributevalue.UnmarshalMap(it, &m); err != nil {
					f.t.Fatal(err)
				}
				b, _ := json.Marshal(m)
				out = append(out, stored{table: name, pk: str(it["PK"]), sk: str(it["SK"]), json: string(b)})
			}
		}
	}
	return out
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// request creates a request straight in the store (no invocation).
func (f *fixture) request(typ, reason string, subject chat.PrivacySubject) *chat.PrivacyRequest {
	f.t.Helper()
	now := f.st.Now()
	r := &chat.PrivacyRequest{ID: ids.New(ids.Request), TenantID: f.tenant.ID, Type: typ, Reason: reason,
		Subject: &subject, Status: chat.PrivacyReceived, ReceivedAt: now, DueAt: now.Add(chat.PrivacyDue)}
	if err := f.st.PutPrivacyRequest(context.Background(), r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) get(id string) *chat.PrivacyRequest {
	f.t.Helper()
	r, err := f.st.PrivacyRequest(context.Background(), f.tenant.ID, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func ev(r *chat.PrivacyRequest) privacy.Event {
	return privacy.Event{TenantID: r.TenantID, RequestID: r.ID}
}

var _ = retention.Defaults
