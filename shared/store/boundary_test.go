package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// storeOnly are the names only the store may spell: key attributes, indexes and
// the attributes the store's conditions and sweeps read.
var storeOnly = map[string]bool{
	"PK": true, "SK": true, "GSI1PK": true, "GSI1SK": true, "GSI2PK": true, "GSI2SK": true,
	"GSI1": true, "GSI2": true, "expiresAt": true, "dataClass": true, "entity": true,
	"leaseOwner": true, "leaseUntil": true,
}

// keyPrefix is the shape of a key prefix ("T#", "CONN#", "CMID#", ...).
var keyPrefix = regexp.MustCompile(`^[A-Z][A-Z0-9_]*#`)

// TestBoundary_OnlyTheStoreKnowsTheTables reads every production package of
// shared/ and functions/ other than store: none spells a key attribute, index
// or key prefix, imports the DynamoDB client or its types, calls Store.DB,
// DataTable, ArchiveTable or store.Key, or holds a *store.Store in a struct
// (handlers take the interfaces they declare). awsclients, which builds the
// client and the store for the mains, is the one exception.
func TestBoundary_OnlyTheStoreKnowsTheTables(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, top := range []string{"shared", "functions"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() && (rel == filepath.Join("shared", "store") || rel == filepath.Join("shared", "awsclients")) {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			checked++
			checkFile(t, rel, path)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d files", checked)
	}
}

func checkFile(t *testing.T, rel, path string) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	storeName := ""
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(p, "aws-sdk-go-v2/service/dynamodb") || strings.Contains(p, "aws-sdk-go-v2/feature/dynamodb") {
			t.Errorf("%s imports %s", rel, p)
		}
		if strings.HasSuffix(p, "/shared/store") {
			storeName = "store"
			if imp.Name != nil {
				storeName = imp.Name.Name
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				return true
			}
			s, _ := strconv.Unquote(n.Value)
			if storeOnly[s] || keyPrefix.MatchString(s) {
				t.Errorf("%s: %s spells the table's %q", rel, fset.Position(n.Pos()), s)
			}
		case *ast.SelectorExpr:
			switch n.Sel.Name {
			case "DB", "DataTable", "ArchiveTable":
				t.Errorf("%s: %s calls %s", rel, fset.Position(n.Pos()), n.Sel.Name)
			case "Key":
				if id, ok := n.X.(*ast.Ident); ok && id.Name == storeName {
					t.Errorf("%s: %s calls store.Key", rel, fset.Position(n.Pos()))
				}
			}
		case *ast.StructType:
			for _, fld := range n.Fields.List {
				if star, ok := fld.Type.(*ast.StarExpr); ok {
					if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Store" {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == storeName {
							t.Errorf("%s: %s holds a *store.Store", rel, fset.Position(n.Pos()))
						}
					}
				}
			}
		}
		return true
	})
}
