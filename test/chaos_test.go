package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestChaosShort runs the short chaos mix (`ulvslab chaos --duration 60s`,
// what `make chaos` runs for 10 minutes): a DR lab with two directors and
// lvs_sync_daemon under a reload storm with broken configurations, hostile
// VRRP, metrics and control socket floods, a graceful and a crash
// failover, with requests and paced downloads through the VIP; every
// invariant must hold (docs/lab.md).
func TestChaosShort(t *testing.T) {
	topotest.Require(t, "nginx", "nft", "trafgen", "setpriv", "prlimit")
	// ulvslab finds ulvsd and ulvsadm beside itself: build all three.
	topotest.Binary(t, "./cmd/ulvsd")
	topotest.Binary(t, "./cmd/ulvsadm")
	lab := topotest.Binary(t, "./cmd/ulvslab")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lab, "--prefix", fmt.Sprintf("uc%d-", os.Getpid()%100000), "--state-dir", t.TempDir(),
		"chaos", "--duration", "60s", "--out", out)
	b, err := cmd.CombinedOutput()
	summary, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatalf("ulvslab chaos: %v\n%s\n%s", err, b, summary)
	}
	t.Logf("%s", summary)
}
