package topo

import (
	"fmt"
	"runtime"
	"syscall"

	"github.com/vishvananda/netns"

	"github.com/ulvs/ulvs/internal/procstat"
)

// InNamespace runs fn on an OS thread that has entered the named network
// namespace (a node's NS, or a topology's Switch), then returns the thread
// to where it was. Sockets fn opens stay in that namespace after fn
// returns, so a caller can dial, listen or capture there and use the
// socket from any goroutine; goroutines fn starts do not inherit the
// namespace. If the thread cannot get back, it is not handed back to the
// Go scheduler (it ends with the goroutine) and InNamespace reports it.
func InNamespace(ns string, fn func() error) (err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("topo: current namespace: %w", err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("topo: namespace %s: %w", ns, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("topo: enter %s: %w", ns, err)
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			// Left locked on purpose: the thread dies with this goroutine
			// instead of running other goroutines in the wrong namespace.
			err = fmt.Errorf("topo: leave %s: %w", ns, rerr)
			return
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// PidInNamespace reports whether process pid is alive (not a zombie) and
// in the named network namespace. It is how a later command makes sure a
// pid it recorded still names its own process before signalling it.
func PidInNamespace(pid int, ns string) bool {
	if pid <= 1 {
		return false
	}
	var want, got syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &want); err != nil {
		return false
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &got); err != nil {
		return false
	}
	if want.Dev != got.Dev || want.Ino != got.Ino {
		return false
	}
	r, err := procstat.Proc()
	return err == nil && r.Alive(pid)
}
