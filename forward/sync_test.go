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

// setHops gives every real server a resolved next hop, as testBackend does
// for those it adds.
func setHops(u *Userspace) {
	for _, r := range u.e.reg.reals {
		if r == nil || r.hop.Load() != nil {
			continue
		}
		h := &hop{ifindex: 2, mtu: 1500, src: []byte{198, 18, 0, 2}}
		copy(h.srcMAC[:], dirMAC)
		copy(h.dstMAC[:], rsMAC[r.cfg.Addr.String()])
		r.hop.Store(h)
	}
}

// TestSyncWaitsForItsRealServer: a backup given a connection to a real
// server it lacks at that moment (its checker took it out, as while its
// link was cut) keeps it and applies it when the real server is added, as
// kernel IPVS binds such a connection late; the connection's next packet
// then goes to that real server, not to the one the scheduler picks. A
// connection of a service the backup lacks is not kept, and one that
// waited past its own timeout is not applied. Without the wait, a download
// begun through the backup while the master's link was cut broke when the
// master came back (make chaos, TestSyncAfterLinkCut).
func TestSyncWaitsForItsRealServer(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.12")
	client := netip.MustParseAddrPort("198.18.1.1:40000")
	rs := netip.MustParseAddr("198.18.0.11")
	late := netip.MustParseAddr("198.18.0.13")
	u.applySync([]syncmsg.Conn{
		{Proto: TCP, Flags: syncmsg.DRoute | syncmsg.NoOutput, State: uint16(conntab.TCPEstablished),
			CAddr: client.Addr(), CPort: client.Port(), VAddr: vip, VPort: 80, DAddr: rs, DPort: 8080, Timeout: 900},
		{Proto: TCP, Flags: syncmsg.DRoute | syncmsg.NoOutput, State: uint16(conntab.TCPEstablished),
			CAddr: client.Addr(), CPort: client.Port() + 1, VAddr: vip, VPort: 80, DAddr: late, DPort: 8080, Timeout: 1},
		{Proto: TCP, CAddr: client.Addr(), CPort: 1, VAddr: vip, VPort: 81, DAddr: rs, DPort: 8080, Timeout: 900},
	}, w.e.tick(time.Now()))
	if st := u.SyncStats(); st.Received != 0 || st.Unknown != 3 {
		t.Fatalf("stats %+v, want none applied and 3 unknown", st)
	}
	if err := u.AddReal(key, RealConfig{Addr: rs, Port: 8080, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	setHops(u)
	if st := u.SyncStats(); st.Received != 1 {
		t.Fatalf("after %v was added: stats %+v, want its waiting connection applied", rs, st)
	}
	// Not a SYN: without the synced entry this packet would be dropped.
	w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A"))
	if len(tx.sent) != 1 {
		t.Fatalf("the synced connection's packet: %d frames sent, want 1", len(tx.sent))
	}
	if p := decoded(t, tx.sent[0].data); string(p.DstMAC()) != string(rsMAC[rs.String()]) {
		t.Errorf("sent to %x, want %v's MAC (the synced real server)", p.DstMAC(), rs)
	}
	for _, r := range u.Services()[0].Reals {
		if r.Config.Addr == rs && r.ActiveConns != 1 {
			t.Errorf("%v: %d active connections, want the synced one", rs, r.ActiveConns)
		}
	}
	// The connection to .13 waited at most its own timeout (1 s).
	time.Sleep(1100 * time.Millisecond)
	if err := u.AddReal(key, RealConfig{Addr: late, Port: 8080, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if st := u.SyncStats(); st.Received != 1 {
		t.Errorf("after its timeout: stats %+v, the expired connection was applied", st)
	}
	u.e.reg.mu.Lock()
	held := len(u.syncHeld)
	u.e.reg.mu.Unlock()
	if held != 0 {
		t.Errorf("%d connections still held, want none (applied, expired, or of an unknown service)", held)
	}
}

// TestSyncHeldBounded: at most syncHeldMax synced connections wait for
// their real server; the oldest make room.
func TestSyncHeldBounded(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, _ := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.12")
	rs := netip.MustParseAddr("198.18.0.11")
	conns := make([]syncmsg.Conn, syncHeldMax+10)
	for i := range conns {
		conns[i] = syncmsg.Conn{Proto: TCP, Flags: syncmsg.DRoute, State: uint16(conntab.TCPEstablished),
			CAddr: netip.AddrFrom4([4]byte{198, 18, 1, byte(1 + i/60000)}), CPort: uint16(1024 + i%60000),
			VAddr: vip, VPort: 80, DAddr: rs, DPort: 8080, Timeout: 900}
	}
	u.applySync(conns, w.e.tick(time.Now()))
	u.e.reg.mu.Lock()
	held := len(u.syncHeld)
	first := u.syncHeld[0].c.CPort
	u.e.reg.mu.Unlock()
	if held != syncHeldMax || first != 1024+10 {
		t.Fatalf("%d held, the first from port %d; want %d, the 10 oldest dropped", held, first, syncHeldMax)
	}
	if err := u.AddReal(key, RealConfig{Addr: rs, Port: 8080, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if st := u.SyncStats(); st.Received != syncHeldMax {
		t.Errorf("stats %+v, want the %d held applied", st, syncHeldMax)
	}
}
