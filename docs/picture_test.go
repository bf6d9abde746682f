package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestArchitecturePicture_NamesEveryPackage keeps the package picture of
// ARCHITECTURE.md (the first code block of its Layout section) true to the
// code: every package of shared/ and local/ is named in it, every name in it
// that looks like a package path exists, and the layers it draws hold: chat
// imports nothing of AWS, and nothing in shared/ or functions/ imports local/.
func TestArchitecturePicture_NamesEveryPackage(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "## Layout")
	if i < 0 {
		t.Fatal("no Layout section")
	}
	parts := strings.SplitN(doc[i:], "```", 3)
	if len(parts) < 3 {
		t.Fatal("the Layout section has no picture")
	}
	words := map[string]bool{}
	for _, w := range regexp.MustCompile(`[a-z0-9]+(/[a-z0-9]+)?`).FindAllString(parts[1], -1) {
		words[w] = true
	}
	list := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./shared/...", "./local/...", "./functions/...")
	list.Dir = root
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/livesupportbot/backend/"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		top, rest, _ := strings.Cut(pkg, "/")
		if top == "functions" {
			for _, imp := range f[1:] {
				if strings.HasPrefix(imp, mod+"local/") {
					t.Errorf("%s imports %s", pkg, imp)
				}
			}
			continue
		}
		if top == "local" && (strings.HasPrefix(rest, "internal/") || rest == "cmd/localstack" || rest == "cmd/withmoto") {
			continue // the benchmarks' hello worlds and the two commands, named by make run / make test
		}
		name := rest
		if !words[name] {
			t.Errorf("package %s is not in ARCHITECTURE.md's picture", pkg)
		}
		for _, imp := range f[1:] {
			if top == "shared" && strings.HasPrefix(imp, mod+"local/") {
				t.Errorf("%s imports %s", pkg, imp)
			}
			if pkg == "shared/chat" && strings.Contains(imp, "aws") {
				t.Errorf("the domain imports %s", imp)
			}
		}
	}
	for w := range words {
		if strings.Contains(w, "/") {
			found := false
			for _, dir := range []string{"shared", "local", ""} {
				if _, err := os.Stat(filepath.Join(root, dir, w)); err == nil {
					found = true
				}
			}
			if !found {
				t.Errorf("the picture names %s, which is no package", w)
			}
		}
	}
}
