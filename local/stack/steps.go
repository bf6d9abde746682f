package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/gateway"
	"github.com/livesupportbot/backend/local/googlefake"
	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/local/streams"
	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/local/ttl"
	"github.com/livesupportbot/backend/local/viberfake"
	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/local/zendeskfake"
)

// starter carries what one step of Start hands to the next.
type starter struct {
	o                  Options
	s                  *Stack
	tpl                *cfntemplate.Template
	fns                []cfntemplate.Function
	httpL, wsL         net.Listener
	wsHost             string
	res                *moto.Resources
	r                  *resolver
	wsAPIs             []cfntemplate.WebSocketAPI
	httpAPIs           []cfntemplate.HTTPAPI
	wsStage, httpStage string
	work, rie          string
	builds             *builds
}

func (st *starter) readTemplate(context.Context) error {
	path := filepath.Join(st.o.RepoRoot, "template.yaml")
	var err error
	if st.tpl, err = cfntemplate.Load(path); err != nil {
		return err
	}
	st.fns, err = cfntemplate.LoadFunctions(path)
	return err
}

// listen takes the HTTP and WebSocket ports.
func (st *starter) listen(context.Context) error {
	var err error
	if st.httpL, err = gateway.Listen("HTTP_PORT", st.o.HTTPAddr); err != nil {
		return err
	}
	st.s.onClose(func() { st.httpL.Close() })
	if st.wsL, err = gateway.Listen("WS_PORT", st.o.WSAddr); err != nil {
		return err
	}
	st.s.onClose(func() { st.wsL.Close() })
	st.s.HTTPURL = "http://" + st.httpL.Addr().String()
	st.wsHost = st.wsL.Addr().String()
	return nil
}

// The Google OAuth client of the local stack (the fake takes any).
const (
	LocalGoogleClientID     = "local-client.apps.googleusercontent.com"
	LocalGoogleClientSecret = "GOCSPX-local-secret"
)

// startFakes starts the providers the stack cannot reach, each on a free
// local port: a fake Graph API for the Meta channels, fake Telegram, LINE,
// Viber, WeChat and X APIs, a fake Zendesk and a fake Google (OAuth and
// Dialogflow). The functions call them (META_GRAPH_URL, TELEGRAM_API_URL,
// LINE_API_URL, LINE_DATA_URL, VIBER_API_URL, WECHAT_API_URL, X_API_URL,
// ZENDESK_API_URL, GOOGLE_CONSENT_URL, GOOGLE_EXCHANGE_URL,
// DIALOGFLOW_API_URL); the Google client is LocalGoogleClientID, and the Meta app's secret and verify token are the local
// ones (metafake.LocalAppSecret) unless PARAM_MetaAppSecret and
// PARAM_MetaVerifyToken say otherwise, so webhooks signed by
// local/cmd/metasign are taken. With Options.FakeSlack (and no
// PARAM_SlackClientId of a real app) a fake Slack workspace runs too, and the
// three Slack parameters and SLACK_API_URL point at it.
func (st *starter) startFakes(context.Context) error {
	var err error
	s := st.s
	s.MetaGraph = startFake(st, &err, metafake.Start, (*metafake.Server).AcceptAnyAccount)
	s.Telegram = startFake(st, &err, telegramfake.Start, (*telegramfake.Server).AcceptAnyBot)
	s.Line = startFake(st, &err, linefake.Start, (*linefake.Server).AcceptAnyChannel)
	s.Viber = startFake(st, &err, viberfake.Start, (*viberfake.Server).AcceptAnyAccount)
	s.WeChat = startFake(st, &err, wechatfake.Start, (*wechatfake.Server).AcceptAnyAccount)
	s.X = startFake(st, &err, xfake.Start, (*xfake.Server).AcceptAnyAccount)
	s.Zendesk = startFake(st, &err, zendeskfake.Start, (*zendeskfake.Server).AcceptAnyAgent)
	s.Google = startFake(st, &err, googlefake.Start, (*googlefake.Server).AcceptAnyClient)
	if st.o.FakeSlack && (st.o.ParamEnv == nil || st.o.ParamEnv("PARAM_SlackClientId") == "") {
		s.Slack = startFake(st, &err, slackfake.Start, func(*slackfake.Server) {})
	}
	if err != nil {
		return err
	}
	env := map[string]string{"META_GRAPH_URL": s.MetaGraph.URL(), "TELEGRAM_API_URL": s.Telegram.URL(),
		"LINE_API_URL": s.Line.URL(), "LINE_DATA_URL": s.Line.URL(), "VIBER_API_URL": s.Viber.URL(),
		"WECHAT_API_URL": s.WeChat.URL(), "X_API_URL": s.X.URL(), "ZENDESK_API_URL": s.Zendesk.URL(),
		"GOOGLE_CONSENT_URL": s.Google.AuthURL(), "GOOGLE_EXCHANGE_URL": s.Google.TokenURL(), "DIALOGFLOW_API_URL": s.Google.URL()}
	if s.Slack != nil {
		env["SLACK_API_URL"] = s.Slack.APIURL()
		env["SLACK_AUTHORIZE_URL"] = s.Slack.AuthorizeURL()
	}
	for k, v := range st.o.Env {
		env[k] = v
	}
	st.o.Env = env
	params, defaults := st.o.ParamEnv, map[string]string{
		"PARAM_MetaAppSecret": metafake.LocalAppSecret, "PARAM_MetaVerifyToken": metafake.LocalVerifyToken,
		"PARAM_GoogleClientId": LocalGoogleClientID, "PARAM_GoogleClientSecret": LocalGoogleClientSecret}
	if s.Slack != nil { // the fake workspace's app (the defaults leave Slack off)
		defaults["PARAM_SlackClientId"], defaults["PARAM_SlackClientSecret"] = s.Slack.ClientID, s.Slack.ClientSecret
		defaults["PARAM_SlackSigningSecret"] = slackfake.LocalSigningSecret
	}
	st.o.ParamEnv = func(k string) string {
		if params != nil {
			if v := params(k); v != "" {
				return v
			}
		}
		return defaults[k]
	}
	return nil
}

