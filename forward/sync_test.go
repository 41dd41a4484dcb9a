package forward

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/syncmsg"
)

func drainSync(q *syncQueue) []syncmsg.Conn {
	var out []syncmsg.Conn
	for {
		select {
		case c := <-q.ch:
			out = append(out, c)
		default:
			return out
		}
	}
}

// TestSyncMaster: a master syncs a DR connection at its 3rd client packet
// (ESTABLISHED by then), and again when it starts closing; a persistent
// service's template travels with it.
func TestSyncMaster(t *testing.T) {
	t.Parallel()
	for _, persist := range []bool{false, true} {
		key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
		svc := ServiceConfig{Key: key, Scheduler: "rr", Method: DR}
		if persist {
			svc.Persistence = 300e9
		}
		_, w, _ := testBackend(t, svc, "198.18.0.11")
		q := w.e.newSyncQueue(16)
		w.e.syncq.Store(q)
		client := netip.MustParseAddrPort("198.18.1.1:40000")
		w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S"))
		w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A"))
		if got := drainSync(q); len(got) != 0 {
			t.Fatalf("persist %v: synced before the 3rd packet: %+v", persist, got)
		}
		w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A"))
		got := drainSync(q)
		want := syncmsg.Conn{Proto: TCP, Flags: syncmsg.DRoute | syncmsg.NoOutput, State: uint16(conntab.TCPEstablished),
			CAddr: client.Addr(), CPort: client.Port(), VAddr: vip, VPort: 80,
			DAddr: netip.MustParseAddr("198.18.0.11"), DPort: 8080, Timeout: 900}
		wantN := 1
		if persist {
			wantN = 2
		}
		if len(got) != wantN || got[0] != want {
			t.Fatalf("persist %v: synced %+v, want %+v (and the template with persistence)", persist, got, want)
		}
		if persist {
			tpl := got[1]
			if tpl.Flags != syncmsg.Template|syncmsg.NoCPort|syncmsg.DRoute || tpl.CAddr != client.Addr() ||
				tpl.DAddr != want.DAddr || tpl.Timeout != 300 || tpl.VPort != 80 {
				t.Errorf("template %+v", tpl)
			}
		}
		w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A"))
		if got := drainSync(q); len(got) != 0 {
			t.Errorf("persist %v: the 4th packet synced again: %+v", persist, got)
		}
		w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "F"))
		if got := drainSync(q); len(got) == 0 || got[0].State != uint16(conntab.TCPFinWait) || got[0].Timeout != 120 {
			t.Errorf("persist %v: FIN synced %+v, want FIN_WAIT with its 120 s", persist, got)
		}
	}
}

// TestSyncBackup: a backup given a connection (and a template) forwards the
// connection's next packet, not a SYN, to the synced real server — the one
// the scheduler would not have picked — and a new connection from the
// client follows the template.
func TestSyncBackup(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR, Persistence: 300e9}, "198.18.0.11", "198.18.0.12")
	client := netip.MustParseAddrPort("198.18.1.1:40000")
	rs := netip.MustParseAddr("198.18.0.11") // rr's first pick is the last added, .12
	u.applySync([]syncmsg.Conn{
		{Proto: TCP, Flags: syncmsg.DRoute | syncmsg.NoOutput, State: uint16(conntab.TCPEstablished),
			CAddr: client.Addr(), CPort: client.Port(), VAddr: vip, VPort: 80, DAddr: rs, DPort: 8080, Timeout: 900},
		{Proto: TCP, Flags: syncmsg.DRoute | syncmsg.Template | syncmsg.NoCPort,
			CAddr: client.Addr(), VAddr: vip, VPort: 80, DAddr: rs, DPort: 8080, Timeout: 300},
		{Proto: TCP, CAddr: client.Addr(), CPort: 1, VAddr: vip, VPort: 81, DAddr: rs, DPort: 8080, Timeout: 900},
	}, w.e.tick(time.Now()))
	st := u.SyncStats()
	if st.Received != 2 || st.Unknown != 1 {
		t.Errorf("stats %+v, want 2 applied and 1 of an unknown service", st)
	}
	w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A"))
	if len(tx.sent) != 1 {
		t.Fatalf("the synced connection's packet: %d frames sent, want 1", len(tx.sent))
	}
	if p := decoded(t, tx.sent[0].data); p.DstAddr() != vip || string(p.DstMAC()) != string(rsMAC[rs.String()]) {
		t.Errorf("sent to %x, want %v's MAC", p.DstMAC(), rs)
	}
	// The client's MAC was learned from that packet.
	var found bool
	u.e.conns.Walk(func(e *conntab.Entry) bool {
		found = e.MAC == [6]byte(clientMAC) && e.State == conntab.TCPEstablished
		return true
	})
	if !found {
		t.Error("the synced entry did not learn the client's MAC")
	}
	activeOn := func(a netip.Addr) int32 {
		for _, r := range u.Services()[0].Reals {
			if r.Config.Addr == a {
				return r.ActiveConns
			}
		}
		return 0
	}
	if n := activeOn(rs); n != 1 {
		t.Errorf("%v: %d active connections, want the synced one", rs, n)
	}
	// A new connection from the client goes where the template says.
	w.feed(tcpFrame(t, clientMAC, dirMAC, netip.AddrPortFrom(client.Addr(), 40001), netip.AddrPortFrom(vip, 80), "S"))
	if len(tx.sent) != 2 {
		t.Fatalf("a new connection: %d frames sent", len(tx.sent))
	}
	if p := decoded(t, tx.sent[1].data); string(p.DstMAC()) != string(rsMAC[rs.String()]) {
		t.Errorf("a new connection went to %x, want %v (the synced template)", p.DstMAC(), rs)
	}

}
