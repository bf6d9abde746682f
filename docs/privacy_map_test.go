package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/retention"
)

// The privacy map (PRIVACY.md) names periods, mechanisms and tests; these
// tests hold it to the code, so the map cannot promise what the code does not
// do, and the code cannot change a promised number without the map.

// mapPeriod is a period as the map writes it: **<n> <unit>** (`<code>`).
var mapPeriod = regexp.MustCompile("\\*\\*([0-9,]+) (days|hours)\\*\\* \\(`([^`]+)`\\)")

// codePeriods are the promised periods, read from the code and the template:
// the map must state each of them, and only them.
func codePeriods(t *testing.T) map[string]time.Duration {
	t.Helper()
	days := func(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
	d := retention.Defaults
	out := map[string]time.Duration{
		"retention.Defaults.PersonalDays":      days(d.PersonalDays),
		"retention.Defaults.CommunicationDays": days(d.CommunicationDays),
		"retention.Defaults.ArchiveDays":       days(d.ArchiveDays),
		"retention.Defaults.UsageDays":         days(d.UsageDays),
		"retention.Defaults.TechnicalDays":     days(d.TechnicalDays),
		"retention.Defaults.ClosedGraceDays":   days(d.ClosedGraceDays),
		"retention.ConnectionTTL":              retention.ConnectionTTL,
		"retention.ComplianceDays":             days(retention.ComplianceDays),
		"chat.PrivacyDue":                      chat.PrivacyDue,
		"jobs.DefaultLinkTTL":                  jobs.DefaultLinkTTL,
	}
	for name, v := range templatePeriods(t) {
		out[name] = v
	}
	return out
}

// templatePeriods reads the template's promised periods, and checks that each
// reaches every resource it governs: log groups keep LogRetentionDays, both
// tables recover BackupRecoveryDays back, the buckets expire their files.
func templatePeriods(t *testing.T) map[string]time.Duration {
	t.Helper()
	tpl, err := cfntemplate.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	param := func(name string) time.Duration {
		n, err := strconv.Atoi(fmt.Sprint(tpl.Parameters[name].Default))
		if err != nil {
			t.Fatalf("parameter %s has no numeric default: %v", name, err)
		}
		return time.Duration(n) * 24 * time.Hour
	}
	tables, groups := 0, 0
	for name, r := range tpl.Resources {
		switch r.Type {
		case "AWS::DynamoDB::Table":
			tables++
			pitr, _ := r.Properties["PointInTimeRecoverySpecification"].(map[string]any)
			if pitr["PointInTimeRecoveryEnabled"] != true || pitr["RecoveryPeriodInDays"] != "BackupRecoveryDays" {
				t.Errorf("table %s: point-in-time recovery %v, want enabled for BackupRecoveryDays", name, pitr)
			}
		case "AWS::Logs::LogGroup":
			groups++
			if r.Properties["RetentionInDays"] != "LogRetentionDays" {
				t.Errorf("log group %s keeps logs %v, want LogRetentionDays", name, r.Properties["RetentionInDays"])
			}
		}
	}
	if tables != 2 || groups == 0 {
		t.Errorf("template has %d tables and %d log groups", tables, groups)
	}
	expiry := func(bucket string) time.Duration {
		lc, _ := tpl.Resources[bucket].Properties["LifecycleConfiguration"].(map[string]any)
		rules, _ := lc["Rules"].([]any)
		if len(rules) == 0 {
			t.Fatalf("bucket %s has no lifecycle rule", bucket)
		}
		n, _ := rules[0].(map[string]any)["ExpirationInDays"].(int)
		return time.Duration(n) * 24 * time.Hour
	}
	return map[string]time.Duration{
		"template:LogRetentionDays":                  param("LogRetentionDays"),
		"template:BackupRecoveryDays":                param("BackupRecoveryDays"),
		"template:ExportBucket.ExpirationInDays":     expiry("ExportBucket"),
		"template:AttachmentBucket.ExpirationInDays": expiry("AttachmentBucket"),
	}
}

func readMap(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "PRIVACY.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPrivacyMap_PeriodsMatchTheCodeAndTheTemplate(t *testing.T) {
	code := codePeriods(t)
	stated := map[string]bool{}
	for _, m := range mapPeriod.FindAllStringSubmatch(readMap(t), -1) {
		n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		unit := 24 * time.Hour
		if m[2] == "hours" {
			unit = time.Hour
		}
		want, ok := code[m[3]]
		switch {
		case !ok:
			t.Errorf("the map states %s %s for %s, which names no promised period of the code", m[1], m[2], m[3])
		case time.Duration(n)*unit != want:
			t.Errorf("the map states %s %s for %s; the code has %s", m[1], m[2], m[3], inWords(want))
		}
		stated[m[3]] = true
	}
	for name := range code {
		if !stated[name] {
			t.Errorf("the map does not state the period %s (%s)", name, inWords(code[name]))
		}
	}
	// A compliance record outlives the data it accounts for.
	if retention.ComplianceDays < retention.Maximums.PersonalDays {
		t.Errorf("compliance records last %d days, less than personal data's %d", retention.ComplianceDays, retention.Maximums.PersonalDays)
	}
}

// mapTest and mapMechanism are a test and a mechanism named in the map.
var (
	mapTest      = regexp.MustCompile("`(Test[A-Za-z0-9_]+)`")
	mapMechanism = regexp.MustCompile("`(shared/[a-z/]+)\\.([A-Z][A-Za-z0-9]*)`")
)

func TestPrivacyMap_NamesOnlyTestsAndMechanismsThatExist(t *testing.T) {
	root := repoRoot(t)
	text := readMap(t)
	tests := repoTests(t, root)
	for _, m := range mapTest.FindAllStringSubmatch(text, -1) {
		if !tests[m[1]] {
			t.Errorf("the map names %s, and no test of that name exists", m[1])
		}
	}
	decls := map[string]map[string]bool{}
	for _, m := range mapMechanism.FindAllStringSubmatch(text, -1) {
		dir, name := m[1], m[2]
		if decls[dir] == nil {
			decls[dir] = packageDecls(t, filepath.Join(root, dir))
		}
		if !decls[dir][name] {
			t.Errorf("the map names %s.%s, and %s declares no %s", dir, name, dir, name)
		}
	}
	// Every promise names how it is kept and what proves it.
	rows := 0
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 8 || strings.TrimSpace(cells[1]) == "#" || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		rows++
		if !mapMechanism.MatchString(cells[5]) && !strings.Contains(cells[5], "template.yaml") {
			t.Errorf("promise %s names no mechanism", strings.TrimSpace(cells[1]))
		}
		if !mapTest.MatchString(cells[6]) {
			t.Errorf("promise %s names no test", strings.TrimSpace(cells[1]))
		}
	}
	if rows < 20 {
		t.Errorf("the map has %d promises; the table did not parse", rows)
	}
}

// repoTests lists the names of the repository's test functions.
func repoTests(t *testing.T, root string) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// packageDecls lists the top-level names a package declares (functions,
// methods, types, variables, constants), from its non-test files.
func packageDecls(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("package %s: no Go files (%v)", dir, err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				out[d.Name.Name] = true
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						out[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range s.Names {
							out[n.Name] = true
						}
					}
				}
			}
		}
	}
	return out
}

// inWords writes a period as the map does: days, or hours when shorter.
func inWords(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return fmt.Sprintf("%d hours", d/time.Hour)
}
