// Package vmtest adapts package vm to tests: it decides whether a VM test
// runs, builds the initramfs with a test's agent and boots it, and joins
// the guest to a netns topology through a tap device.
//
// VM tests are slow (a TCG boot takes seconds and packets cross an
// emulated NIC), so they run only when ULVS_VM=1, as `make ipvs-vm-test`
// sets after preparing the kit. With ULVS_VM=1 anything missing is a
// failure, never a skip.
package vmtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
	"github.com/ulvs/ulvs/internal/vm"
)

// Enabled reports whether VM tests run (ULVS_VM=1).
func Enabled() bool { return os.Getenv("ULVS_VM") == "1" }

// CacheDir is the kit's directory: $ULVS_VM_CACHE, or .cache/ipvs-vm under
// the module root.
func CacheDir() (string, error) {
	if d := os.Getenv("ULVS_VM_CACHE"); d != "" {
		return d, nil
	}
	root, err := topotest.ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache", "ipvs-vm"), nil
}

// Require skips the test unless VM tests are enabled, then fails it unless
// it runs as root with the kit prepared, and returns the kit.
func Require(t testing.TB) *vm.Kit {
	t.Helper()
	if !Enabled() {
		t.Skip("VM test skipped: set ULVS_VM=1 (make ipvs-vm-test prepares the kit and does)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("VM test needs root (tap devices, namespaces)")
	}
	dir, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	kit, err := vm.FindKit(dir)
	if err != nil {
		t.Fatalf("%v (run scripts/ipvs-vm.sh fetch)", err)
	}
	return kit
}

// Options are what a test's VM needs beyond the defaults.
type Options struct {
	// Agent is the agent's main package (default the plain testagent).
	Agent string
	// Modules are loaded at boot.
	Modules []string
	// NetNS and Tap attach eth0 (see AddTap).
	NetNS, Tap string
	// MemoryMB defaults to 512.
	MemoryMB int
}

// Boot builds the agent and the initramfs and boots the VM, which is shut
// down when the test ends. The console is logged when the test fails.
func Boot(t testing.TB, kit *vm.Kit, o Options) *vm.Machine {
	t.Helper()
	if o.Agent == "" {
		o.Agent = "./internal/vm/testagent"
	}
	bin := topotest.Binary(t, o.Agent)
	initrd := filepath.Join(t.TempDir(), "initrd.cpio")
	if _, err := kit.BuildInitramfs(initrd, vm.InitramfsConfig{Agent: bin, Modules: o.Modules}); err != nil {
		t.Fatal(err)
	}
	m, err := vm.Start(context.Background(), vm.Config{Kit: kit, Initrd: initrd, NetNS: o.NetNS, Tap: o.Tap,
		MemoryMB: o.MemoryMB})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VM booted to a serving agent in %v", m.BootTime().Round(10e6))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest console:\n%s", m.ConsoleTail(60))
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// AddTap creates a tap device in the topology's switch namespace, joined to
// its bridge, for a VM started with NetNS = tp.Switch. It goes away with
// the switch namespace.
func AddTap(t testing.TB, tp *topo.Topology, name string) {
	t.Helper()
	steps := [][]string{
		{"-n", tp.Switch, "tuntap", "add", "dev", name, "mode", "tap"},
		{"-n", tp.Switch, "link", "set", name, "master", topo.BridgeName},
		{"-n", tp.Switch, "link", "set", name, "up"},
	}
	for _, s := range steps {
		if out, err := runIP(s...); err != nil {
			t.Fatalf("ip %v: %v: %s", s, err, out)
		}
	}
}
