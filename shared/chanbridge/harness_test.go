package chanbridge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/viberfake"
	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/line"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/s3link"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/telegram"
	"github.com/livesupportbot/backend/shared/viber"
	"github.com/livesupportbot/backend/shared/wechat"
	"github.com/livesupportbot/backend/shared/xdm"
)

// webhookBase is the API's public URL the webhooks are registered under.
const webhookBase = "https://api.example.test/dev"

// harness is the bridge over moto (tables, KMS, the attachment bucket) and
// the three fake providers, with dispatch reading the Data stream and the
// bridge as its "bots" destination. Its clock can be moved.
type harness struct {
	tt     *testaws.Tables
	st     *store.Store
	tg     *telegramfake.Server
	ln     *linefake.Server
	vb     *viberfake.Server
	xf     *xfake.Server
	wc     *wechatfake.Server
	bucket *testaws.Bucket
	files  *attachment.Store
	bridge *chanbridge.Bridge
	logs   *wstest.Logs
	*wstest.Widget

	mu  sync.Mutex
	now time.Time
}

func newHarness(tb testing.TB) *harness { return newMeteredHarness(tb, nil) }

func newMeteredHarness(tb testing.TB, m *testaws.Meter) *harness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	var db store.Client = tt.DB
	if m != nil {
		db = m.Client(cfg)
	}
	// One request at a time, atomically as DynamoDB applies it (moto's
	// backends are not thread-safe): racing instances interleave between
	// their requests.
	db = &testaws.HookDB{Client: db, Serialize: true}
	h := &harness{tt: tt, tg: telegramfake.New(tb), ln: linefake.New(tb), vb: viberfake.New(tb), xf: xfake.New(tb), wc: wechatfake.New(tb),
		bucket: testaws.NewBucket(tb), logs: &wstest.Logs{}, now: time.Now().UTC()}
	h.st = store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	key := testaws.NewKMSKey(tb)
	h.files = &attachment.Store{Bucket: h.bucket.Name,
		Objects: s3link.New(cfg, func(k string) string { return map[string]string{"S3_FORCE_PATH_STYLE": "true"}[k] })}
	log := logging.New(h.logs, "test")
	h.bridge = chanbridge.New(chanbridge.Deps{Store: h.st, Cipher: slackkms.New(cfg, nil, key.KeyID), Files: h.files, Log: log,
		Providers: map[string]chanbridge.Provider{
			"telegram": &telegram.Provider{BaseURL: h.tg.URL()},
			"line":     &line.Provider{APIURL: h.ln.URL(), DataURL: h.ln.URL()},
			"viber":    &viber.Provider{BaseURL: h.vb.URL()},
			"x":        &xdm.Provider{BaseURL: h.xf.URL()},
			"wechat":   &wechat.Provider{BaseURL: h.wc.URL()},
		}}).WithClock(h.clock)
	h.Widget = wstest.New(tb, cfg, h.st, tt.StreamArn, log, dispatch.Destination{Name: h.bridge.Channel(), Deliverer: h.bridge})
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// driver plays one channel's provider side in a test.
type driver struct {
	name string
	// connect makes the fake take a new account and returns what the owner
	// gives to connect it.
	connect func(h *harness) chat.ChannelConnect
	// sign returns the headers that verify body for the connected account
	// (a name "?name" is a query parameter: WeChat signs in the query).
	sign func(h *harness, c chat.ChannelConnect, in *chat.ChannelIntegration, body []byte) map[string]string
	// text is a contact's message, event n (unique per test), from user.
	text func(in *chat.ChannelIntegration, n int, user, text string) []byte
	// file is a message of user with an attachment of data the fake serves
	// (nil: the channel's files are not copied; X shows them as a mark).
	file func(h *harness, in *chat.ChannelIntegration, n int, user string, data []byte) []byte
	// user is a contact's id on the channel.
	user func(n int) string
	// sends counts the fake's sends; failNext makes the next send fail in a
	// way worth a retry.
	sends    func(h *harness) int
	failNext func(h *harness)
	// seal turns a body into what the provider posts (WeChat's safe mode:
	// the encrypted envelope; nil: the body itself). A sealed body is kept.
	seal func(c chat.ChannelConnect, body []byte) []byte
}

