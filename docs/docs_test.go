// Package docs holds the repository's documentation and a test that keeps the
// repository self-contained: no tracked file may send its reader to a file
// outside the repository, and every relative link of a Markdown file must name
// a file or folder of the repository.
package docs

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outsideRefs are the names of files that live outside the repository (the
// handbook the project started from). They are built from parts so that this
// file does not contain them literally and can be checked like any other.
var outsideRefs = []string{
	".." + "/shared/",
	"DESIGN" + ".md",
	"CHANNELS" + ".md",
	"STYLE" + ".md",
	"privacy-policy" + ".txt",
}

// repoRoot returns the repository's top folder: this package lives in docs/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

// repoFiles lists the repository's files as slash-separated paths relative to
// root: the files git tracks, or, without git, every file outside .git.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		if len(files) > 0 {
			return files
		}
	}
	t.Logf("git ls-files unavailable; walking %s instead", root)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readText returns a file's content, or false for a binary or missing file.
func readText(root, name string) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil || bytes.IndexByte(b, 0) >= 0 {
		return nil, false
	}
	return b, true
}

func TestNoFileRefersOutsideTheRepository(t *testing.T) {
	root := repoRoot(t)
	files := repoFiles(t, root)
	lowered := make([]string, len(outsideRefs))
	for i, r := range outsideRefs {
		lowered[i] = strings.ToLower(r)
	}
	for _, name := range files {
		b, ok := readText(root, name)
		if !ok {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.ToLower(sc.Text())
			for i, r := range lowered {
				if strings.Contains(line, r) {
					t.Errorf("%s:%d refers outside the repository (%q): %s", name, n, outsideRefs[i], strings.TrimSpace(sc.Text()))
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

var (
	// inlineLink matches the target of [text](target "title").
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// refLink matches a reference definition: [label]: target
	refLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	// scheme matches a URL scheme (https:, mailto:, ...).
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

func TestMarkdownLinksPointIntoTheRepository(t *testing.T) {
	root := repoRoot(t)
	files := repoFiles(t, root)
	exists := map[string]bool{}
	for _, f := range files {
		exists[f] = true
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			exists[d] = true
		}
	}
	checked := 0
	for _, name := range files {
		if !strings.HasSuffix(strings.ToLower(name), ".md") {
			continue
		}
		b, ok := readText(root, name)
		if !ok {
			continue
		}
		fenced := false
		for n, line := range strings.Split(string(b), "\n") {
			if s := strings.TrimSpace(line); strings.HasPrefix(s, "```") || strings.HasPrefix(s, "~~~") {
				fenced = !fenced
				continue
			}
			if fenced {
				continue
			}
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(line); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if strings.HasPrefix(target, "#") || scheme.MatchString(target) || strings.HasPrefix(target, "//") {
					continue
				}
				checked++
				p, _, _ := strings.Cut(target, "#")
				p, _, _ = strings.Cut(p, "?")
				var resolved string
				if strings.HasPrefix(p, "/") {
					resolved = path.Clean(strings.TrimPrefix(p, "/"))
				} else {
					resolved = path.Join(path.Dir(name), p)
				}
				switch {
				case resolved == ".." || strings.HasPrefix(resolved, "../"):
					t.Errorf("%s:%d links outside the repository: %s", name, n+1, target)
				case resolved != "." && !exists[resolved]:
					t.Errorf("%s:%d links to %s, which is not in the repository", name, n+1, target)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no relative Markdown link found; the link check is not looking")
	}
}
