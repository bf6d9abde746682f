// Command withmoto runs a command with a moto server (DynamoDB, Streams, S3,
// KMS, Secrets Manager) started by local/moto on a free loopback port, unless
// AWS_ENDPOINT_URL already names one, and stops it afterwards. The command
// gets AWS_ENDPOINT_URL, test credentials and us-east-1 (unless set), and its
// exit status is withmoto's. scripts/with-moto.sh runs it for make fuzz and
// make bench.
//
//	withmoto command [args...]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/livesupportbot/backend/local/moto"
)

func main() {
	code, err := run(context.Background(), os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "withmoto:", err)
	}
	os.Exit(code)
}

// run runs args in environment env (KEY=value) with a moto endpoint and
// returns its exit status.
func run(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return 2, errors.New("usage: withmoto command [args...]")
	}
	getenv := func(k string) string {
		v := ""
		for _, kv := range env {
			if key, val, _ := strings.Cut(kv, "="); key == k {
				v = val
			}
		}
		return v
	}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_DEFAULT_REGION": moto.Region, "AWS_REGION": moto.Region} {
		if getenv(k) == "" {
			env = append(env, k+"="+v)
		}
	}
	if getenv("AWS_ENDPOINT_URL") == "" {
		log, err := os.CreateTemp("", "moto-*.log")
		if err != nil {
			return 1, err
		}
		defer log.Close()
		srv, err := moto.Start(ctx, log)
		if err != nil {
			return 1, err
		}
		defer srv.Close()
		env = append(env, "AWS_ENDPOINT_URL="+srv.URL)
		fmt.Fprintf(stderr, "moto server on %s (log %s)\n", srv.URL, log.Name())
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, stdin, stdout, stderr
	// Ctrl-C reaches the command (same process group); withmoto waits for it,
	// then stops moto.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), nil
	}
	return 1, err
}
