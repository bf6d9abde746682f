// Package moto is the one launcher of the local moto server, for the tests
// (local/testaws) and the local stack (local/stack, `make run`), and the one
// creator of the template's resources in it: tables with their indexes,
// streams and TTL, buckets and keys, read from template.yaml.
package moto

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region of every local client.
const Region = "us-east-1"

// Binary finds moto_server: on PATH (make puts its venv there), then in
// /opt/lsb-venv/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	if p := "/opt/lsb-venv/bin/moto_server"; fileExists(p) {
		return p, nil
	}
	return "", errors.New("moto_server not found: run `make tools` (or pip install -r requirements-dev.txt)")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Server is a running moto_server.
type Server struct {
	URL  string // http://127.0.0.1:<port>
	cmd  *exec.Cmd
	once sync.Once
}

// StreamRetention is how long the local streams keep a record (AWS: 24
// hours). Local consumers read within seconds; keeping a day of records would
// grow moto by hundreds of MB an hour under load.
const StreamRetention = 15 * time.Minute

// patch is run in moto_server's interpreter before moto starts: fixes that
// keep a long run flat (see the file).
//
//go:embed patch.py
var patch string

// command is moto_server run by its own interpreter (the script's #! line)
// with patch applied first.
func command(bin string, args ...string) (*exec.Cmd, error) {
	f, err := os.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	interp := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(interp) == 0 {
		return nil, fmt.Errorf("%s: no #! line naming its Python", bin)
	}
	script := patch + "\nfrom moto.server import main\nmain()\n"
	if os.Getenv("MOTO_UNPATCHED") != "" { // to measure the patch: moto as shipped
		script = "from moto.server import main\nmain()\n"
	}
	argv := append(append(interp[1:], "-c", script), args...)
	cmd := exec.Command(interp[0], argv...)
	// Two malloc arenas: moto serves on threads, and glibc's arena per thread
	// kept freed memory (resident size grew well past Python's own).
	cmd.Env = append(os.Environ(), "MALLOC_ARENA_MAX=2")
	if os.Getenv("MOTO_STREAM_RETENTION_SECONDS") == "" { // tests set a shorter one
		cmd.Env = append(cmd.Env, fmt.Sprintf("MOTO_STREAM_RETENTION_SECONDS=%d", int(StreamRetention.Seconds())))
	}
	return cmd, nil
}

// startTimeout bounds how long moto may take to answer after it starts.
const startTimeout = 30 * time.Second

// Start runs moto_server on a free loopback port, in a process group of its
// own that dies with this process, and returns once it answers. Its output
// goes to out (nil: dropped). On error nothing is left running.
func Start(ctx context.Context, out io.Writer) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	if s.cmd, err = command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port)); err != nil {
		return nil, err
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto: %w", err)
	}
	if err := s.await(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// await polls moto until it answers, ctx ends or startTimeout passes.
func (s *Server) await(ctx context.Context) error {
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if res, err := http.Get(s.URL + "/moto-api/"); err == nil {
			res.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("moto did not start on %s", s.URL)
}

// Pid is moto's process id (its process group's too).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// RSS is the resident memory of process pid in bytes, from /proc (0 where
// that is not readable).
func RSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(rest); len(f) > 0 { // "123456 kB"
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// Close stops moto's process group: SIGTERM, then SIGKILL after 3 seconds.
func (s *Server) Close() error {
	s.once.Do(func() {
		pgid := -s.cmd.Process.Pid
		syscall.Kill(pgid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			syscall.Kill(pgid, syscall.SIGKILL)
			<-done
		}
	})
	return nil
}

// Config returns an AWS config for endpoint with static test credentials.
func Config(ctx context.Context, endpoint string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(endpoint))
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return cfg, nil
}

// FreePort returns a loopback port free at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
