// Package lambdarunner builds Go Lambda functions to their real bootstrap binary
// and runs them under the AWS Lambda Runtime Interface Emulator (RIE), the same
// emulator sam local runs inside its containers. Each function gets a pool of
// emulator processes: an invocation takes an idle instance or starts a new one
// (a cold start, as Lambda scales out), up to a concurrency limit.
package lambdarunner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RIEPackage is the emulator's main package, pinned in go.mod as a tool.
const RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// BuildBootstrap builds the Go main package pkg (e.g. "./functions/ws-connect")
// of the module in dir to out, the way the deployed bootstrap is built: static,
// without the RPC runtime, stripped; for the host, so it runs here.
func BuildBootstrap(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// BuildRIE builds the pinned emulator of the module in dir to out.
func BuildRIE(ctx context.Context, dir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, RIEPackage)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build emulator: %w\n%s", err, b)
	}
	return nil
}

// Spec says how to run one function.
type Spec struct {
	Name       string   // function name, also the log prefix
	Bootstrap  string   // path of the bootstrap binary
	RIE        string   // path of the emulator binary
	Env        []string // the function's environment, KEY=value
	Timeout    int      // seconds
	MemorySize int      // MB
	// MaxInstances caps concurrent instances (default 1).
	MaxInstances int
	// Log receives the function's output, one prefixed line at a time.
	Log io.Writer
	// LogLevel is the emulator's own log level (default "info", which prints
	// the INIT REPORT line the cold start is read from).
	LogLevel string
	// Verbose passes every emulator line to Log; otherwise its routine INFO
	// lines and START/END/REPORT lines are dropped (INIT REPORT is kept).
	Verbose bool
}

// FunctionError is an error the function returned (or a crash or timeout),
// as the invoke API reports it.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Pool runs instances of one function.
type Pool struct {
	spec Spec
	idle chan *instance

	mu       sync.Mutex
	all      []*instance
	starting int
	closed   bool
	freed    chan struct{}
	inits    []time.Duration
}

// NewPool returns a pool that starts instances on demand.
func NewPool(spec Spec) *Pool {
	if spec.MaxInstances < 1 {
		spec.MaxInstances = 1
	}
	if spec.LogLevel == "" {
		spec.LogLevel = "info"
	}
	if spec.Log == nil {
		spec.Log = io.Discard
	}
	return &Pool{spec: spec, idle: make(chan *instance, spec.MaxInstances), freed: make(chan struct{}, 1)}
}

// Spec returns the pool's spec (with defaults applied).
func (p *Pool) Spec() Spec { return p.spec }

// Name returns the function's name.
func (p *Pool) Name() string { return p.spec.Name }

// Start starts one instance ahead of the first invocation, so that start-up
// errors (a missing binary, say) show at once.
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	p.starting++
	p.mu.Unlock()
	in, err := p.spawn(ctx)
	if err != nil {
		return err
	}
	p.idle <- in
	return nil
}

// Invoke runs the function with payload and returns its response. An error the
// function returned is a *FunctionError.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	in, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	in.busy.Store(true)
	out, err := in.invoke(ctx, payload, p.spec.Timeout)
	in.busy.Store(false)
	var fe *FunctionError
	if err != nil && !errors.As(err, &fe) {
		// The instance is in an unknown state (it crashed, or the caller gave
		// up mid-invoke): replace it, as Lambda does with a failed sandbox.
		p.retire(in)
		return nil, err
	}
	p.idle <- in
	return out, err
}

// KillBusy kills (SIGKILL) every instance that is serving an invocation, the
// emulator and the function under it, as a Lambda sandbox that crashed or was
// reclaimed dies mid-invocation: those invocations fail with an error that is
// not a *FunctionError, and the pool replaces the instances (a later
// invocation starts a new one). It returns how many it killed. It is a fault
// hook for tests.
func (p *Pool) KillBusy() int {
	p.mu.Lock()
	var busy []*instance
	for _, in := range p.all {
		if in.busy.Load() {
			busy = append(busy, in)
		}
	}
	p.mu.Unlock()
	for _, in := range busy {
		in.kill()
	}
	return len(busy)
}

