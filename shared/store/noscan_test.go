package store_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
)

// scanAllowed are the only places that may scan a table: the local stack's
// emulation of DynamoDB's own TTL process, and the test helpers.
var scanAllowed = []string{"local/ttl/", "local/testaws/"}

var scanCall = regexp.MustCompile(`\.Scan\(\s*(ctx|context\.)|ScanInput|NewScanPaginator`)

func TestNoScanOutsideTests(t *testing.T) {
	root := testaws.RepoRoot(t)
	var checked int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && rel != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		for _, ok := range scanAllowed {
			if strings.HasPrefix(filepath.ToSlash(rel), ok) {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if scanCall.MatchString(line) {
				t.Errorf("%s:%d scans a table: %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files; is the walk rooted right?", checked)
	}
}
