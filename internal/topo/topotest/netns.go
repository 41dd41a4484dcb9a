package topotest

import (
	"runtime"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/ulvs/ulvs/internal/topo"
)

// InNS runs fn on an OS thread that has entered the node's network
// namespace, then returns the thread to the test's namespace. Sockets, TUN
// devices and netlink handles fn opens stay in the node's namespace, and
// commands fn runs (os/exec forks from the locked thread) run there too;
// goroutines fn starts do not inherit the namespace.
func InNS(t testing.TB, n *topo.Node, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(n.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic("topotest: cannot return to the test's namespace: " + err.Error())
		}
	}()
	fn()
}