// startMoto starts moto behind the proxy that serves it one request at a time.
func (st *starter) startMoto(ctx context.Context) error {
	st.o.Log.Info("starting moto")
	srv, err := moto.Start(ctx, st.o.MotoLog)
	if err != nil {
		return err
	}
	st.s.onClose(func() { srv.Close() })
	st.s.MotoPid = srv.Pid()
	st.o.Log.Info("started moto", "url", srv.URL, "pid", srv.Pid())
	url, stop, stall, proxy, err := serialProxy(srv.URL, func(op string, d time.Duration) {
		st.o.Log.Warn("slow moto request", "op", op, "duration", d.Round(time.Millisecond))
	})
	if err != nil {
		return err
	}
	st.s.onClose(stop)
	st.s.MotoURL, st.s.stall, st.s.motoProxy = url, stall, proxy
	st.s.AWS, err = moto.Config(ctx, st.s.MotoURL)
	return err
}

// createResources creates the template's tables, buckets and keys in moto.
func (st *starter) createResources(ctx context.Context) error {
	var err error
	if st.res, err = moto.CreateResources(ctx, st.s.AWS, st.tpl); err != nil {
		return err
	}
	for id, t := range st.res.Tables {
		st.s.Tables[id] = t.Name
	}
	return nil
}

// resolveTemplate gives parameters, APIs and stages their local values.
func (st *starter) resolveTemplate(context.Context) error {
	o, tpl, s := st.o, st.tpl, st.s
	params := parameters(tpl, o.ParamEnv, nil, o.Log)
	var err error
	if st.wsAPIs, err = tpl.WebSocketAPIs(); err != nil {
		return err
	}
	if st.httpAPIs, err = tpl.HTTPAPIs(); err != nil {
		return err
	}
	r := &resolver{params: params, res: st.res, tpl: tpl, httpBase: s.HTTPURL, wsHost: st.wsHost, apis: map[string]string{}}
	for _, a := range st.httpAPIs {
		r.apis[a.ID] = "http"
	}
	for _, a := range st.wsAPIs {
		r.apis[a.ID] = "ws"
	}
	st.wsStage, st.httpStage = "dev", "dev"
	if len(st.wsAPIs) > 0 {
		if v, ok := tpl.StageOf(st.wsAPIs[0].ID); ok {
			if st.wsStage, err = v.Resolve(r.ref); err != nil {
				return err
			}
		}
	}
	if len(st.httpAPIs) > 0 {
		if st.httpStage, err = st.httpAPIs[0].Stage.Resolve(r.ref); err != nil {
			return err
		}
	}
	s.APIURL = s.HTTPURL + "/" + st.httpStage
	s.WSURL = "ws://" + st.wsHost + "/" + st.wsStage
	if _, ok := tpl.Parameters["PublicApiUrl"]; ok && (o.ParamEnv == nil || o.ParamEnv("PARAM_PublicApiUrl") == "") {
		params["PublicApiUrl"] = s.APIURL // the gateway's own URL (http, with the stage)
	}
	st.r = r
	return nil
}

// createSecrets creates the stack's secrets in moto's Secrets Manager: the
// platform token and the visitor-token key are this run's; the rest as the
// template makes them.
func (st *starter) createSecrets(ctx context.Context) error {
	secret := make([]byte, 32)
	rand.Read(secret)
	st.s.VisitorTokenSecret = hex.EncodeToString(secret)
	return createSecrets(ctx, st.s.AWS, st.r, map[string]string{
		"PlatformTokenSecret": st.o.PlatformToken, "VisitorTokenKeySecret": st.s.VisitorTokenSecret})
}

