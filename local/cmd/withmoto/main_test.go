package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/moto"
)

func TestRun_GivesTheCommandAMotoEndpointAndItsExitStatus(t *testing.T) {
	if _, err := moto.Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	var out, errs bytes.Buffer
	// The command sees moto answer, then fails with status 3.
	code, err := run(context.Background(), []string{"bash", "-c", `curl -fs "$AWS_ENDPOINT_URL/moto-api/" >/dev/null && echo "up $AWS_REGION"; exit 3`},
		[]string{"PATH=" + os.Getenv("PATH")}, nil, &out, &errs)
	if err != nil || code != 3 {
		t.Fatalf("run = %d, %v; want 3", code, err)
	}
	if got := strings.TrimSpace(out.String()); got != "up us-east-1" {
		t.Errorf("command printed %q (stderr %q)", got, errs.String())
	}
}

func TestRun_UsesTheEndpointGivenAndNeedsACommand(t *testing.T) {
	var out bytes.Buffer
	code, err := run(context.Background(), []string{"bash", "-c", `echo -n "$AWS_ENDPOINT_URL"`}, []string{"PATH=" + os.Getenv("PATH"), "AWS_ENDPOINT_URL=http://127.0.0.1:1"}, nil, &out, &out)
	if err != nil || code != 0 || out.String() != "http://127.0.0.1:1" {
		t.Errorf("run = %d, %v, printed %q", code, err, out.String())
	}
	if code, err := run(context.Background(), nil, nil, nil, &out, &out); err == nil || code != 2 {
		t.Errorf("no command: %d, %v", code, err)
	}
}
