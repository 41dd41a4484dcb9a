package health

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the house rule: health never imports forward, vrrp or
// conf (cmd/ulvsd translates and wires them).
func TestImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/ulvs/ulvs/health").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/ulvs/ulvs/forward", "github.com/ulvs/ulvs/vrrp", "github.com/ulvs/ulvs/conf"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("health depends on %s", dep)
			}
		}
	}
}
