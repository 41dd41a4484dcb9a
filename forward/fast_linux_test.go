package forward

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/xsk"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestFastPathCommit: a connection put on the fast path reaches the
// program at the worker's commit, in one batch; one that left the fast path
// before the commit (its FIN came in the same batch of frames) is not left
// in the program, where it would forward the tuple's next connection to the
// old real server.
func TestFastPathCommit(t *testing.T) {
	if os.Geteuid() != 0 {
		if topotest.Strict() {
			t.Fatal("loading BPF programs needs root")
		}
		t.Skip("loading BPF programs needs root")
	}
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, _ := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11")
	p, err := xsk.Load(2, 1024) // the interface testBackend's real server is behind
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f := &xdpFast{e: w.e, progs: []*xsk.Program{p}, reals: map[uint32]*fastReal{}, queues: make([]fastQueue, 1)}
	w.e.fast = f
	send := func(port uint16, flags string) {
		for _, fl := range flags {
			w.feed(tcpFrame(t, clientMAC, dirMAC, netip.AddrPortFrom(netip.MustParseAddr("198.18.1.1"), port),
				netip.AddrPortFrom(vip, 80), string(fl)))
		}
	}
	held := func(port uint16) bool {
		c := netip.MustParseAddr("198.18.1.1").As16()
		v := vip.As16()
		_, ok := p.FlowSeen(&xsk.Flow{Key: xsk.NewFlowKey(c, v, port, 80, TCP)})
		return ok
	}
	fastFlag := func(port uint16) (fast bool) {
		w.e.conns.Walk(func(e *conntab.Entry) bool {
			if e.CPort == port {
				fast = e.Flags&conntab.FlagFast != 0
			}
			return true
		})
		return fast
	}

	est := "S" + strings.Repeat("A", fastAfter-1) // on the fast path from its last packet
	send(41000, est)
	if held(41000) {
		t.Fatal("the program has the connection before the worker's commit")
	}
	f.commit(0)
	if !held(41000) || !fastFlag(41000) {
		t.Fatalf("after the commit: in the program %v, marked fast %v; want both", held(41000), fastFlag(41000))
	}
	// Established and closed within one batch of frames: the FIN takes it
	// off the fast path before the program ever had it.
	send(41001, est+"F")
	f.commit(0)
	if held(41001) || fastFlag(41001) {
		t.Fatalf("a connection closed before the commit: in the program %v, marked fast %v; want neither", held(41001), fastFlag(41001))
	}
	if len(f.queues[0].items) != 0 {
		t.Fatalf("%d connections still queued after the commit", len(f.queues[0].items))
	}
	// A FIN after the commit takes it out of the program at once.
	send(41000, "F")
	if held(41000) {
		t.Fatal("the program still has a connection whose client sent FIN")
	}
}
