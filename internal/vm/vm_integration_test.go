package vm_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
	"github.com/ulvs/ulvs/internal/vm/vmtest"
)

// TestVMBoot boots Debian's kernel with the ip_vs modules, checks that
// they are loaded and that ipvsadm runs with its libraries, and that the
// guest reaches a namespace on the host side of a tap.
func TestVMBoot(t *testing.T) {
	kit := vmtest.Require(t)
	topotest.Require(t)
	tp := topotest.New(t)
	topotest.AddNode(t, tp, "peer", topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.1/24")}})
	vmtest.AddTap(t, tp, "vmtap0")
	m := vmtest.Boot(t, kit, vmtest.Options{Modules: []string{"ip_vs", "ip_vs_rr"}, NetNS: tp.Switch, Tap: "vmtap0"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	mods, err := m.ReadFile(ctx, "/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ip_vs ", "ip_vs_rr ", "virtio_net "} {
		if !strings.Contains(mods, want) {
			t.Errorf("module %q not loaded in the guest:\n%s", want, mods)
		}
	}
	out, err := m.Exec(ctx, "ipvsadm", "-Ln")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "IP Virtual Server version") {
		t.Errorf("ipvsadm -Ln in the guest printed:\n%s", out)
	}
	if _, err := m.Shell(ctx, "ip link set eth0 up\nip addr add 198.18.0.2/24 dev eth0"); err != nil {
		t.Fatal(err)
	}
	topotest.Eventually(t, 30*time.Second, "the guest does not answer ping through the tap", func() bool {
		_, err := m.Exec(ctx, "ping", "-c1", "-W1", "198.18.0.1")
		return err == nil
	})
}
