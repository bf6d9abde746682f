package adminapi_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/livesupportbot/backend/local/testaws"
)

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testaws.RepoRoot(t), "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return doc
}

// TestOpenAPI_IsValid runs openapi-spec-validator (pinned in requirements-dev.txt;
// make puts its venv on PATH) on openapi.yaml: client generators reject a
// document that is not valid OpenAPI 3.1. Like moto, a missing validator skips
// the test locally and fails it in CI.
func TestOpenAPI_IsValid(t *testing.T) {
	bin, err := exec.LookPath("openapi-spec-validator")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openapi-spec-validator: %v", err)
		}
		t.Skipf("needs openapi-spec-validator on PATH: %v (run `make test`, or pip install -r requirements-dev.txt)", err)
	}
	out, err := exec.Command(bin, filepath.Join(testaws.RepoRoot(t), "openapi.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("openapi-spec-validator openapi.yaml: %v\n%s", err, out)
	}
}

// TestOpenAPI_NoStrayKeys catches what the validator cannot: an unquoted comma
// in a flow mapping ({ description: A, b. }) that turns the rest of a text into
// a key with no value, which a schema object accepts as an unknown keyword.
func TestOpenAPI_NoStrayKeys(t *testing.T) {
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if e == nil {
					t.Errorf("openapi.yaml %s: key %q has no value (an unquoted comma in a flow mapping?)", path, k)
				}
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("#", loadOpenAPI(t))
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}

// TestOpenAPI_DocumentsEveryRoute proves that every route the function serves is
// in openapi.yaml with the same least role, and every documented operation is
// served.
func TestOpenAPI_DocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi version %q, want 3.1.x", v)
	}
	documented := map[string]string{} // "METHOD /path" -> x-role
	ops := map[string]map[string]any{}
	for path, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			if !httpMethods[m] {
				continue
			}
			name := strings.ToUpper(m) + " " + path
			o := op.(map[string]any)
			role, _ := o["x-role"].(string)
			documented[name], ops[name] = role, o
		}
	}
	served := map[string]string{}
	for _, rt := range newAPIWithoutStore().Routes() {
		served[rt.Method+" "+rt.Pattern] = string(rt.Role)
	}
	for name, role := range served {
		d, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("served but not documented: %s", name)
		case d != role:
			t.Errorf("%s: documented x-role %q, served role %q", name, d, role)
		}
	}
	for name := range documented {
		if _, ok := served[name]; !ok {
			t.Errorf("documented but not served: %s", name)
		}
	}
	// Each operation documents its auth failures and rate limit, and operations on an id their 404.
	for name, o := range ops {
		res, _ := o["responses"].(map[string]any)
		need := []string{"401", "403", "429", "500"}
		if strings.Contains(name, "{id}") {
			need = append(need, "404")
		}
		if o["requestBody"] != nil {
			need = append(need, "400")
		}
		for _, code := range need {
			if _, ok := res[code]; !ok {
				t.Errorf("%s does not document %s", name, code)
			}
		}
	}
	// Every $ref points at a component that exists.
	var missing []string
	walkRefs(doc, func(ref string) {
		if !resolves(doc, ref) {
			missing = append(missing, ref)
		}
	})
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("unresolved $refs: %v", missing)
	}
}

func walkRefs(v any, f func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				f(s)
			}
			walkRefs(e, f)
		}
	case []any:
		for _, e := range x {
			walkRefs(e, f)
		}
	}
}

func resolves(doc map[string]any, ref string) bool {
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
