package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where iproute2 (ip netns add) and keepalived keep named
// network namespaces.
const netnsDir = "/run/netns"

// inNetNamespace reports whether the process runs in the named network
// namespace.
func inNetNamespace(name string) (bool, error) {
	var want, cur unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, name), &want); err != nil {
		return false, fmt.Errorf("net_namespace %s: %w (keepalived and ulvs enter a namespace that exists: ip netns add %s)",
			name, err, name)
	}
	if err := unix.Stat("/proc/self/ns/net", &cur); err != nil {
		return false, fmt.Errorf("net_namespace %s: %w", name, err)
	}
	return want.Dev == cur.Dev && want.Ino == cur.Ino, nil
}

// enterNetNamespace makes the whole process run in the named network
// namespace, as keepalived's net_namespace does (setns before anything
// opens a socket). A Go process has many threads and setns moves only the
// calling one, so ulvsd moves one locked thread and executes itself again
// from it: execve keeps that thread's namespace for the new image, which
// finds itself inside and goes on. It returns only on error, or at once
// when the process is inside already.
func enterNetNamespace(name string) error {
	inside, err := inNetNamespace(name)
	if err != nil || inside {
		return err
	}
	runtime.LockOSThread() // for good: this thread leaves the original namespace
	h, err := netns.GetFromPath(filepath.Join(netnsDir, name))
	if err != nil {
		return fmt.Errorf("net_namespace %s: %w", name, err)
	}
	if err := netns.Set(h); err != nil {
		return fmt.Errorf("net_namespace %s: setns: %w", name, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("net_namespace %s: %w", name, err)
	}
	err = syscall.Exec(exe, os.Args, os.Environ())
	return fmt.Errorf("net_namespace %s: re-executing in the namespace: %w", name, err)
}
