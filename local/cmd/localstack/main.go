// Command localstack runs the whole LiveSupportBot suite on this machine with
// no Docker and no AWS account: moto for DynamoDB, Streams, S3 and KMS, every
// function's real bootstrap under the Lambda emulator, and a gateway playing
// API Gateway, the stream mappings, schedules and TTL, all from template.yaml.
//
// Environment: HTTP_PORT (8080), WS_PORT (8081), PLATFORM_TOKEN (a printed
// local default), LOCAL_MAX_INSTANCES (4), LOCAL_TTL_INTERVAL (30s),
// LOCAL_VERBOSE (set: show the emulator's routine log lines too), PARAM_<Name>
// (a template parameter; those without a default get a random local value),
// LOCAL_SLACK=off (no fake Slack), LOCALSTACK_CACHE (where builds are kept,
// default <user cache dir>/livesupportbot/localstack), LOCALSTACK_STARTED
// (unix time `make run` began, for the "ready in" figure).
//
// State (tenants, keys, conversations) lives in moto's memory: it is lost
// when the stack stops, and the banner says so.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/stack"
)

// DefaultPlatformToken is the local platform operator token when
// PLATFORM_TOKEN is not set. It is printed at start; it is for this machine only.
const DefaultPlatformToken = "local-platform-token-0123456789abcdef"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopWithParent()
	watchMake(ctx, stop, 200*time.Millisecond)
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		os.Exit(1)
	}
}

