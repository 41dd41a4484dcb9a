package forward

import (
	"net"
	"net/netip"
	"testing"
)

// TestConnReuseAndRemovedReal: what a packet of a known tuple does, as
// IPVS with its default sysctls (conn_reuse_mode=1, expire_nodest_conn=0):
//   - a SYN on the tuple of a connection that ended (CLOSE, TIME_WAIT) is a
//     new connection, scheduled afresh;
//   - a SYN on the tuple of one still closing (DR's FIN_WAIT) stays with
//     its real server;
//   - packets of a connection whose real server was removed are dropped,
//     not sent to it — a new SYN on such a tuple too, unless the
//     connection had ended.
func TestConnReuseAndRemovedReal(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11", "198.18.0.12")
	dst := netip.AddrPortFrom(vip, 80)
	sentTo := func(c netip.AddrPort, flags string) string {
		t.Helper()
		n := len(tx.sent)
		w.feed(tcpFrame(t, clientMAC, dirMAC, c, dst, flags))
		if len(tx.sent) == n {
			return "dropped"
		}
		mac := net.HardwareAddr(decoded(t, tx.sent[len(tx.sent)-1].data).DstMAC()).String()
		for a, m := range rsMAC {
			if m.String() == mac {
				return a
			}
		}
		return mac
	}
	c1 := netip.MustParseAddrPort("198.18.1.1:41000")
	first := sentTo(c1, "S")
	other := map[string]string{"198.18.0.11": "198.18.0.12", "198.18.0.12": "198.18.0.11"}[first]
	sentTo(c1, "A")
	// Reset: CLOSE. A new SYN on the tuple is scheduled afresh: rr moves.
	sentTo(c1, "R")
	if got := sentTo(c1, "S"); got != other {
		t.Fatalf("a SYN reusing a closed connection's tuple went to %s, want %s (rescheduled)", got, other)
	}
	if n := u.Services()[0].Stats.Conns; n != 2 {
		t.Fatalf("%d connections counted, want 2", n)
	}
	// FIN: FIN_WAIT (DR's input-only table). A SYN stays with its server.
	sentTo(c1, "A")
	sentTo(c1, "F")
	if got := sentTo(c1, "S"); got != other {
		t.Fatalf("a SYN on a closing connection's tuple went to %s, want %s (kept)", got, other)
	}
	// A live connection to the server about to be removed.
	c2 := netip.MustParseAddrPort("198.18.1.1:42000")
	var c2Real string
	for c2Real = sentTo(c2, "S"); c2Real != first; c2Real = sentTo(c2, "S") {
		c2 = netip.AddrPortFrom(c2.Addr(), c2.Port()+1)
	}
	sentTo(c2, "A")
	if err := u.DeleteReal(key, netip.AddrPortFrom(netip.MustParseAddr(first), 8080)); err != nil {
		t.Fatal(err)
	}
	before := u.Drops().NoDest
	if got := sentTo(c2, "A"); got != "dropped" {
		t.Fatalf("a packet of a removed real server's connection went to %s, want it dropped", got)
	}
	if got := sentTo(c2, "S"); got != "dropped" {
		t.Fatalf("a SYN on a removed real server's live connection went to %s, want it dropped", got)
	}
	if d := u.Drops().NoDest - before; d != 2 {
		t.Fatalf("no_dest counted %d drops, want 2", d)
	}
	// Once it has ended (RST dropped too: the entry keeps its state), a
	// closed connection of the removed server is rescheduled on a SYN.
	c3 := netip.MustParseAddrPort("198.18.1.1:43000")
	if got := sentTo(c3, "S"); got != other {
		t.Fatalf("a new connection went to %s, want %s (the only one left)", got, other)
	}
}

// TestRemovedRealComesBack: a real server removed and added again while a
// connection to it lives is the same real server, as IPVS takes a
// destination back from its trash: the connection's packets flow again,
// and the service lists it once, with its counts.
func TestRemovedRealComesBack(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11")
	dst := netip.AddrPortFrom(vip, 80)
	c := netip.MustParseAddrPort("198.18.1.1:41000")
	rs := RealConfig{Addr: netip.MustParseAddr("198.18.0.11"), Port: 8080, Weight: 1}
	w.feed(tcpFrame(t, clientMAC, dirMAC, c, dst, "S"))
	w.feed(tcpFrame(t, clientMAC, dirMAC, c, dst, "A"))
	if err := u.DeleteReal(key, netip.AddrPortFrom(rs.Addr, rs.Port)); err != nil {
		t.Fatal(err)
	}
	n := len(tx.sent)
	w.feed(tcpFrame(t, clientMAC, dirMAC, c, dst, "A"))
	if len(tx.sent) != n {
		t.Fatal("a packet of a removed real server's connection was forwarded")
	}
	if err := u.AddReal(key, rs); err != nil {
		t.Fatal(err)
	}
	w.feed(tcpFrame(t, clientMAC, dirMAC, c, dst, "A"))
	if len(tx.sent) != n+1 {
		t.Fatal("the connection's packets did not flow again once its real server was back")
	}
	if got := net.HardwareAddr(decoded(t, tx.sent[n].data).DstMAC()).String(); got != rsMAC["198.18.0.11"].String() {
		t.Fatalf("sent to %s", got)
	}
	st := u.Services()[0]
	if len(st.Reals) != 1 || st.Reals[0].Stats.Conns != 1 || st.Reals[0].ActiveConns != 1 {
		t.Fatalf("the service lists %+v, want the one real server with its connection", st.Reals)
	}
	if got := len(u.e.reg.load().dests); got != 1 {
		t.Fatalf("%d real servers for one destination", got)
	}
}
