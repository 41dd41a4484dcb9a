package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	kwBegin = "<!-- keywords:begin -->\n"
	kwEnd   = "<!-- keywords:end -->"
)

// TestKeywordDocs keeps docs/config.md's table equal to the registry. Run
// with ULVS_UPDATE_DOCS=1 to rewrite it.
func TestKeywordDocs(t *testing.T) {
	path := filepath.Join("..", "docs", "config.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, kwBegin), strings.Index(doc, kwEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the keyword markers", path)
	}
	want := doc[:i+len(kwBegin)] + KeywordTable() + doc[j:]
	if want == doc {
		return
	}
	if os.Getenv("ULVS_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the keyword registry; run: ULVS_UPDATE_DOCS=1 go test ./conf -run KeywordDocs", path)
}

func TestKeywordRegistry(t *testing.T) {
	t.Parallel()
	kws := Keywords()
	if len(kws) < 300 {
		t.Errorf("registry has %d keywords, expected keepalived's inventory (300+)", len(kws))
	}
	for _, p := range effectProblems {
		t.Error(p)
	}
	// The core keywords of the reference are supported.
	core := map[string]string{
		"global_defs": "router_id", "vrrp_instance": "virtual_router_id", "virtual_server": "lb_algo",
		"real_server": "weight", "TCP_CHECK": "connect_timeout", "HTTP_GET": "url", "url": "status_code",
		"vrrp_script": "script", "authentication": "auth_pass", "vrrp_sync_group": "group",
	}
	for block, k := range core {
		found := false
		for _, ki := range kws {
			if ki.Block == block && ki.Keyword == k && ki.Status == Supported {
				found = true
			}
		}
		if !found {
			t.Errorf("%s %s is not registered as supported", block, k)
		}
	}
}

// TestSupportedHaveTests: a keyword is supported only if the registry names
// tests that show its effect, and every test it names exists.
func TestSupportedHaveTests(t *testing.T) {
	t.Parallel()
	funcs := map[string]map[string]bool{} // package dir → test functions
	testsIn := func(dir string) map[string]bool {
		if m, ok := funcs[dir]; ok {
			return m
		}
		m := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join("..", dir, "*_test.go"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(data), "\n") {
				if name, ok := strings.CutPrefix(l, "func Test"); ok {
					if i := strings.IndexByte(name, '('); i > 0 {
						m["Test"+name[:i]] = true
					}
				}
			}
		}
		funcs[dir] = m
		return m
	}
	for _, k := range Keywords() {
		switch k.Status {
		case Supported, Partial:
			if len(k.Tests) == 0 {
				t.Errorf("%s %s is %s but names no test", k.Block, k.Keyword, k.Status)
			}
		default:
			if len(k.Tests) > 0 {
				t.Errorf("%s %s is %s but names tests %v", k.Block, k.Keyword, k.Status, k.Tests)
			}
		}
		for _, name := range k.Tests {
			i := strings.LastIndexByte(name, '.')
			if i <= 0 || !strings.HasPrefix(name[i+1:], "Test") {
				t.Errorf("%s %s: test %q is not written as package/path.TestName", k.Block, k.Keyword, name)
				continue
			}
			if !testsIn(name[:i])[name[i+1:]] {
				t.Errorf("%s %s: test %s does not exist", k.Block, k.Keyword, name)
			}
		}
	}
}
