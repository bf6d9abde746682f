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
