package ipvs

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the house rule: forward (and so its IPVS backend)
// never imports vrrp, health or conf; cmd/ulvsd translates and wires them.
// The VM tests may read seed configs through conf: only the package's
// own dependencies are checked.
func TestImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/ulvs/ulvs/forward/ipvs").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/ulvs/ulvs/vrrp", "github.com/ulvs/ulvs/health", "github.com/ulvs/ulvs/conf"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("forward/ipvs depends on %s", dep)
			}
		}
	}
}