func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	for {
		select {
		case in := <-p.idle:
			return in, nil
		default:
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("function %s is stopped", p.spec.Name)
		}
		if len(p.all)+p.starting < p.spec.MaxInstances {
			p.starting++
			p.mu.Unlock()
			return p.spawn(ctx)
		}
		p.mu.Unlock()
		select {
		case in := <-p.idle:
			return in, nil
		case <-p.freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (p *Pool) retire(in *instance) {
	in.stop()
	p.mu.Lock()
	for i, x := range p.all {
		if x == in {
			p.all = append(p.all[:i], p.all[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// spawn starts an instance; the caller has counted it in p.starting.
func (p *Pool) spawn(ctx context.Context) (*instance, error) {
	in, err := startInstance(ctx, p.spec, p.recordInit)
	// The two ports are found free, then bound by the emulator: another
	// process can take one in between, and the emulator exits at start.
	// New ports, up to twice more.
	for try := 0; errors.Is(err, errExitedAtStart) && try < 2; try++ {
		in, err = startInstance(ctx, p.spec, p.recordInit)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starting--
	if err != nil {
		return nil, err
	}
	if p.closed {
		in.stop()
		return nil, fmt.Errorf("function %s is stopped", p.spec.Name)
	}
	p.all = append(p.all, in)
	return in, nil
}

func (p *Pool) recordInit(d time.Duration) {
	p.mu.Lock()
	p.inits = append(p.inits, d)
	p.mu.Unlock()
}

// InitDurations returns the emulator's INIT REPORT durations seen so far, one
// per cold start.
func (p *Pool) InitDurations() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.inits...)
}

// AwaitInits waits up to timeout for at least n INIT REPORTs (the emulator's
// log line may come a moment after the invocation's answer) and returns them.
func (p *Pool) AwaitInits(n int, timeout time.Duration) []time.Duration {
	deadline := time.Now().Add(timeout)
	for {
		d := p.InitDurations()
		if len(d) >= n || time.Now().After(deadline) {
			return d
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop stops every instance and its process group.
func (p *Pool) Stop() {
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.all = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Add(1)
		go func() { defer wg.Done(); in.stop() }()
	}
	wg.Wait()
}

type instance struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	busy atomic.Bool // serving an invocation
}

var initReport = regexp.MustCompile(`INIT REPORT\(.*durationMs: ([0-9.]+)`)

// errExitedAtStart: the emulator stopped before it served (a port taken).
var errExitedAtStart = errors.New("exited at start")

func startInstance(ctx context.Context, spec Spec, onInit func(time.Duration)) (*instance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// The runtime API the bootstrap polls needs a port of its own too (the
	// emulator's default, 9001, would clash between instances).
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	bootstrap, err := filepath.Abs(spec.Bootstrap)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.RIE, "--log-level", spec.LogLevel,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + spec.Name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(max(spec.Timeout, 1)),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(max(spec.MemorySize, 128)),
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TZ=UTC",
	}
	cmd.Env = append(env, spec.Env...)
	// Its own process group, so stopping it stops the function under it too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	in := &instance{url: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		pw.Close()
		close(in.done)
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if m := initReport.FindStringSubmatch(line); m != nil {
				if ms, err := strconv.ParseFloat(m[1], 64); err == nil {
					onInit(time.Duration(ms * float64(time.Millisecond)))
				}
			}
			if spec.Verbose || !routine(line) {
				fmt.Fprintf(spec.Log, "%s | %s\n", spec.Name, line)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	// Wait for the emulator to listen.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return in, nil
		}
		select {
		case <-in.done:
			return nil, fmt.Errorf("emulator of %s %w: %v", spec.Name, errExitedAtStart, cmd.ProcessState)
		case <-ctx.Done():
			in.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.stop()
			return nil, fmt.Errorf("emulator of %s did not listen on %s", spec.Name, addr)
		}
	}
}

// routine reports whether an emulator line is routine chatter.
func routine(line string) bool {
	if strings.Contains(line, "INIT REPORT") {
		return false
	}
	return strings.Contains(line, "[INFO] (rapid)") || strings.Contains(line, "Reset initiated: SandboxTerminated") ||
		strings.HasPrefix(line, "START RequestId:") ||
		strings.HasPrefix(line, "END RequestId:") || strings.HasPrefix(line, "REPORT RequestId:")
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}}

func (in *instance) invoke(ctx context.Context, payload []byte, timeout int) ([]byte, error) {
	// The emulator enforces the function timeout; allow it a margin to answer.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(max(timeout, 1))*time.Second+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	// The emulator answers a timeout with 200 and this text: Lambda's
	// Sandbox.Timedout error, not a response of the function.
	if strings.HasPrefix(string(body), "Task timed out") {
		return nil, &FunctionError{Type: "Sandbox.Timedout", Message: string(body)}
	}
	if res.StatusCode != http.StatusOK {
		if fe := asFunctionError(body); fe != nil {
			return nil, fe
		}
		return nil, fmt.Errorf("invoke: emulator answered %d: %.200s", res.StatusCode, body)
	}
	if fe := asFunctionError(body); fe != nil {
		return nil, fe
	}
	return body, nil
}

// asFunctionError recognises the error document the runtime posts for a
// function error: an object of errorMessage, errorType and maybe stackTrace.
func asFunctionError(body []byte) *FunctionError {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	if _, ok := m["errorType"]; !ok {
		return nil
	}
	for k := range m {
		if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
			return nil
		}
	}
	var fe FunctionError
	json.Unmarshal(body, &fe)
	return &fe
}

func (in *instance) stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd.Process == nil {
		return
	}
	pgid := in.cmd.Process.Pid
	// The emulator runs the bootstrap in a process group of its own: stop
	// those groups too.
	children := childrenOf(pgid)
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(2 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-in.done
	}
	for _, c := range children {
		syscall.Kill(-c, syscall.SIGKILL)
	}
}

// kill kills the emulator and the function's process groups at once.
func (in *instance) kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	pgid := in.cmd.Process.Pid
	children := childrenOf(pgid)
	syscall.Kill(-pgid, syscall.SIGKILL)
	for _, c := range children {
		syscall.Kill(-c, syscall.SIGKILL)
	}
}

// childrenOf lists the processes whose parent is pid (Linux /proc).
func childrenOf(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		n, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so read after ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(pid) {
				out = append(out, n)
			}
		}
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
