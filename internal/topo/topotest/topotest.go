// Package topotest adapts package topo to tests: it decides whether a netns
// test can run, gives each test its own topology with a unique prefix, and
// builds the ulvs binaries a test runs inside namespaces.
//
// A test that needs root and tools calls Require first. Without root it is
// skipped with a message; when ULVS_REQUIRE_NETNS=1 (set by `make test` when
// run as root) anything missing is a failure instead, so CI never passes by
// skipping.
package topotest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/testkit"
	"github.com/ulvs/ulvs/internal/topo"
)

// Strict reports whether missing prerequisites must fail tests rather than
// skip them.
func Strict() bool { return os.Getenv("ULVS_REQUIRE_NETNS") == "1" }

// Require skips (or, when Strict, fails) the test unless it runs as root
// with every named tool on PATH. "ip" is always required. Every tool named
// here must have a row in scripts/tools.txt, which `make deps` installs from
// (TestToolTable checks it).
func Require(t testing.TB, tools ...string) {
	t.Helper()
	miss := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if Strict() {
			t.Fatalf("netns test cannot run: %s (ULVS_REQUIRE_NETNS=1; run `make deps`)", msg)
		}
		t.Skipf("netns test skipped: %s", msg)
	}
	if runtime.GOOS != "linux" {
		miss("needs Linux, not %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		miss("needs root")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			if pkg := packageOf(tool); pkg != "" {
				miss("%s not found on PATH (Debian package %s)", tool, pkg)
			}
			miss("%s not found on PATH, and scripts/tools.txt does not name it for the tests", tool)
		}
	}
}

var seq atomic.Uint32

// New returns a fresh topology whose namespaces are removed when the test
// ends. Every command it runs is logged to the test.
func New(t testing.TB) *topo.Topology {
	t.Helper()
	// One Add, read once: parallel tests must never share a prefix (New
	// removes whatever a prefix names).
	n := seq.Add(1)
	prefix := fmt.Sprintf("ut%d%c", os.Getpid()%100000, 'a'+rune(n-1))
	if n > 26 {
		prefix = fmt.Sprintf("ut%d_%d", os.Getpid()%100000, n)
	}
	tp, err := topo.New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		tp.Log = func(s string) { t.Log(s) }
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Error(err)
		}
	})
	return tp
}

// AddNode adds a node or fails the test.
func AddNode(t testing.TB, tp *topo.Topology, name string, cfg topo.NodeConfig) *topo.Node {
	t.Helper()
	n, err := tp.AddNode(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Run runs a command in the node and fails the test if it fails.
func Run(t testing.TB, n *topo.Node, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := n.Output(ctx, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	buildMu   sync.Mutex
	built     = map[string]string{}
	buildDir  string
	buildOnce sync.Once
)

// Binary builds the main package at pkg (relative to the module root, e.g.
// "./cmd/ulvsd") once per test process and returns the path of the binary.
// It is built static (CGO_ENABLED=0) so it also runs in a VM's initramfs.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	buildOnce.Do(func() {
		d, err := os.MkdirTemp("", "ulvs-bin-")
		if err != nil {
			panic(err)
		}
		buildDir = d
	})
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// ModuleRoot returns the directory holding go.mod, searching upwards from
// the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("topotest: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// SharedDir returns ../shared next to the module root (the user's seed
// configs and references) and whether it is there. A clone from the
// project's public home has no ../shared: what it holds only adds to the
// project's own test data.
func SharedDir() (string, bool) {
	root, err := ModuleRoot()
	if err != nil {
		return "", false
	}
	d := filepath.Join(filepath.Dir(root), "shared")
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return "", false
	}
	return d, true
}

// SeedDir returns testdata/seed-configs, the project's own keepalived.conf
// files for the scenarios the tests run.
func SeedDir(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "seed-configs")
}

// SeedConfig returns the path of the project's seed config name (in
// testdata/seed-configs), failing the test if it is missing.
func SeedConfig(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(SeedDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("seed config: %v", err)
	}
	return p
}

// SeedConfigs lists every seed config: the project's, then those of
// ../shared/seed-configs when it is there (the user's own, which the
// project's mirror).
func SeedConfigs(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(SeedDir(t), "*.conf"))
	if len(files) == 0 {
		t.Fatalf("no seed configs in %s", SeedDir(t))
	}
	if d, ok := SharedDir(); ok {
		shared, _ := filepath.Glob(filepath.Join(d, "seed-configs", "*.conf"))
		files = append(files, shared...)
	}
	return files
}

// Reexec runs the current test binary inside the node, running only the
// test named fn (a func TestXxx that returns at once unless the environment
// variable ULVS_REEXEC is set to fn). Further environment is passed as
// KEY=VALUE pairs. This is how a test runs Go code wholly inside a namespace:
// a Go process cannot move all its threads into another namespace.
func Reexec(t testing.TB, n *topo.Node, fn string, env ...string) *topo.Proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"ULVS_REEXEC=" + fn}
	args = append(args, env...)
	args = append(args, exe, "-test.run=^"+fn+"$", "-test.v")
	p, err := n.Start(t.TempDir(), "env", args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(3 * time.Second) })
	return p
}

// InReexec reports whether the test function fn runs as the child of
// Reexec; call it first in such a function and return when false.
func InReexec(fn string) bool { return os.Getenv("ULVS_REEXEC") == fn }

// Eventually is testkit.Eventually at the interval netns tests poll at,
// 20 ms.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, 20*time.Millisecond, msg, cond)
}

// Curl fetches url from inside the node with curl and returns the body.
func Curl(n *topo.Node, timeout time.Duration, url string, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+2*time.Second)
	defer cancel()
	args := append([]string{"-sS", "--max-time", fmt.Sprint(timeout.Seconds())}, extra...)
	args = append(args, url)
	out, err := n.Output(ctx, "curl", args...)
	return strings.TrimSpace(out), err
}
