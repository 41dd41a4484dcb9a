package xsk

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestObjectMatchesSource compiles xdp.c again, as go:generate does, and
// checks that the committed steer_bpfel.o and steer_bpfel.go are what it
// compiles to: the object the daemon loads is the source in the tree.
func TestObjectMatchesSource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bpf2go and runs clang")
	}
	// Literal lookups: topotest's TestToolTable reads them.
	_, errClang := exec.LookPath("clang")
	_, errStrip := exec.LookPath("llvm-strip")
	for _, err := range []error{errClang, errStrip} {
		if err != nil {
			if topotest.Strict() {
				t.Fatalf("needed to check the XDP object (scripts/deps.sh installs it): %v", err)
			}
			t.Skipf("not installed (apt-get install clang llvm libbpf-dev): %v", err)
		}
	}
	src, err := os.ReadFile("gen.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^//go:generate go run (\S+) (.*)$`).FindStringSubmatch(string(src))
	if m == nil {
		t.Fatal("no go:generate line in gen.go")
	}
	dir := t.TempDir()
	args := append([]string{"run", m[1], "-output-dir", dir}, strings.Fields(m[2])...)
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, f := range []string{"steer_bpfel.o", "steer_bpfel.go"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			out, _ := exec.Command("clang", "--version").Output()
			t.Errorf("committed %s differs from what xdp.c compiles to (%d vs %d bytes) with %s: run go generate ./forward/xsk",
				f, len(got), len(want), strings.SplitN(string(out), "\n", 2)[0])
		}
	}
}