// sealed is body as d's provider posts it.
func (d driver) sealed(c chat.ChannelConnect, body []byte) []byte {
	if d.seal == nil {
		return body
	}
	return d.seal(c, body)
}

var drivers = []driver{
	{
		name: "telegram",
		connect: func(h *harness) chat.ChannelConnect {
			token := fmt.Sprintf("%d:AA%s", 100000+len(h.tg.Sends()), ids.Secret(33))
			h.tg.AddBot(token, telegramfake.BotID(token), "acme_bot")
			return chat.ChannelConnect{BotToken: token}
		},
		sign: func(h *harness, c chat.ChannelConnect, _ *chat.ChannelIntegration, _ []byte) map[string]string {
			_, secret, _ := h.tg.Webhook(c.BotToken)
			return map[string]string{telegramfake.SecretHeader: secret}
		},
		text: func(_ *chat.ChannelIntegration, n int, user, text string) []byte {
			chat, _ := strconv.ParseInt(user, 10, 64)
			return telegramfake.TextUpdate(int64(n), chat, "Ana", text)
		},
		file: func(h *harness, _ *chat.ChannelIntegration, n int, user string, data []byte) []byte {
			id := "file-" + strconv.Itoa(n)
			h.tg.AddFile(id, "image/jpeg", data)
			chat, _ := strconv.ParseInt(user, 10, 64)
			return telegramfake.PhotoUpdate(int64(n), chat, id)
		},
		user:     func(n int) string { return strconv.Itoa(700000 + n) },
		sends:    func(h *harness) int { return len(h.tg.Sends()) },
		failNext: func(h *harness) { h.tg.FailNext(1, 429, 1) },
	},
	{
		name: "line",
		connect: func(h *harness) chat.ChannelConnect {
			token, secret := "line-"+ids.Secret(40), ids.Secret(32)
			h.ln.AddChannel(token, "U"+ids.Secret(32), "Acme")
			return chat.ChannelConnect{AccessToken: token, ChannelSecret: secret}
		},
		sign: func(_ *harness, c chat.ChannelConnect, _ *chat.ChannelIntegration, body []byte) map[string]string {
			return map[string]string{linefake.SignatureHeader: linefake.Sign(body, c.ChannelSecret)}
		},
		text: func(in *chat.ChannelIntegration, n int, user, text string) []byte {
			return linefake.TextEvent(in.AccountID, user, fmt.Sprintf("01HEVENT%018d", n), "", text)
		},
		file: func(h *harness, in *chat.ChannelIntegration, n int, user string, data []byte) []byte {
			ev := fmt.Sprintf("01HEVENT%018d", n)
			h.ln.AddContent(linefake.MessageID(ev), "image/jpeg", data)
			return linefake.ImageEvent(in.AccountID, user, ev, "", linefake.MessageID(ev))
		},
		user:     func(n int) string { return fmt.Sprintf("U%032d", n) },
		sends:    func(h *harness) int { return len(h.ln.Sends()) },
		failNext: func(h *harness) { h.ln.FailNext(1, 429) },
	},
	{
		name: "viber",
		connect: func(h *harness) chat.ChannelConnect {
			token := ids.Secret(16) + "-" + ids.Secret(16)
			h.vb.AddAccount(token, "pa:"+ids.Secret(10), "Acme")
			return chat.ChannelConnect{AuthToken: token, SenderName: "Acme Support"}
		},
		sign: func(_ *harness, c chat.ChannelConnect, _ *chat.ChannelIntegration, body []byte) map[string]string {
			return map[string]string{viberfake.SignatureHeader: viberfake.Sign(body, c.AuthToken)}
		},
		text: func(_ *chat.ChannelIntegration, n int, user, text string) []byte {
			return viberfake.TextMessage(viberfake.FirstMessageToken+uint64(n)*1000, user, "Ana", text)
		},
		file: func(h *harness, _ *chat.ChannelIntegration, n int, user string, data []byte) []byte {
			return viberfake.PictureMessage(viberfake.FirstMessageToken+uint64(n)*1000, user, h.vb.CDN("photo-"+strconv.Itoa(n), "image/jpeg", data))
		},
		user:     func(n int) string { return fmt.Sprintf("vUser%04d==", n) },
		sends:    func(h *harness) int { return len(h.vb.Sends()) },
		failNext: func(h *harness) { h.vb.FailHTTP(1, 500) },
	},
	{
		name: "x",
		connect: func(h *harness) chat.ChannelConnect {
			a := h.xf.AddAccount(xfake.Account{})
			return chat.ChannelConnect{ConsumerKey: a.ConsumerKey, ConsumerSecret: a.ConsumerSecret, ClientID: a.ClientID,
				ClientSecret: a.ClientSecret, RefreshToken: a.RefreshToken}
		},
		sign: func(_ *harness, c chat.ChannelConnect, _ *chat.ChannelIntegration, body []byte) map[string]string {
			return map[string]string{xfake.SignatureHeader: xfake.Sign(body, c.ConsumerSecret)}
		},
		text: func(in *chat.ChannelIntegration, n int, user, text string) []byte {
			return xfake.DM(in.AccountID, strconv.FormatUint(xfake.FirstEventID+1000+uint64(n), 10), user, "Ana", text, time.Now())
		},
		user:     func(n int) string { return strconv.Itoa(4400000 + n) },
		sends:    func(h *harness) int { return len(h.xf.Sends()) },
		failNext: func(h *harness) { h.xf.FailNext(1, 503) },
	}, {
		name: "wechat",
		connect: func(h *harness) chat.ChannelConnect {
			appID, secret := "wx"+ids.Secret(16), ids.Secret(32)
			h.wc.AddAccount(appID, secret)
			key := make([]byte, 32)
			rand.Read(key)
			return chat.ChannelConnect{AppID: appID, AppSecret: secret, Token: "tok" + ids.Secret(12),
				EncodingAESKey: strings.TrimSuffix(base64.StdEncoding.EncodeToString(key), "=")}
		},
		seal: func(c chat.ChannelConnect, body []byte) []byte {
			if bytes.Contains(body, []byte("<Encrypt>")) {
				return body
			}
			enc, err := wechatfake.Encrypt(c.EncodingAESKey, c.AppID, body)
			if err != nil {
				panic(err)
			}
			return wechatfake.Envelope(wechatAccount, enc)
		},
		sign: func(_ *harness, c chat.ChannelConnect, _ *chat.ChannelIntegration, body []byte) map[string]string {
			enc := ""
			if m := encryptRE.FindSubmatch(body); m != nil {
				enc = string(m[1])
			}
			ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), wechatfake.Nonce()
			return map[string]string{"?signature": wechatfake.Sign(c.Token, ts, nonce), "?timestamp": ts, "?nonce": nonce,
				"?encrypt_type": "aes", "?msg_signature": wechatfake.Sign(c.Token, ts, nonce, enc)}
		},
		text: func(_ *chat.ChannelIntegration, n int, user, text string) []byte {
			return wechatfake.TextMessage(wechatAccount, user, 24000000000000000+int64(n), text, time.Now())
		},
		file: func(h *harness, _ *chat.ChannelIntegration, n int, user string, data []byte) []byte {
			id := "media-" + strconv.Itoa(n)
			h.wc.AddMedia(id, "image/jpeg", data)
			return wechatfake.ImageMessage(wechatAccount, user, 24000000000000000+int64(n), id, time.Now())
		},
		user:     func(n int) string { return fmt.Sprintf("oUser-%06d", n) },
		sends:    func(h *harness) int { return len(h.wc.Sends()) },
		failNext: func(h *harness) { h.wc.FailHTTP(1, 500) },
	},
}

