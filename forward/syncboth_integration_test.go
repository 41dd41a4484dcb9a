package forward

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestSyncBoth: three directors on one link, each running lvs_sync_daemon
// in the "both" role, as N active directors behind ECMP do. A connection
// one director sets up reaches the other two; each sends its own and takes
// the others', and none takes back its own (multicast loopback is off).
func TestSyncBoth(t *testing.T) {
	topotest.Require(t)
	tp := topotest.New(t)
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	type dir struct {
		n *topo.Node
		u *Userspace
		w *worker
	}
	var dirs []dir
	for i := range 3 {
		n := topotest.AddNode(t, tp, "d"+string(rune('1'+i)), topo.NodeConfig{
			Addrs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(2 + i)}), 24)}})
		u, w, _ := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11", "198.18.0.12")
		var err error
		topotest.InNS(t, n, func() { err = u.SetSync(SyncBoth, SyncConfig{Interface: "eth0", SyncID: 7}) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = u.SetSync(SyncOff, SyncConfig{}) })
		if got := u.SyncStats().Role; got != "both" {
			t.Fatalf("role %q, want both", got)
		}
		dirs = append(dirs, dir{n, u, w})
	}
	// The multicast memberships settle before the first datagram.
	time.Sleep(200 * time.Millisecond)
	// Director i sets up client i's connection: SYN, then two more packets
	// (the kernel's sync threshold is the 3rd).
	for i, d := range dirs {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(1 + i)}), 40000)
		for _, fl := range []string{"S", "A", "A"} {
			d.w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), fl))
		}
	}
	has := func(u *Userspace, client byte) bool {
		found := false
		u.e.conns.Walk(func(e *conntab.Entry) bool {
			if netip.AddrFrom16(e.CAddr).Unmap() == netip.AddrFrom4([4]byte{198, 18, 1, client}) && e.State == conntab.TCPEstablished {
				found = true
			}
			return true
		})
		return found
	}
	topotest.Eventually(t, 5*time.Second, "every director holds all three connections", func() bool {
		for _, d := range dirs {
			for c := byte(1); c <= 3; c++ {
				if !has(d.u, c) {
					return false
				}
			}
		}
		return true
	})
	for i, d := range dirs {
		st := d.u.SyncStats()
		if st.Sent != 1 || st.Received != 2 || st.BadMessages != 0 {
			t.Errorf("director %d: %+v, want its 1 connection sent and the 2 others received", i+1, st)
		}
	}
}
