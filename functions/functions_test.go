// Package functions_test checks properties of every function binary.
package functions_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoNetRPC proves the lambda.norpc build tag keeps net/rpc out of every
// function (the provided.al2023 runtime does not need it).
func TestNoNetRPC(t *testing.T) {
	dirs, err := filepath.Glob("*/main.go")
	if err != nil || len(dirs) < 4 {
		t.Fatalf("found %d functions (%v)", len(dirs), err)
	}
	for _, d := range dirs {
		pkg := "./" + filepath.Dir(d)
		out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "net/rpc" {
				t.Errorf("%s depends on net/rpc", pkg)
			}
		}
	}
}

// TestEveryFunctionHasATemplateResource keeps functions/ and template.yaml in step.
func TestEveryFunctionHasATemplateResource(t *testing.T) {
	tpl, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob("*/main.go")
	for _, d := range dirs {
		name := filepath.Dir(d)
		var id strings.Builder
		for _, part := range strings.Split(name, "-") {
			id.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
		if !strings.Contains(string(tpl), "\n  "+id.String()+"Function:\n") {
			t.Errorf("functions/%s has no %sFunction resource in template.yaml", name, id.String())
		}
	}
}

// ingest are the functions on the visitor's path: they link the DynamoDB
// client (and ws-message the @connections API), never the S3 client that the
// privacy export needs.
var ingest = map[string]bool{"widget-session": true, "ws-connect": true, "ws-message": true, "webhook-meta": true, "webhook-channels": true}

// TestFunctionsLinkOnlyTheClientsTheyNeed: no function links the Lambda or KMS
// SDK clients (the one Lambda call and the two KMS calls are signed requests,
// shared/awscall, whose package inits cost nothing at cold start), and the
// ingest functions link no S3 client either.
func TestFunctionsLinkOnlyTheClientsTheyNeed(t *testing.T) {
	dirs, _ := filepath.Glob("*/main.go")
	for _, d := range dirs {
		f := filepath.Dir(d)
		cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "./"+f)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", f, err, out)
		}
		forbidden := []string{"lambda", "kms"}
		if ingest[f] {
			forbidden = append(forbidden, "s3")
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, svc := range forbidden {
				if dep == "github.com/aws/aws-sdk-go-v2/service/"+svc {
					t.Errorf("%s links %s", f, dep)
				}
			}
		}
	}
}

// maxBootstrap is the most an arm64 bootstrap may weigh.
const maxBootstrap = 10 << 20

// TestEveryBootstrapIsAtMost10MiB builds each function as `make build` does
// (arm64, lambda.norpc, stripped) and weighs it.
func TestEveryBootstrapIsAtMost10MiB(t *testing.T) {
	dirs, _ := filepath.Glob("*/main.go")
	out := t.TempDir()
	for _, d := range dirs {
		name := filepath.Dir(d)
		bin := filepath.Join(out, name)
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./"+name)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, b)
		}
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-16s %.2f MiB", name, float64(fi.Size())/(1<<20))
		if fi.Size() > maxBootstrap {
			t.Errorf("%s weighs %.2f MiB, more than 10 MiB", name, float64(fi.Size())/(1<<20))
		}
	}
}
