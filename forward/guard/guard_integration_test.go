package guard

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

func TestSyncInstallsAndCloseRemoves(t *testing.T) {
	topotest.Require(t, "nft")
	tp := topotest.New(t)
	n := topotest.AddNode(t, tp, "dir", topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.40.1/24")}})
	list := func() string {
		out, _ := n.Output(context.Background(), "nft", "list", "ruleset")
		return out
	}
	var g *Guard
	var err error
	topotest.InNS(t, n, func() {
		if g, err = New(Config{Table: "ulvstest", Interfaces: []string{"eth0"}}); err != nil {
			return
		}
		if err = g.Sync([]Tuple{{Addr: netip.MustParseAddr("198.18.40.100"), Proto: 6, Port: 80}}, nil); err != nil {
			return
		}
		err = g.Sync([]Tuple{{Addr: netip.MustParseAddr("198.18.40.100"), Proto: 17, Port: 53}},
			[]Tuple{{Addr: netip.MustParseAddr("198.18.40.11"), Proto: 17, Port: 53}})
		if err != nil {
			return
		}
		err = g.SetLocal(Local{Device: "ulvs-local", Maps: []PortMap{
			{Addr: netip.MustParseAddr("198.18.40.100"), Proto: 17, Port: 53, ToPort: 5353},
			{Addr: netip.MustParseAddr("2001:db8::100"), Proto: 132, ToPort: 9}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := list()
	for _, want := range []string{"table inet ulvstest", "udp dport 53 drop", "fib daddr type != local drop",
		`iifname != "eth0" return`, "dnat ip to 198.18.40.100:5353", "dnat ip6 to [2001:db8::100]:9",
		`iifname "ulvs-local" fib daddr type != local drop`} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}
	if strings.Contains(rs, "tcp dport 80") {
		t.Errorf("the first Sync's rule survived the second:\n%s", rs)
	}
	topotest.InNS(t, n, func() { err = g.Close() })
	if err != nil {
		t.Fatal(err)
	}
	if rs := list(); strings.Contains(rs, "ulvstest") {
		t.Fatalf("table left after Close:\n%s", rs)
	}
}