// stopWithParent asks Linux for a SIGTERM when the parent (make) dies, so a
// killed `make run` still stops the stack and everything it started.
func stopWithParent() {
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	tpl, err := cfntemplate.Find(wd)
	if err != nil {
		return err
	}
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	token := env("PLATFORM_TOKEN", DefaultPlatformToken)
	if len(token) < 32 {
		return fmt.Errorf("PLATFORM_TOKEN must be at least 32 characters (the template's MinLength)")
	}
	maxInst, err := strconv.Atoi(env("LOCAL_MAX_INSTANCES", "4"))
	if err != nil || maxInst < 1 {
		return fmt.Errorf("LOCAL_MAX_INSTANCES must be a positive integer")
	}
	ttlEvery, err := time.ParseDuration(env("LOCAL_TTL_INTERVAL", "30s"))
	if err != nil || ttlEvery <= 0 {
		return fmt.Errorf("LOCAL_TTL_INTERVAL must be a duration such as 30s")
	}
	for _, k := range []string{"HTTP_PORT", "WS_PORT"} {
		if v := getenv(k); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%s must be a port number, not %q", k, v)
			}
		}
	}
	t0 := startedAt(getenv, time.Now())
	cache, err := cacheDir(getenv)
	if err != nil {
		return err
	}
	// go build's own scratch goes under the cache too: a build cut short by
	// Ctrl-C leaves nothing in the system's temporary folder.
	if err := os.MkdirAll(filepath.Join(cache, "gotmp"), 0o755); err != nil {
		return err
	}
	gotmp, err := os.MkdirTemp(filepath.Join(cache, "gotmp"), "run")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gotmp)
	defer setenv("GOTMPDIR", gotmp)()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := stack.Start(ctx, stack.Options{
		WorkDir:       filepath.Join(cache, "build"),
		FakeSlack:     getenv("LOCAL_SLACK") != "off",
		RepoRoot:      dirOf(tpl),
		HTTPAddr:      "127.0.0.1:" + env("HTTP_PORT", "8080"),
		WSAddr:        "127.0.0.1:" + env("WS_PORT", "8081"),
		PlatformToken: token,
		ParamEnv:      getenv,
		MaxInstances:  maxInst,
		TTLInterval:   ttlEvery,
		Verbose:       getenv("LOCAL_VERBOSE") != "",
		Out:           stdout,
		Log:           log,
	})
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(stdout, "stopped while starting")
		return nil // Ctrl-C during the start: everything started is stopped
	}
	if err != nil {
		return err
	}
	defer s.Close()
	select {
	case <-s.Ready():
	case <-ctx.Done():
		return nil
	}
	fmt.Fprintf(stdout, "\nLiveSupportBot local stack is up (Ctrl-C stops it), ready in %.1f s\n", time.Since(t0).Seconds())
	fmt.Fprintf(stdout, "  state:          in memory only: every tenant, key and conversation is lost when the stack stops\n")
	fmt.Fprintf(stdout, "  demo page:      %s/demo.html\n", s.HTTPURL)
	fmt.Fprintf(stdout, "  agent console:  %s/console.html\n", s.HTTPURL)
	fmt.Fprintf(stdout, "  HTTP API:       %s\n", s.APIURL)
	fmt.Fprintf(stdout, "  WebSocket API:  %s\n", s.WSURL)
	fmt.Fprintf(stdout, "  health:         %s/healthz\n", s.HTTPURL)
	fmt.Fprintf(stdout, "  moto:           %s\n", s.MotoURL)
	fmt.Fprintf(stdout, "  Meta (fake Graph API): %s, webhook %s/webhooks/meta\n", s.MetaGraph.URL(), s.APIURL)
	fmt.Fprintf(stdout, "    connect a Page:  curl -X PUT %s/v1/integrations/messenger -H 'Authorization: Bearer <owner key>' -d '{\"accountId\":\"100000000000001\",\"accessToken\":\"EAAGlocaltokenlocaltoken\"}'\n", s.APIURL)
	fmt.Fprintf(stdout, "    send a signed message:  go run ./local/cmd/metasign -url %s/webhooks/meta -text 'Hello'\n", s.APIURL)
	fmt.Fprintf(stdout, "  Telegram, LINE, Viber (fakes): PUT %s/v1/integrations/{telegram|line|viber}; GET /v1/integrations shows webhookUrl; go run ./local/cmd/chansign posts to it\n", s.APIURL)
	if getenv("PLATFORM_TOKEN") == "" {
		fmt.Fprintf(stdout, "  platform token: %s (local default; set PLATFORM_TOKEN to change)\n", token)
	}
	if s.Slack != nil {
		fmt.Fprintf(stdout, "  Slack (fake workspace): %s; install from the console, reply as a Slack user: curl -X POST %slocal/reply -d text='Hi from Slack'\n", s.Slack.APIURL(), s.Slack.APIURL())
	} else if getenv("PARAM_SlackClientId") != "" {
		fmt.Fprintf(stdout, "  Slack: the app of PARAM_SlackClientId (no fake workspace)\n")
	} else {
		fmt.Fprintf(stdout, "  Slack: off (LOCAL_SLACK=off)\n")
	}
	cold := s.ColdStarts()
	for _, id := range s.FunctionIDs() {
		if d, ok := cold[id]; ok {
			fmt.Fprintf(stdout, "  function %-28s cold start %v\n", id, d.Round(10*time.Microsecond))
		} else {
			fmt.Fprintf(stdout, "  function %-28s starts on its first invoke\n", id)
		}
	}
	for _, id := range s.Skipped {
		fmt.Fprintf(stdout, "  function %-28s not built yet (no source folder)\n", id)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return nil
}

func dirOf(p string) string { return filepath.Dir(p) }

// cacheDir is where the stack keeps its builds between runs:
// LOCALSTACK_CACHE, else <user cache dir>/livesupportbot/localstack.
func cacheDir(getenv func(string) string) (string, error) {
	if d := getenv("LOCALSTACK_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder (set LOCALSTACK_CACHE): %w", err)
	}
	return filepath.Join(d, "livesupportbot", "localstack"), nil
}

// startedAt is when `make run` began (LOCALSTACK_STARTED, unix seconds), so
// "ready in" counts the tools and the compile too; else now.
func startedAt(getenv func(string) string, now time.Time) time.Time {
	f, err := strconv.ParseFloat(getenv("LOCALSTACK_STARTED"), 64)
	if err != nil || f <= 0 || f > float64(now.Unix()+1) {
		return now
	}
	return time.Unix(0, int64(f*1e9))
}

// setenv sets k to v for this process and returns what puts it back.
func setenv(k, v string) (restore func()) {
	old, had := os.LookupEnv(k)
	os.Setenv(k, v)
	return func() {
		if had {
			os.Setenv(k, old)
		} else {
			os.Unsetenv(k)
		}
	}
}
