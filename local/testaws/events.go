package testaws

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// LoadEvent decodes events/<name> of the repository, the same sample events
// `sam local invoke -e` uses, into v.
func LoadEvent(tb testing.TB, name string, v any) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(tb), "events", name))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("decode %s: %v", name, err)
	}
}