// buildFunctions waits for the builds and gives every built function its
// environment from the template.
func (st *starter) buildFunctions(ctx context.Context) error {
	o, s := st.o, st.s
	if err := st.builds.wait(ctx); err != nil {
		return err
	}
	mgmt := "http://" + st.wsHost + "/" + st.wsStage
	for _, f := range st.fns {
		bin, ok := st.builds.bins[f.ID]
		if !ok {
			continue
		}
		env, err := st.r.env(f)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.ID, err)
		}
		env = append(env,
			"AWS_ENDPOINT_URL="+s.MotoURL,
			"AWS_ENDPOINT_URL_LAMBDA="+s.HTTPURL,
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_REGION="+moto.Region, "AWS_DEFAULT_REGION="+moto.Region,
			"WS_MANAGEMENT_ENDPOINT="+mgmt,
			"AWS_LAMBDA_LOG_FORMAT=JSON",
		)
		for k, v := range o.Env {
			env = append(env, k+"="+v)
		}
		s.Functions[f.ID] = lambdarunner.NewPool(lambdarunner.Spec{Name: f.ID, Bootstrap: bin, RIE: st.rie, Env: env,
			Timeout: f.Timeout, MemorySize: f.MemorySize, MaxInstances: o.MaxInstances, Log: o.Out, Verbose: o.Verbose})
	}
	return nil
}

// startFunctions starts one instance of every function.
func (st *starter) startFunctions(ctx context.Context) error {
	st.s.onClose(func() {
		var wg sync.WaitGroup
		for _, p := range st.s.Functions {
			wg.Add(1)
			go func() { defer wg.Done(); p.Stop() }()
		}
		wg.Wait()
	})
	st.o.Log.Info("starting functions", "count", len(st.s.Functions))
	errs := make(chan error, len(st.s.Functions))
	for id, p := range st.s.Functions {
		go func() {
			if err := p.Start(ctx); err != nil {
				errs <- fmt.Errorf("start %s: %w", id, err)
				return
			}
			errs <- nil
		}()
	}
	var first error
	for range st.s.Functions {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// serveGateway serves the WebSocket API on the WS port, and the HTTP API,
// health, the Lambda Invoke API and the widget's pages on the HTTP port.
func (st *starter) serveGateway(context.Context) error {
	o, s := st.o, st.s
	invoker := func(id string) gateway.Invoker {
		if p, ok := s.Functions[id]; ok {
			return p
		}
		return missingFunction(id)
	}
	wsMux := http.NewServeMux()
	if len(st.wsAPIs) > 0 {
		a := st.wsAPIs[0]
		routes := map[string]gateway.WSRoute{}
		for key, rt := range a.Routes {
			wr := gateway.WSRoute{Function: invoker(rt.Function), IdentitySource: rt.IdentitySource}
			if rt.Authorizer != "" {
				wr.Authorizer = invoker(rt.Authorizer)
			}
			routes[key] = wr
		}
		ws, err := gateway.NewWebSocketAPI(gateway.WSConfig{APIID: strings.ToLower(a.ID), Stage: st.wsStage,
			RouteSelection: a.RouteSelectionExpression, Routes: routes, Log: o.Log.With("api", a.ID)})
		if err != nil {
			return err
		}
		s.ws = ws
		wsMux.Handle("/", ws)
	}
	var httpRoutes []gateway.HTTPRoute
	for _, f := range st.fns {
		for _, ev := range f.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			var p struct{ Path, Method string }
			cfntemplate.Decode(ev.Properties, &p)
			if p.Path == "" || p.Method == "" {
				return fmt.Errorf("function %s event %s: an HttpApi event needs Path and Method", f.ID, ev.Name)
			}
			httpRoutes = append(httpRoutes, gateway.HTTPRoute{Method: strings.ToUpper(p.Method), Path: p.Path, Function: invoker(f.ID)})
		}
	}
	var cors *gateway.Cors
	if len(st.httpAPIs) > 0 && st.httpAPIs[0].Cors != nil {
		c := gateway.Cors(*st.httpAPIs[0].Cors)
		cors = &c
	}
	if s.Slack != nil {
		s.Slack.SetEventsURL(s.APIURL + "/webhooks/slack/events")
	}
	httpMux := http.NewServeMux()
	httpAPI := gateway.NewHTTPAPI(gateway.HTTPConfig{APIID: "httpapi", Stage: st.httpStage, Routes: httpRoutes, Cors: cors, Log: o.Log.With("api", "HttpApi")})
	httpMux.Handle("/"+st.httpStage+"/", httpAPI)
	httpMux.HandleFunc("GET /healthz", s.healthz)
	httpMux.Handle("POST /2015-03-31/functions/{name}/invocations", lambdaAPI{s: s})
	httpMux.Handle("/", http.FileServer(http.Dir(filepath.Join(o.RepoRoot, "widget"))))

	var servers []*http.Server
	var wg sync.WaitGroup
	s.onClose(func() {
		if s.ws != nil {
			s.ws.Close()
		}
		for _, hs := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			hs.Shutdown(ctx)
			cancel()
		}
		wg.Wait()
	})
	for _, srv := range []struct {
		l net.Listener
		h http.Handler
	}{{st.httpL, httpMux}, {st.wsL, wsMux}} {
		hs := &http.Server{Handler: srv.h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, hs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Serve(srv.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.Log.Error("server stopped", "error", err)
			}
		}()
	}
	return nil
}

