package route

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the house rule: route never imports forward, vrrp,
// health or conf (cmd/ulvsd translates and wires them), and of ulvs only
// cmd imports route.
func TestImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/ulvs/ulvs/route").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"forward", "vrrp", "health", "conf"} {
			b := "github.com/ulvs/ulvs/" + banned
			if dep == b || strings.HasPrefix(dep, b+"/") {
				t.Errorf("route depends on %s", dep)
			}
		}
	}
	out, err = exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/ulvs/ulvs/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "github.com/ulvs/ulvs/cmd/") || strings.HasPrefix(f[0], "github.com/ulvs/ulvs/route") {
			continue
		}
		for _, imp := range f[1:] {
			if imp == "github.com/ulvs/ulvs/route" {
				t.Errorf("%s imports route; only cmd may", f[0])
			}
		}
	}
}