// wechatAccount is the official account's original id in WeChat's posts.
const wechatAccount = "gh_acme0001"

var encryptRE = regexp.MustCompile(`<Encrypt><!\[CDATA\[([^\]]*)\]\]></Encrypt>|<Encrypt>([^<]*)</Encrypt>`)

func (h *harness) tenant(tb testing.TB) *chat.Tenant {
	tb.Helper()
	return wstest.Tenant(tb, h.st, "Acme")
}

// connect connects a new account of d's channel for the tenant.
func (h *harness) connect(tb testing.TB, t *chat.Tenant, d driver) (chat.ChannelConnect, *chat.ChannelIntegration) {
	tb.Helper()
	c := d.connect(h)
	c2 := c
	c2.WebhookBase = webhookBase
	in, err := h.bridge.Connect(context.Background(), t, d.name, c2)
	if err != nil {
		tb.Fatalf("connect %s: %v", d.name, err)
	}
	return c, in
}

// request is a webhook POST of body to the integration's URL with headers.
func request(ch, webhookID string, body []byte, headers map[string]string) events.APIGatewayV2HTTPRequest {
	path := "/dev/webhooks/" + ch + "/" + webhookID
	hs, query := map[string]string{"content-type": "application/json"}, map[string]string{}
	for k, v := range headers {
		if q, ok := strings.CutPrefix(k, "?"); ok {
			query[q] = v
		} else {
			hs[k] = v
		}
	}
	return events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, Body: string(body), Headers: hs, QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: path}}}
}

