package topotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// use is one place that requires a tool.
type use struct {
	tool string
	pos  string
}

// requiredTools finds every tool the module's tests require: the string
// arguments of topotest.Require (Require inside this package), exec.LookPath
// in test files and in the helpers tests use (internal/topo, internal/vm),
// and "ip", which Require always needs. A Require argument that is not a
// string literal is reported as bad: the table could not be checked.
func requiredTools(t *testing.T, root string) (uses []use, bad []string) {
	t.Helper()
	uses = append(uses, use{"ip", "topotest.Require"})
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		isTest := strings.HasSuffix(path, "_test.go")
		helper := strings.HasPrefix(rel, filepath.Join("internal", "topo")) || strings.HasPrefix(rel, filepath.Join("internal", "vm"))
		if !strings.HasSuffix(path, ".go") || (!isTest && !helper) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		inTopotest := f.Name.Name == "topotest"
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var pkg, fn string
			switch f := call.Fun.(type) {
			case *ast.SelectorExpr:
				if x, ok := f.X.(*ast.Ident); ok {
					pkg, fn = x.Name, f.Sel.Name
				}
			case *ast.Ident:
				if inTopotest {
					pkg, fn = "topotest", f.Name
				}
			}
			var args []ast.Expr
			switch {
			case pkg == "topotest" && fn == "Require" && len(call.Args) > 0:
				args = call.Args[1:]
			case pkg == "exec" && fn == "LookPath" && (isTest || helper):
				args = call.Args
			default:
				return true
			}
			at := fset.Position(call.Pos())
			where := filepath.ToSlash(mustRel(root, at.Filename)) + ":" + strconv.Itoa(at.Line)
			for _, a := range args {
				lit, ok := a.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					if call.Ellipsis.IsValid() || !inTopotest {
						bad = append(bad, where+": a tool that is not a string literal")
					}
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				uses = append(uses, use{s, where})
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses, bad
}

func mustRel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return r
}

// missingTools lists the uses whose tool has no row for "test".
func missingTools(table []Tool, uses []use) []string {
	have := map[string]bool{}
	for _, t := range table {
		if t.In("test") {
			have[t.Name] = true
		}
	}
	var out []string
	for _, u := range uses {
		if !have[u.tool] {
			out = append(out, u.pos+": "+u.tool)
		}
	}
	sort.Strings(out)
	return out
}

// TestToolTable: every tool a test requires has a row in scripts/tools.txt
// for the test list, so `make deps` (scripts/deps.sh) installs its package.
func TestToolTable(t *testing.T) {
	t.Parallel()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	table, err := ToolTable()
	if err != nil {
		t.Fatal(err)
	}
	uses, bad := requiredTools(t, root)
	for _, b := range bad {
		t.Errorf("%s: write the tools a test requires as literals, so this test can check them", b)
	}
	if len(uses) < 20 {
		t.Fatalf("found only %d uses of tools; the scan is broken", len(uses))
	}
	for _, m := range missingTools(table, uses) {
		t.Errorf("%s: scripts/tools.txt has no row for this tool in the test list (make deps would not install it)", m)
	}
	seen := map[string]bool{}
	for _, tl := range table {
		if tl.Name != "-" && seen[tl.Name] {
			t.Errorf("scripts/tools.txt names %s twice", tl.Name)
		}
		seen[tl.Name] = true
	}
}

// TestToolTableCatchesMissing: the check fails when a row is taken out of
// the table (here trafgen's, which TestUDPBurstNoLoss and TestSYNFlood
// require).
func TestToolTableCatchesMissing(t *testing.T) {
	t.Parallel()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ToolTablePath()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "trafgen ") {
			kept = append(kept, l)
		}
	}
	table, err := ParseToolTable("edited", []byte(strings.Join(kept, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	uses, _ := requiredTools(t, root)
	missing := missingTools(table, uses)
	if len(missing) < 2 {
		t.Fatalf("without trafgen's row, want the two tests that require it reported, got %v", missing)
	}
	for _, m := range missing {
		if !strings.HasSuffix(m, ": trafgen") {
			t.Errorf("unexpected report %q", m)
		}
	}
}
