package vrrp

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// nftList lists a node's nftables ruleset.
func (l *lab) nftList(node string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.nodes[node].Output(ctx, "nft", "list", "ruleset")
	if err != nil {
		l.t.Fatalf("nft list ruleset in %s: %v", node, err)
	}
	return out
}

var nftElements = regexp.MustCompile(`(?s)\s*elements = \{[^}]*\}`)

// TestNoAcceptNetns: a ulvs master in no_accept mode drops traffic to its
// VIP (an nginx on the master does not answer through it) while a master
// in accept mode answers; Debian's keepalived, master with no_accept
// beside it, drops the same way, and both tables list the same (but for
// the addresses in the sets). The table goes when ulvs stops.
func TestNoAcceptNetns(t *testing.T) {
	t.Parallel()
	l := newLab(t, "u", "k")
	topotest.Require(t, "nginx", "curl")
	for _, n := range []string{"u", "k"} {
		if _, err := l.nodes[n].StartNginx(topo.NginxConfig{Dir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
	}
	noAccept := netip.MustParseAddr("198.18.0.100")
	accept := netip.MustParseAddr("198.18.0.101")
	kaVIP := netip.MustParseAddr("198.18.0.110")
	u := l.startULVS("u", Config{Instances: []Instance{
		{Name: "VI_1", Interface: "eth0", VRID: 61, Priority: 100, NoAccept: true,
			VIPs: []VIP{{Prefix: netip.PrefixFrom(noAccept, 24)}}},
		{Name: "VI_2", Interface: "eth0", VRID: 62, Priority: 100, VIPs: []VIP{{Prefix: netip.PrefixFrom(accept, 24)}}},
	}})
	l.startKeepalived("k", "global_defs {\n  nftables\n}\n"+kaInstance{Name: "VI_1", State: "BACKUP", Iface: "eth0",
		VRID: 71, Prio: 100, Advert: "1", VIPs: []string{"198.18.0.110/24"}, Extra: "  no_accept\n"}.String())
	for _, w := range []struct {
		node string
		addr netip.Addr
	}{{"u", noAccept}, {"u", accept}, {"k", kaVIP}} {
		l.waitHolder(w.node, w.addr, 15*time.Second)
	}
	client := l.nodes["client"]
	if body, err := topotest.Curl(client, 2*time.Second, "http://198.18.0.101/"); err != nil || body != "u" {
		t.Errorf("accept mode VIP: %q, %v; want u's page", body, err)
	}
	for _, v := range []netip.Addr{noAccept, kaVIP} {
		if body, err := topotest.Curl(client, 2*time.Second, "http://"+v.String()+"/"); err == nil {
			t.Errorf("no_accept VIP %v answered %q", v, body)
		}
	}
	// The holder answers on its own address: the drop is the VIP's.
	if body, err := topotest.Curl(client, 2*time.Second, "http://198.18.0.11/"); err != nil || body != "u" {
		t.Errorf("u's own address: %q, %v", body, err)
	}
	ul, kl := l.nftList("u"), l.nftList("k")
	if !strings.Contains(ul, "198.18.0.100") || strings.Contains(ul, "198.18.0.101") {
		t.Errorf("ulvs's set must hold the no_accept VIP and not the accept one:\n%s", ul)
	}
	if a, b := nftElements.ReplaceAllString(ul, ""), nftElements.ReplaceAllString(kl, ""); a != b {
		t.Errorf("ulvs's table is not keepalived's.\nulvs:\n%s\nkeepalived:\n%s", ul, kl)
	}
	st := u.Status()
	if st.Instances[0].State != StateMaster {
		t.Fatalf("VI_1 %v", st.Instances[0].State)
	}
	if err := u.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	topotest.Eventually(t, 10*time.Second, "ulvs did not stop", func() bool { ok, _ := u.proc.Exited(); return ok })
	if got := l.nftList("u"); strings.Contains(got, "table") {
		t.Errorf("the firewall table is still there after ulvs stopped:\n%s", got)
	}
}

// TestStaticNetns: static_ipaddress, static_routes and static_rules appear
// in the namespace when ulvs starts, a deleted static address comes back,
// and all of them leave when it stops.
func TestStaticNetns(t *testing.T) {
	t.Parallel()
	l := newLab(t, "u")
	n := l.nodes["u"]
	topotest.Run(t, n, "ip", "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1")
	topotest.Run(t, n, "ip", "link", "set", "dummy1", "up")
	topotest.Run(t, n, "ip", "link", "set", "dummy0", "up")
	u := l.startULVS("u", Config{
		Static: Static{
			Addresses: []StaticAddress{
				{VIP: VIP{Prefix: netip.MustParsePrefix("198.18.40.1/24"), Dev: "dummy0"}, TrackGroup: "G"},
				{VIP: VIP{Prefix: netip.MustParsePrefix("198.18.41.1/24"), Dev: "eth0", Label: "eth0:st"}},
			},
			Routes: []StaticRoute{{Route: Route{Dst: netip.MustParsePrefix("198.18.42.0/24"),
				Gateway: netip.MustParseAddr("198.18.40.254"), Dev: "dummy0"}}},
			Rules:       []StaticRule{{Rule: Rule{From: netip.MustParsePrefix("198.18.43.0/24"), Table: 142, Priority: 1420}}},
			TrackGroups: []TrackGroup{{Name: "G", Instances: []string{"VI_1"}}},
		},
		Instances: []Instance{{Name: "VI_1", Interface: "eth0", VRID: 63, Priority: 100,
			VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}},
	})
	ip := func(args ...string) string { return topotest.Run(t, n, "ip", args...) }
	topotest.Eventually(t, 10*time.Second, "static items did not appear", func() bool {
		return strings.Contains(ip("addr", "show", "dummy0"), "198.18.40.1/24") &&
			strings.Contains(ip("addr", "show", "eth0"), "198.18.41.1/24") &&
			strings.Contains(ip("route", "show"), "198.18.42.0/24 via 198.18.40.254 dev dummy0") &&
			strings.Contains(ip("rule", "show"), "1420:\tfrom 198.18.43.0/24 lookup 142")
	})
	if !strings.Contains(ip("addr", "show", "eth0"), "eth0:st") {
		t.Errorf("the static address lost its label:\n%s", ip("addr", "show", "eth0"))
	}
	l.waitHolder("u", netip.MustParseAddr("198.18.0.100"), 15*time.Second)
	ip("addr", "del", "198.18.41.1/24", "dev", "eth0")
	topotest.Eventually(t, 5*time.Second, "the deleted static address did not come back", func() bool {
		return strings.Contains(ip("addr", "show", "eth0"), "198.18.41.1/24")
	})
	// The track group's instance needs dummy0.
	ip("link", "set", "dummy0", "down")
	topotest.Eventually(t, 5*time.Second, "VI_1 did not go to FAULT with dummy0 down", func() bool {
		return u.Status().Instances[0].State == StateFault
	})
	ip("link", "set", "dummy0", "up")
	topotest.Eventually(t, 10*time.Second, "dummy0's static route did not come back", func() bool {
		return strings.Contains(ip("route", "show"), "198.18.42.0/24 via 198.18.40.254 dev dummy0")
	})
	l.waitHolder("u", netip.MustParseAddr("198.18.0.100"), 15*time.Second)
	if err := u.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	topotest.Eventually(t, 10*time.Second, "ulvs did not stop", func() bool { ok, _ := u.proc.Exited(); return ok })
	all := ip("addr") + ip("route", "show") + ip("rule", "show")
	for _, s := range []string{"198.18.40.1", "198.18.41.1", "198.18.42.0", "198.18.43.0"} {
		if strings.Contains(all, s) {
			t.Errorf("%s is still there after ulvs stopped:\n%s", s, all)
		}
	}
}

// TestTrackProcessNginxPair: two ulvs nodes in front of their own nginx,
// each tracking its nginx by process (vrrp_track_process, weight 0): when
// nginx dies on the master, the VIP moves to the backup and the client
// gets the backup's page. The nodes share one PID space, so each nginx
// runs under a name of its own (a link to the binary), the name
// /proc/PID/comm shows and track_process matches.
func TestTrackProcessNginxPair(t *testing.T) {
	t.Parallel()
	l := newLab(t, "n1", "n2")
	topotest.Require(t, "nginx", "curl")
	nginxBin, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatal(err)
	}
	vipA := netip.MustParseAddr("198.18.0.100")
	ngx := map[string]*topo.Proc{}
	nodes := map[string]*ulvs{}
	for i, name := range []string{"n1", "n2"} {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "ngx-"+name+"-"+strconv.Itoa(os.Getpid()))
		if err := os.Symlink(nginxBin, bin); err != nil {
			t.Fatal(err)
		}
		p, err := l.nodes[name].StartNginx(topo.NginxConfig{Dir: dir, Binary: bin})
		if err != nil {
			t.Fatal(err)
		}
		ngx[name] = p
		comm := filepath.Base(bin)
		if len(comm) > 15 {
			comm = comm[:15] // the kernel's TASK_COMM_LEN
		}
		nodes[name] = l.startULVS(name, Config{
			Processes: []TrackProcess{{Name: "nginx", Process: comm, Quorum: 1}},
			Instances: []Instance{{Name: "VI_1", Interface: "eth0", VRID: 64, Priority: 150 - 50*i,
				VIPs: []VIP{{Prefix: netip.PrefixFrom(vipA, 24)}}, TrackProcesses: []TrackRef{{Name: "nginx"}}}},
		})
	}
	l.waitHolder("n1", vipA, 15*time.Second)
	client := l.nodes["client"]
	if body, err := topotest.Curl(client, 2*time.Second, "http://198.18.0.100/"); err != nil || body != "n1" {
		t.Fatalf("VIP serves %q (%v), want n1", body, err)
	}
	if tr := nodes["n1"].Status().Instances[0].Trackers; len(tr) == 0 || !strings.HasPrefix(tr[0].Status, "UP") {
		t.Errorf("n1's trackers %+v, want nginx UP", tr)
	}
	killed := time.Now()
	ngx["n1"].Kill()
	l.waitHolder("n2", vipA, 10*time.Second)
	t.Logf("VIP moved %v after nginx died on n1", time.Since(killed).Round(time.Millisecond))
	if st := nodes["n1"].Status().Instances[0].State; st != StateFault {
		t.Errorf("n1 is %v, want FAULT", st)
	}
	topotest.Eventually(t, 5*time.Second, "the VIP does not serve n2's page", func() bool {
		body, err := topotest.Curl(client, 2*time.Second, "http://198.18.0.100/")
		return err == nil && body == "n2"
	})
}
