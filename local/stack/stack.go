// Package stack assembles the local stack from template.yaml: a moto server
// with the template's tables, buckets and keys; every function built to its
// real bootstrap and run under the Lambda emulator with the template's
// environment; the gateway (WebSocket and HTTP APIs, static widget pages); the
// stream mappings, schedules and the TTL process.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/gateway"
	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/local/ttl"
	"github.com/livesupportbot/backend/shared/cfntemplate"
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
	// TTLInterval is the period of the TTL process (default 30s).
	TTLInterval time.Duration
	// Functions limits the stack to these function ids (default: all).
	Functions []string
	// MotoLog receives moto's own output (default: dropped).
	MotoLog io.Writer
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

	log       *slog.Logger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	servers   []*http.Server
	ws        *gateway.WebSocketAPI
	moto      *exec.Cmd
	stopProxy func()
	stall     *stall
	ready     chan struct{}
	once      sync.Once
}

// Start starts the stack; Close stops it. On error everything started is stopped.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.RepoRoot == "" || o.PlatformToken == "" {
		return nil, errors.New("stack: RepoRoot and PlatformToken are required")
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
	runCtx, cancel := context.WithCancel(context.Background())
	s = &Stack{Functions: map[string]*lambdarunner.Pool{}, Tables: map[string]string{}, log: o.Log, cancel: cancel, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()

	tplPath := filepath.Join(o.RepoRoot, "template.yaml")
	tpl, err := cfntemplate.Load(tplPath)
	if err != nil {
		return s, err
	}
	fns, err := cfntemplate.LoadFunctions(tplPath)
	if err != nil {
		return s, err
	}

	// Ports first: a port in use is the likeliest failure, and the clearest.
	httpL, err := gateway.Listen("HTTP_PORT", o.HTTPAddr)
	if err != nil {
		return s, err
	}
	wsL, err := gateway.Listen("WS_PORT", o.WSAddr)
	if err != nil {
		httpL.Close()
		return s, err
	}
	s.HTTPURL = "http://" + httpL.Addr().String()
	wsHost := wsL.Addr().String()

	if err := s.startMoto(ctx, o.MotoLog); err != nil {
		httpL.Close()
		wsL.Close()
		return s, err
	}
	s.AWS, err = config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(s.MotoURL))
	if err != nil {
		return s, fmt.Errorf("aws config: %w", err)
	}

	res, err := createResources(ctx, s.AWS, tpl)
	if err != nil {
		httpL.Close()
		wsL.Close()
		return s, err
	}
	for id, name := range res.tables {
		s.Tables[id] = name
	}

	secret := make([]byte, 32)
	rand.Read(secret)
	s.VisitorTokenSecret = hex.EncodeToString(secret)
	params := parameters(tpl, o.ParamEnv, nil, o.Log)

	wsAPIs, err := tpl.WebSocketAPIs()
	if err != nil {
		return s, err
	}
	httpAPIs, err := tpl.HTTPAPIs()
	if err != nil {
		return s, err
	}
	r := &resolver{params: params, res: res, tpl: tpl,
		httpBase: s.HTTPURL, wsHost: wsHost, apis: map[string]string{}}
	for _, a := range httpAPIs {
		r.apis[a.ID] = "http"
	}
	for _, a := range wsAPIs {
		r.apis[a.ID] = "ws"
	}
	wsStage, httpStage := "dev", "dev"
	if len(wsAPIs) > 0 {
		if v, ok := tpl.StageOf(wsAPIs[0].ID); ok {
			if wsStage, err = v.Resolve(r.ref); err != nil {
				return s, err
			}
		}
	}
	if len(httpAPIs) > 0 {
		if httpStage, err = httpAPIs[0].Stage.Resolve(r.ref); err != nil {
			return s, err
		}
	}
	s.APIURL = s.HTTPURL + "/" + httpStage
	if _, ok := tpl.Parameters["PublicApiUrl"]; ok && (o.ParamEnv == nil || o.ParamEnv("PARAM_PublicApiUrl") == "") {
		params["PublicApiUrl"] = s.APIURL // the gateway's own URL (http, with the stage)
	}
	// The stack's secrets, in moto's Secrets Manager: the platform token and the
	// visitor-token key are this run's; the rest as the template makes them.
	if err := createSecrets(ctx, s.AWS, r, map[string]string{
		"PlatformTokenSecret": o.PlatformToken, "VisitorTokenKeySecret": s.VisitorTokenSecret}); err != nil {
		return s, err
	}
	s.WSURL = "ws://" + wsHost + "/" + wsStage
	mgmt := "http://" + wsHost + "/" + wsStage

	// Build the emulator and every function.
	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "localstack"); err != nil {
			return s, err
		}
	}
	rie := filepath.Join(work, "aws-lambda-rie")
	o.Log.Info("building the Lambda emulator")
	if err := lambdarunner.BuildRIE(ctx, o.RepoRoot, rie); err != nil {
		return s, err
	}
	selected := map[string]bool{}
	for _, id := range o.Functions {
		selected[id] = true
	}
	for _, f := range fns {
		if len(selected) > 0 && !selected[f.ID] {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.RepoRoot, f.Dir(), "main.go")); err != nil {
			s.Skipped = append(s.Skipped, f.ID)
			o.Log.Warn("function has no source yet, not started", "function", f.ID, "folder", f.Dir())
			continue
		}
		env, err := r.env(f)
		if err != nil {
			return s, fmt.Errorf("function %s: %w", f.ID, err)
		}
		env = append(env,
			"AWS_ENDPOINT_URL="+s.MotoURL,
			"AWS_ENDPOINT_URL_LAMBDA="+s.HTTPURL,
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
			"WS_MANAGEMENT_ENDPOINT="+mgmt,
			"AWS_LAMBDA_LOG_FORMAT=JSON",
		)
		for k, v := range o.Env {
			env = append(env, k+"="+v)
		}
		bin := filepath.Join(work, f.ID, "bootstrap")
		o.Log.Info("building function", "function", f.ID)
		if err := lambdarunner.BuildBootstrap(ctx, o.RepoRoot, "./"+f.Dir(), bin); err != nil {
			return s, err
		}
		s.Functions[f.ID] = lambdarunner.NewPool(lambdarunner.Spec{Name: f.ID, Bootstrap: bin, RIE: rie, Env: env,
			Timeout: f.Timeout, MemorySize: f.MemorySize, MaxInstances: o.MaxInstances, Log: o.Out, Verbose: o.Verbose})
	}
	for id, p := range s.Functions {
		if err := p.Start(ctx); err != nil {
			return s, fmt.Errorf("start %s: %w", id, err)
		}
	}

	// The gateway.
	invoker := func(id string) gateway.Invoker {
		if p, ok := s.Functions[id]; ok {
			return p
		}
		return missingFunction(id)
	}
	httpMux := http.NewServeMux()
	wsMux := http.NewServeMux()
	if len(wsAPIs) > 0 {
		a := wsAPIs[0]
		routes := map[string]gateway.WSRoute{}
		for key, rt := range a.Routes {
			wr := gateway.WSRoute{Function: invoker(rt.Function), IdentitySource: rt.IdentitySource}
			if rt.Authorizer != "" {
				wr.Authorizer = invoker(rt.Authorizer)
			}
			routes[key] = wr
		}
		s.ws, err = gateway.NewWebSocketAPI(gateway.WSConfig{APIID: strings.ToLower(a.ID), Stage: wsStage,
			RouteSelection: a.RouteSelectionExpression, Routes: routes, Log: o.Log.With("api", a.ID)})
		if err != nil {
			return s, err
		}
		wsMux.Handle("/", s.ws)
	}
	var httpRoutes []gateway.HTTPRoute
	for _, f := range fns {
		for _, ev := range f.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			var p struct{ Path, Method string }
			cfntemplate.Decode(ev.Properties, &p)
			if p.Path == "" || p.Method == "" {
				return s, fmt.Errorf("function %s event %s: an HttpApi event needs Path and Method", f.ID, ev.Name)
			}
			httpRoutes = append(httpRoutes, gateway.HTTPRoute{Method: strings.ToUpper(p.Method), Path: p.Path, Function: invoker(f.ID)})
		}
	}
	var cors *gateway.Cors
	if len(httpAPIs) > 0 && httpAPIs[0].Cors != nil {
		c := gateway.Cors(*httpAPIs[0].Cors)
		cors = &c
	}
	httpAPI := gateway.NewHTTPAPI(gateway.HTTPConfig{APIID: "httpapi", Stage: httpStage, Routes: httpRoutes, Cors: cors, Log: o.Log.With("api", "HttpApi")})
	httpMux.Handle("/"+httpStage+"/", httpAPI)
	httpMux.HandleFunc("GET /healthz", s.healthz)
	httpMux.Handle("POST /2015-03-31/functions/{name}/invocations", lambdaAPI{s: s})
	httpMux.Handle("/", http.FileServer(http.Dir(filepath.Join(o.RepoRoot, "widget"))))
	for _, srv := range []struct {
		l net.Listener
		h http.Handler
	}{{httpL, httpMux}, {wsL, wsMux}} {
		hs := &http.Server{Handler: srv.h, ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, hs)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := hs.Serve(srv.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.Log.Error("server stopped", "error", err)
			}
		}()
	}

	// Event sources.
	streamsClient := dynamodbstreams.NewFromConfig(s.AWS)
	ledger := ttl.NewLedger()
	for _, f := range fns {
		p, ok := s.Functions[f.ID]
		if !ok {
			continue
		}
		for _, ev := range f.Events {
			switch ev.Type {
			case "DynamoDB":
				m, err := mapping(f.ID, ev, p, r, ledger, o.Log)
				if err != nil {
					return s, err
				}
				if m == nil {
					continue
				}
				s.wg.Add(1)
				go func() { defer s.wg.Done(); m.Run(runCtx, streamsClient) }()
			case "Schedule", "ScheduleV2":
				sc, err := schedule(f.ID, ev, p, o.Log)
				if err != nil {
					return s, err
				}
				if sc == nil {
					continue
				}
				s.wg.Add(1)
				go func() { defer s.wg.Done(); sc.Run(runCtx) }()
			case "HttpApi":
			default:
				o.Log.Warn("event source not played locally", "function", f.ID, "event", ev.Name, "type", ev.Type)
			}
		}
	}
	var ttlTables []ttl.Table
	for id, name := range res.tables {
		if attr := tpl.TTLAttribute(id); attr != "" {
			in, _ := tpl.TableInput(id, name)
			var keys []string
			for _, k := range in.KeySchema {
				keys = append(keys, aws.ToString(k.AttributeName))
			}
			ttlTables = append(ttlTables, ttl.Table{Name: name, Attribute: attr, KeyNames: keys})
		}
	}
	if len(ttlTables) > 0 {
		proc := &ttl.Process{DB: dynamodb.NewFromConfig(s.AWS), Tables: ttlTables, Ledger: ledger, Log: o.Log.With("process", "ttl")}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); proc.Run(runCtx, o.TTLInterval) }()
	}

	// Ready once every function answered an invocation (this is also each
	// function's cold start).
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var wg sync.WaitGroup
		for id, p := range s.Functions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for runCtx.Err() == nil {
					_, err := p.Invoke(runCtx, []byte(`{}`))
					var fe *lambdarunner.FunctionError
					if err == nil || errors.As(err, &fe) {
						return
					}
					o.Log.Warn("function not answering yet", "function", id, "error", err)
					time.Sleep(500 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		if runCtx.Err() == nil {
			close(s.ready)
		}
	}()
	return s, nil
}

