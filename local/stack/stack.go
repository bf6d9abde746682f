// Package stack assembles the local stack from template.yaml: a moto server
// with the template's tables, buckets and keys; every function built to its
// real bootstrap and run under the Lambda emulator with the template's
// environment; the gateway (WebSocket and HTTP APIs, static widget pages); the
// stream mappings, schedules and the TTL process.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livesupportbot/backend/local/gateway"
	"github.com/livesupportbot/backend/local/googlefake"
	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/local/streams"
	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/local/viberfake"
	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/local/zendeskfake"
)

// Options configure a stack. Zero values take the defaults shown.
type Options struct {
	RepoRoot string // folder of template.yaml (required)
	HTTPAddr string // "127.0.0.1:8080"
	WSAddr   string // "127.0.0.1:8081"
	// WorkDir holds the built binaries (default: a temporary folder).
	WorkDir string
	// PlatformToken is the PlatformToken parameter (required).
	PlatformToken string
	// ParamEnv, when set, gives template parameters from PARAM_<Name>
	// variables; a parameter without a default or such a value gets a random value.
	ParamEnv func(string) string
	// Env adds or overrides variables of every function.
	Env map[string]string
	// MaxInstances caps concurrent instances of each function (default 4).
	MaxInstances int
	// TTLInterval is the period of the TTL process (default 30s; a sweep
	// deletes the items the table's stream showed to have expired, so its
	// cost does not grow with the table).
	TTLInterval time.Duration
	// Functions limits the stack to these function ids (default: all).
	Functions []string
	// MotoLog receives moto's own output (default: dropped).
	MotoLog io.Writer
	// FakeSlack runs the fake Slack workspace (local/slackfake) and points the
	// Slack parameters and SLACK_API_URL at it, unless PARAM_SlackClientId
	// names a real app.
	FakeSlack bool
	// Verbose passes the emulator's routine lines through to Out.
	Verbose bool
	// Out receives function logs, prefixed by function; Log the stack's own.
	Out io.Writer
	Log *slog.Logger
}

// Stack is a running local stack.
type Stack struct {
	HTTPURL string // http://127.0.0.1:8080
	APIURL  string // HTTPURL + "/{stage}": base of the HTTP API
	WSURL   string // ws://127.0.0.1:8081/{stage}
	// MotoURL is moto's endpoint for the functions and tools: a proxy that
	// hands moto one request at a time.
	MotoURL string
	// Functions are the running functions by logical id.
	Functions map[string]*lambdarunner.Pool
	// Skipped lists functions of the template with no source folder yet.
	Skipped []string
	// VisitorTokenSecret is this run's random secret.
	VisitorTokenSecret string
	AWS                aws.Config
	Tables             map[string]string // logical id -> local name
	// MotoPid is the moto server's process id (for its memory; see MotoRSS).
	MotoPid int
	// MetaGraph is the fake Graph API the Meta senders post to (it takes any
	// account a tenant connects); its Sends show what was sent.
	MetaGraph *metafake.Server
	// Telegram, Line, Viber, WeChat and X are the fake providers of the
	// tenant-credential channels (any bot or account a tenant connects works).
	Telegram *telegramfake.Server
	Line     *linefake.Server
	Viber    *viberfake.Server
	WeChat   *wechatfake.Server
	X        *xfake.Server
	// Zendesk is the fake Zendesk Support of handoffs (any agent's token
	// works); its Webhook posts agents' comments to the stack.
	Zendesk *zendeskfake.Server
	// Google is the fake Google of the Dialogflow bot: its consent page,
	// token endpoint and detectIntent (any client works).
	Google *googlefake.Server
	// Slack is the fake Slack workspace (nil unless Options.FakeSlack).
	Slack *slackfake.Server

	log       *slog.Logger
	ws        *gateway.WebSocketAPI
	stall     *stall
	motoProxy *serialTransport
	ready     chan struct{}
	probes    map[string][]byte  // by function, the readiness probe's event (probeEvents)
	mappings  []*streams.Mapping // the stream mappings, for their lag
	cleanups  []func()           // what each step started, undone backwards by Close
	once      sync.Once
}