func (h *harness) do(tb testing.TB, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	tb.Helper()
	res, err := h.bridge.Handle(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// post posts a correctly signed body and wants 200.
func (h *harness) post(tb testing.TB, d driver, c chat.ChannelConnect, in *chat.ChannelIntegration, body []byte) {
	tb.Helper()
	body = d.sealed(c, body)
	if res := h.do(tb, request(d.name, in.WebhookID, body, d.sign(h, c, in, body))); res.StatusCode != http.StatusOK {
		tb.Fatalf("%s webhook: %d %s", d.name, res.StatusCode, res.Body)
	}
}

func (h *harness) items(tb testing.TB) int32 {
	tb.Helper()
	res, err := h.tt.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &h.tt.Data, Select: types.SelectCount, ConsistentRead: new(true)})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Count
}

// inbound posts the signed body as the provider would, runs the stream and
// returns the first message stored for the tenant: the visitor's message a
// test then replies to.
func (h *harness) inbound(tb testing.TB, d driver, c chat.ChannelConnect, in *chat.ChannelIntegration, body []byte) *chat.Message {
	tb.Helper()
	h.post(tb, d, c, in, body)
	h.pump(tb)
	msgs := h.messages(tb, in.TenantID)
	if len(msgs) == 0 {
		tb.Fatal("no message stored")
	}
	return msgs[0]
}

// messages returns every message of the tenant's conversations, oldest first.
func (h *harness) messages(tb testing.TB, tenantID string) []*chat.Message {
	tb.Helper()
	var out []*chat.Message
	for _, status := range []string{chat.StatusOpen, chat.StatusClosed} {
		cvs, _, err := h.st.ConversationsByStatus(context.Background(), tenantID, status, 1, 100, "")
		if err != nil {
			tb.Fatal(err)
		}
		for _, cv := range cvs {
			msgs, _, err := h.st.History(context.Background(), tenantID, cv.ID, "", 100)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, msgs...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

func (h *harness) message(tb testing.TB, m *chat.Message) *chat.Message {
	tb.Helper()
	for _, got := range h.messages(tb, m.TenantID) {
		if got.ID == m.ID {
			return got
		}
	}
	tb.Fatalf("message %s is gone", m.ID)
	return nil
}

// reply stores an agent's reply in m's conversation, as the admin API does.
func (h *harness) reply(tb testing.TB, m *chat.Message, text string) *chat.Message {
	tb.Helper()
	r, _, err := h.st.PutMessage(context.Background(), &chat.Message{TenantID: m.TenantID, ConversationID: m.ConversationID,
		ContactID: m.ContactID, Author: chat.Author{Kind: chat.AuthorAgent, Name: "Eve"}, Text: text, Channel: m.Channel}, retention.Defaults)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func (h *harness) pump(tb testing.TB) {
	tb.Helper()
	if res := h.Pump(tb); len(res.BatchItemFailures) != 0 {
		tb.Fatalf("dispatch failed records: %+v", res.BatchItemFailures)
	}
}

func parseUint(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }
