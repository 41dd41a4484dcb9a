package topo_test

import (
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

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
