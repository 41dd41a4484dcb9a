package forward

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/ulvs/ulvs/forward/frame"
)

// TestConfigChangesWhilePacketsFlow changes a service's method, its sorry
// server and a real server's weight while a worker schedules new
// connections: the worker reads real servers without a lock, so every
// change must publish new structs (go test -race judges it).
func TestConfigChangesWhilePacketsFlow(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	sorry := netip.MustParseAddr("198.18.0.12")
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR,
		Sorry: &RealConfig{Addr: sorry, Port: 8080}}, "198.18.0.11")
	for _, r := range u.e.reg.reals {
		if r != nil && r.hop.Load() == nil {
			r.hop.Store(&hop{ifindex: 2, mtu: 1500, src: []byte{198, 18, 0, 2}})
		}
	}
	syn := tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:1"), netip.AddrPortFrom(vip, 80), "S")
	tx.discard = true
	const rounds = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, len(syn))
		for i := range rounds {
			copy(buf, syn)
			binary.BigEndian.PutUint16(buf[frame.EthLen+20:], uint16(i+1))
			w.feed(buf)
		}
	}()
	methods := []Method{DR, NAT, TUN}
	for i := range rounds / 10 {
		m := methods[i%len(methods)]
		if err := u.UpdateService(ServiceConfig{Key: key, Scheduler: "rr", Method: m,
			Sorry: &RealConfig{Addr: sorry, Port: 8080, Weight: int32(i%2 + 1)}}); err != nil {
			t.Error(err)
			break
		}
		if err := u.UpdateReal(key, RealConfig{Addr: netip.MustParseAddr("198.18.0.11"), Port: 8080, Weight: int32(i % 2)}); err != nil {
			t.Error(err)
			break
		}
	}
	wg.Wait()
	if st := u.Services(); len(st) != 1 || st[0].Stats.Conns == 0 {
		t.Fatalf("no connection scheduled: %+v", st)
	}
}
