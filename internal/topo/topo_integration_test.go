package topo_test

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

func TestTopologyNginxCurl(t *testing.T) {
	topotest.Require(t, "nginx", "curl", "ss")
	tp := topotest.New(t)
	client := topotest.AddNode(t, tp, "client", topo.NodeConfig{
		Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("2001:db8::1/64")}, NoDAD: true})
	rs := topotest.AddNode(t, tp, "rs1", topo.NodeConfig{
		Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.11/24"), netip.MustParsePrefix("2001:db8::11/64")}, NoDAD: true})
	if _, err := rs.StartNginx(topo.NginxConfig{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"http://198.18.0.11/", "http://[2001:db8::11]/"} {
		body, err := topotest.Curl(client, 5*time.Second, url)
		if err != nil {
			t.Fatal(err)
		}
		if body != "rs1" {
			t.Errorf("%s: got %q, want the server to name itself (rs1)", url, body)
		}
	}
	if got := client.Addr(4); got != netip.MustParseAddr("198.18.0.1") {
		t.Errorf("Addr(4) = %v", got)
	}
	mac, err := rs.MAC("eth0")
	if err != nil || len(mac) != 6 {
		t.Errorf("MAC = %v, %v", mac, err)
	}
}

func TestCleanupRemovesEverything(t *testing.T) {
	topotest.Require(t, "sleep")
	tp := topotest.New(t)
	n := topotest.AddNode(t, tp, "x", topo.NodeConfig{})
	p, err := n.Start(t.TempDir(), "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	// The process is found by its namespace, so wait until `ip netns exec`
	// has entered it (under load, Start can return before that).
	topotest.Eventually(t, 5*time.Second, "sleep never showed up in its namespace", func() bool {
		out, err := exec.Command("ip", "netns", "pids", n.NS).Output()
		return err == nil && strings.Contains(string(out), strconv.Itoa(p.Pid()))
	})
	// Simulate a crashed owner: clean up by prefix only.
	if err := topo.Cleanup(tp.Prefix); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("process inside the namespace survived Cleanup")
	}
	left, err := topo.Namespaces(tp.Prefix)
	if err != nil || len(left) != 0 {
		t.Fatalf("namespaces left: %v %v", left, err)
	}
	if strings.Contains(tp.Switch, "/") {
		t.Fatal("bad switch name")
	}
}

// TestDetachedAdoptAndNamespaces covers what a later process needs to
// drive a topology an earlier one made: a detached process outlives the
// topology's Close, Open/Adopt reach the nodes again, InNamespace opens
// sockets inside a node, PidInNamespace tells our pid from others, and
// RemoveNamespaces kills what runs inside.
func TestDetachedAdoptAndNamespaces(t *testing.T) {
	topotest.Require(t, "sleep")
	t.Parallel()
	tp := topotest.New(t)
	addr := netip.MustParsePrefix("198.18.7.1/24")
	n := topotest.AddNode(t, tp, "x", topo.NodeConfig{Addrs: []netip.Prefix{addr}})
	p, err := n.StartDetached(filepath.Join(t.TempDir(), "sleep.log"), "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	topotest.Eventually(t, 5*time.Second, "sleep never entered its namespace", func() bool {
		return topo.PidInNamespace(p.Pid(), n.NS)
	})
	if topo.PidInNamespace(os.Getpid(), n.NS) {
		t.Error("the test process is reported inside the node")
	}
	// Its own session: it would survive the caller's terminal going away.
	if sid, err := unix.Getsid(p.Pid()); err != nil || sid != p.Pid() {
		t.Errorf("detached process: session %d, %v; want its own (%d)", sid, err, p.Pid())
	}

	again, err := topo.Open(tp.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	m := again.Adopt("x", topo.NodeConfig{Addrs: []netip.Prefix{addr}}, n.Port)
	if m.NS != n.NS || again.Node("x") != m {
		t.Fatalf("adopted node %+v, want namespace %s", m, n.NS)
	}
	var local net.Addr
	err = topo.InNamespace(m.NS, func() error {
		ln, err := net.Listen("tcp4", addr.Addr().String()+":0")
		if err != nil {
			return err
		}
		local = ln.Addr()
		return ln.Close()
	})
	if err != nil {
		t.Fatalf("listening on the node's address from inside it: %v", err)
	}
	if _, err := net.Listen("tcp4", local.String()); err == nil {
		t.Error("the node's address is usable outside its namespace")
	}

	if err := topo.RemoveNamespaces(m.NS); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the detached process survived RemoveNamespaces")
	}
	if topo.PidInNamespace(p.Pid(), m.NS) {
		t.Error("PidInNamespace still true for a removed namespace")
	}
}