// startEventSources runs the functions' stream mappings and schedules, and
// the TTL process.
func (st *starter) startEventSources(context.Context) error {
	o, s := st.o, st.s
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s.onClose(func() { cancel(); wg.Wait() })
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(runCtx) }()
	}
	streamsClient := dynamodbstreams.NewFromConfig(s.AWS)
	ledger := ttl.NewLedger()
	for _, f := range st.fns {
		p, ok := s.Functions[f.ID]
		if !ok {
			continue
		}
		for _, ev := range f.Events {
			switch ev.Type {
			case "DynamoDB":
				m, err := mapping(f.ID, ev, p, st.r, ledger, o.Log)
				if err != nil {
					return err
				}
				if m != nil {
					s.mappings = append(s.mappings, m)
					run(func(ctx context.Context) { m.Run(ctx, streamsClient) })
				}
			case "Schedule", "ScheduleV2":
				sc, err := schedule(f.ID, ev, p, o.Log)
				if err != nil {
					return err
				}
				if sc != nil {
					run(sc.Run)
				}
			case "HttpApi":
			default:
				o.Log.Warn("event source not played locally", "function", f.ID, "event", ev.Name, "type", ev.Type)
			}
		}
	}
	proc := &ttl.Process{DB: dynamodb.NewFromConfig(s.AWS), Ledger: ledger, Log: o.Log.With("process", "ttl")}
	for _, t := range st.res.Tables {
		if t.TTLAttribute == "" {
			continue
		}
		// A stream with new images tells the process what expires when, so a
		// sweep costs the expired items only (a Scan's cost grows with the table).
		streamed := t.StreamViewType == "NEW_IMAGE" || t.StreamViewType == "NEW_AND_OLD_IMAGES"
		proc.Tables = append(proc.Tables, ttl.Table{Name: t.Name, Attribute: t.TTLAttribute, KeyNames: t.KeyNames, Streamed: streamed})
		if streamed {
			m := &streams.Mapping{Name: "ttl/" + t.Name, StreamArn: t.StreamArn, Function: proc, BatchSize: 1000,
				StartingPosition: "TRIM_HORIZON", MaximumRetryAttempts: -1, PollInterval: 500 * time.Millisecond, Log: o.Log.With("process", "ttl")}
			s.mappings = append(s.mappings, m)
			run(func(ctx context.Context) { m.Run(ctx, streamsClient) })
		}
	}
	if len(proc.Tables) > 0 {
		run(func(ctx context.Context) { proc.Run(ctx, o.TTLInterval) })
	}
	return nil
}

// watchReadiness closes Ready once every function with an event source
// answered an invocation (this is also its cold start). Each gets a probe of
// its own kind (see probeEvents); a function only other functions invoke
// is not probed.
func (st *starter) watchReadiness(context.Context) error {
	s := st.s
	s.probes = probeEvents(st.fns, st.wsAPIs)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.onClose(func() { cancel(); <-done })
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for id, p := range s.Functions {
			probe, ok := s.probes[id]
			if !ok {
				continue // invoked by other functions only: its first invoke starts it
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for runCtx.Err() == nil {
					_, err := p.Invoke(runCtx, probe)
					var fe *lambdarunner.FunctionError
					if err == nil || errors.As(err, &fe) {
						return
					}
					st.o.Log.Warn("function not answering yet", "function", id, "error", err)
					time.Sleep(500 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		if runCtx.Err() == nil {
			close(s.ready)
		}
	}()
	return nil
}

// startFake starts a provider's fake on a free local port, taking any
// credentials, and stops it with the stack; after a failure (*err set) it
// starts nothing.
func startFake[T interface{ Close() }](st *starter, err *error, start func(addr string) (T, error), acceptAny func(T)) T {
	var zero T
	if *err != nil {
		return zero
	}
	f, e := start("127.0.0.1:0")
	if e != nil {
		*err = e
		return zero
	}
	acceptAny(f)
	st.s.onClose(f.Close)
	return f
}