// WebSocket returns the gateway's WebSocket API (nil without one).
func (s *Stack) WebSocket() *gateway.WebSocketAPI { return s.ws }

// parameters gives each template parameter its local value: the stack's own
// (fixed), else PARAM_<Name> from env, else its default, else (a deployment
// secret or setting) a random value.
func parameters(tpl *cfntemplate.Template, env func(string) string, fixed map[string]string, log *slog.Logger) map[string]string {
	params := map[string]string{}
	for name, p := range tpl.Parameters {
		v := fixed[name]
		if v == "" && env != nil {
			v = env("PARAM_" + name)
		}
		switch {
		case v != "":
			params[name] = v
		case p.Default != nil:
			params[name] = fmt.Sprint(p.Default)
		default:
			b := make([]byte, 24)
			rand.Read(b)
			params[name] = hex.EncodeToString(b)
			log.Info("parameter has no default: using a random local value", "parameter", name, "override", "PARAM_"+name)
		}
	}
	return params
}

// Ready returns a channel closed once every function has answered.
func (s *Stack) Ready() <-chan struct{} { return s.ready }

func (s *Stack) healthz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.ready:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","functions":%d}`, len(s.Functions))
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":"starting"}`)
	}
}

// ColdStarts returns each function's first INIT REPORT duration.
func (s *Stack) ColdStarts() map[string]time.Duration {
	out := map[string]time.Duration{}
	for id, p := range s.Functions {
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

// Close stops the servers, every function and moto.
func (s *Stack) Close() error {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		if s.ws != nil {
			s.ws.Close()
		}
		for _, hs := range s.servers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			hs.Shutdown(ctx)
			cancel()
		}
		s.wg.Wait()
		var wg sync.WaitGroup
		for _, p := range s.Functions {
			wg.Add(1)
			go func() { defer wg.Done(); p.Stop() }()
		}
		wg.Wait()
		if s.stopProxy != nil {
			s.stopProxy()
		}
		if s.moto != nil && s.moto.Process != nil {
			syscall.Kill(-s.moto.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { s.moto.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				syscall.Kill(-s.moto.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
	})
	return nil
}

func missingFunction(id string) gateway.Invoker {
	return gateway.InvokerFunc(func(context.Context, []byte) ([]byte, error) {
		return nil, fmt.Errorf("function %s is not running locally", id)
	})
}