// onClose registers how to stop what a step started.
func (s *Stack) onClose(f func()) { s.cleanups = append(s.cleanups, f) }

// Start starts the stack; Close stops it. It runs the steps below in order;
// each registers how to stop what it started, and an error stops everything
// started before it.
func Start(ctx context.Context, o Options) (*Stack, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	st := &starter{o: o, s: &Stack{Functions: map[string]*lambdarunner.Pool{}, Tables: map[string]string{}, log: o.Log, ready: make(chan struct{})}}
	for _, step := range []func(context.Context) error{
		st.readTemplate,
		st.listen,      // ports first: a port in use is the likeliest failure, and the clearest
		st.startBuilds, // in the background, while moto starts
		st.startFakes,
		st.startMoto,
		st.createResources,
		st.resolveTemplate,
		st.createSecrets,
		st.buildFunctions,
		st.startFunctions,
		st.serveGateway,
		st.startEventSources,
		st.watchReadiness,
	} {
		if err := step(ctx); err != nil {
			st.s.Close()
			return nil, err
		}
	}
	return st.s, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.RepoRoot == "" || o.PlatformToken == "" {
		return o, errors.New("stack: RepoRoot and PlatformToken are required")
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:8080"
	}
	if o.WSAddr == "" {
		o.WSAddr = "127.0.0.1:8081"
	}
	if o.MaxInstances == 0 {
		o.MaxInstances = 4
	}
	if o.TTLInterval == 0 {
		o.TTLInterval = 30 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// WebSocket returns the gateway's WebSocket API (nil without one).
func (s *Stack) WebSocket() *gateway.WebSocketAPI { return s.ws }

// Ready returns a channel closed once every function has answered.
func (s *Stack) Ready() <-chan struct{} { return s.ready }

func (s *Stack) healthz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.ready:
		// streamLagMs: each stream mapping's lag (the age of the oldest record
		// read and not yet handled; 0 when it keeps up).
		lag := map[string]int64{}
		for _, m := range s.mappings {
			lag[m.Name] = m.Lag().Milliseconds()
		}
		b, _ := json.Marshal(lag)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","functions":%d,"streamLagMs":%s,"motoRssBytes":%d}`, len(s.Functions), b, s.MotoRSS())
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":"starting"}`)
	}
}

// ColdStarts returns the first INIT REPORT duration of each function the
// start-up probe invoked.
func (s *Stack) ColdStarts() map[string]time.Duration {
	out := map[string]time.Duration{}
	for id, p := range s.Functions {
		if _, probed := s.probes[id]; !probed {
			continue // not started before its first invoke
		}
		if d := p.AwaitInits(1, time.Second); len(d) > 0 {
			out[id] = d[0]
		}
	}
	return out
}

// FunctionIDs returns the running functions, sorted.
func (s *Stack) FunctionIDs() []string {
	var ids []string
	for id := range s.Functions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Close stops everything the stack started, last started first: event
// sources, the gateway (every connection gets its $disconnect), the
// functions, the proxy and moto.
func (s *Stack) Close() error {
	s.once.Do(func() {
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			s.cleanups[i]()
		}
	})
	return nil
}

func missingFunction(id string) gateway.Invoker {
	return gateway.InvokerFunc(func(context.Context, []byte) ([]byte, error) {
		return nil, fmt.Errorf("function %s is not running locally", id)
	})
}

// MotoLoad is, by operation, how many requests moto has served and how
// long they took (moto serves one at a time, so this is where its time went).
func (s *Stack) MotoLoad() map[string]OpLoad { return s.motoProxy.snapshot() }

// MotoRSS is moto's resident memory in bytes (0 where /proc is not readable).
func (s *Stack) MotoRSS() int64 { return moto.RSS(s.MotoPid) }
