package forward

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/forward/guard"
	"github.com/ulvs/ulvs/forward/ring"
)

// fakeInjector records what a worker hands the director's own stack.
type fakeInjector struct {
	pkts    [][]byte
	vhs     []ring.VnetHdr
	refuse  bool
	discard bool
}

func (f *fakeInjector) Inject(_ int, vh *ring.VnetHdr, pkt []byte) bool {
	if f.refuse {
		return false
	}
	if !f.discard {
		f.pkts = append(f.pkts, bytes.Clone(pkt))
		f.vhs = append(f.vhs, *vh)
	}
	return true
}

// localBackend is testBackend with the real servers in locals made local
// (as the resolver finds the director's own addresses).
func localBackend(t testing.TB, svc ServiceConfig, locals map[string]bool, reals ...string) (*Userspace, *worker, *fakeTx, *fakeInjector) {
	t.Helper()
	u, w, tx := testBackend(t, svc, reals...)
	inj := &fakeInjector{}
	u.e.inject = inj
	for _, r := range u.e.reg.reals {
		if r != nil && locals[r.cfg.Addr.String()] {
			r.hop.Store(&hop{local: true})
		}
	}
	g := &u.e.reg
	g.mu.Lock()
	u.publishLocked()
	g.mu.Unlock()
	return u, w, tx, inj
}

func TestLocalDelivery(t *testing.T) {
	t.Parallel()
	for _, method := range []Method{DR, NAT, TUN} {
		t.Run(method.String(), func(t *testing.T) {
			t.Parallel()
			key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
			u, w, tx, inj := localBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: method},
				map[string]bool{"127.0.0.1": true}, "127.0.0.1")
			client := netip.MustParseAddrPort("198.18.1.1:40000")
			syn := tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S")
			w.feed(bytes.Clone(syn))
			w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A"))
			if len(tx.sent) != 0 {
				t.Fatalf("a local real server's packets went to the wire: %d frames", len(tx.sent))
			}
			if len(inj.pkts) != 2 {
				t.Fatalf("injected %d packets, want 2", len(inj.pkts))
			}
			// Unchanged, from the IP header on (without the Ethernet padding):
			// the VIP and the service port stay (the guard maps another
			// port), checksums stay valid.
			ipLen := int(binary.BigEndian.Uint16(syn[frame.EthLen+2:]))
			if diff := cmp.Diff(syn[frame.EthLen:frame.EthLen+ipLen], inj.pkts[0]); diff != "" {
				t.Fatalf("injected SYN differs from the received one (-want +got):\n%s", diff)
			}
			st := u.Services()
			if len(st) != 1 || len(st[0].Reals) != 1 {
				t.Fatalf("services: %+v", st)
			}
			r := st[0].Reals[0]
			if r.Method != Local || r.NextHop != "local" || r.Stats.InPkts != 2 || r.Stats.Conns != 1 {
				t.Fatalf("real server status %+v, want Local with 2 packets of 1 connection", r)
			}
			conns := u.Conns()
			if len(conns) != 1 || conns[0].State != "ESTABLISHED" {
				t.Fatalf("conns %+v, want one ESTABLISHED (the input-only table, as DR)", conns)
			}
			if d := u.Drops(); d != (Drops{}) {
				t.Fatalf("drops %+v", d)
			}
		})
	}
}

func TestLocalDeliveryOffloads(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, _, inj := localBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR},
		map[string]bool{"198.18.0.11": true}, "198.18.0.11")
	client := netip.MustParseAddrPort("198.18.1.1:40001")
	b := tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S")
	// A partial checksum, as a veth peer with checksum offload sends it:
	// the ring's offsets count from the Ethernet header, the device's from
	// the IP header.
	vh := ring.VnetHdr{Flags: ring.VnetNeedsCsum | ring.VnetDataValid, CsumStart: frame.EthLen + frame.IPv4Len,
		CsumOffset: 16, HdrLen: frame.EthLen + frame.IPv4Len + 20}
	w.begin(w.e.tick(time.Now()))
	w.handle(&ring.Frame{Data: b, Ifindex: 2, Vnet: vh})
	w.flush()
	want := ring.VnetHdr{Flags: ring.VnetNeedsCsum, CsumStart: frame.IPv4Len, CsumOffset: 16, HdrLen: frame.IPv4Len + 20}
	if len(inj.vhs) != 1 {
		t.Fatalf("injected %d packets", len(inj.vhs))
	}
	if diff := cmp.Diff(want, inj.vhs[0]); diff != "" {
		t.Fatalf("offload header (-want +got):\n%s", diff)
	}
	// A GSO frame without a partial checksum is not handed on.
	w.begin(w.e.tick(time.Now()))
	w.handle(&ring.Frame{Data: tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "A"), Ifindex: 2,
		Vnet: ring.VnetHdr{GSOType: ring.GSOTCPv4, GSOSize: 1448}})
	if len(inj.vhs) != 1 || w.e.drops.malformed.Load() != 1 {
		t.Fatalf("GSO frame without NEEDS_CSUM: %d injected, %d malformed", len(inj.vhs), w.e.drops.malformed.Load())
	}
}

func TestLocalDeliveryFailureIsCounted(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: UDP}
	u, w, _, inj := localBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR},
		map[string]bool{"127.0.0.1": true}, "127.0.0.1")
	inj.refuse = true
	w.feed(udpFrame(t, netip.MustParseAddrPort("198.18.1.1:5000"), netip.AddrPortFrom(vip, 80), 100, false))
	if got := u.Drops().Local; got != 1 {
		t.Fatalf("Drops().Local = %d, want 1", got)
	}
	u.e.inject = nil
	w.feed(udpFrame(t, netip.MustParseAddrPort("198.18.1.1:5000"), netip.AddrPortFrom(vip, 80), 100, false))
	if got := u.Drops().Local; got != 2 {
		t.Fatalf("without an injector: Drops().Local = %d, want 2", got)
	}
}

func TestLocalMethodIsNotConfigurable(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, _, _ := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR})
	err := u.AddReal(key, RealConfig{Addr: netip.MustParseAddr("198.18.0.11"), Port: 80, Weight: 1, Method: Local, MethodSet: true})
	if err == nil {
		t.Fatal("AddReal with method Local accepted")
	}
	err = u.UpdateService(ServiceConfig{Key: key, Scheduler: "rr", Method: DR,
		Sorry: &RealConfig{Addr: netip.MustParseAddr("127.0.0.1"), Port: 80, Method: Method(7), MethodSet: true}})
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("sorry server with method 7: %v", err)
	}
}

func TestLocalICMPErrorFollows(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, tx, inj := localBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: NAT},
		map[string]bool{"198.18.0.11": true}, "198.18.0.11")
	client := netip.MustParseAddrPort("198.18.1.1:40002")
	w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S"))
	// The client's router says the VIP's reply (sent by the director's own
	// stack) needs fragmenting: the error goes to that stack, unchanged.
	reply := tcpFrame(t, dirMAC, clientMAC, netip.AddrPortFrom(vip, 80), client, "A")
	icmp := icmpErrorFrame(t, netip.MustParseAddr("198.18.1.254"), vip, reply[frame.EthLen:])
	w.feed(icmp)
	if len(tx.sent) != 0 || len(inj.pkts) != 2 {
		t.Fatalf("sent %d, injected %d; want 0 and 2", len(tx.sent), len(inj.pkts))
	}
	if ipLen := int(binary.BigEndian.Uint16(icmp[frame.EthLen+2:])); !bytes.Equal(inj.pkts[1], icmp[frame.EthLen:frame.EthLen+ipLen]) {
		t.Fatal("the ICMP error was changed on its way to the local stack")
	}
}

func TestLocalDeliveryAllocatesNothing(t *testing.T) {
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, _, inj := localBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR},
		map[string]bool{"127.0.0.1": true}, "127.0.0.1")
	syn := tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "S")
	ack := tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "A")
	w.feed(bytes.Clone(syn))
	inj.discard = true
	buf := make([]byte, len(ack))
	f := ring.Frame{}
	w.begin(w.e.tick(time.Now()))
	if allocs := testing.AllocsPerRun(1000, func() {
		copy(buf, ack)
		f.Data = buf
		w.handle(&f)
	}); allocs != 0 {
		t.Fatalf("local delivery: %v allocations per packet", allocs)
	}
}

// BenchmarkLocalDelivery is the userspace work per packet of an
// established connection to a local real server, up to the injector (the
// device's writev is not included).
func BenchmarkLocalDelivery(b *testing.B) {
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, _, inj := localBackend(b, ServiceConfig{Key: key, Scheduler: "rr", Method: DR},
		map[string]bool{"127.0.0.1": true}, "127.0.0.1")
	syn := tcpFrame(b, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "S")
	ack := tcpFrame(b, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "A")
	w.feed(bytes.Clone(syn))
	inj.discard = true
	buf := make([]byte, len(ack))
	var f ring.Frame
	b.ReportAllocs()
	w.begin(w.e.tick(time.Now()))
	for b.Loop() {
		copy(buf, ack)
		f.Data = buf
		w.handle(&f)
	}
}

func TestPlanLocal(t *testing.T) {
	t.Parallel()
	vip6 := netip.MustParseAddr("2001:db8::100")
	cand := func(h uint32, v netip.Addr, vport, to uint16) localCandidate {
		return localCandidate{r: &real{handle: h}, vip: v, proto: TCP, vport: vport, to: to}
	}
	tests := []struct {
		name      string
		cands     []localCandidate
		vipLocal  bool
		wantOK    []uint32
		wantMaps  []guard.PortMap
		wantRefus []uint32
	}{
		{
			name:     "same port as the service: no map",
			cands:    []localCandidate{cand(1, vip, 80, 0), cand(2, vip, 80, 0)},
			vipLocal: true, wantOK: []uint32{1, 2},
		},
		{
			name:     "another port: one map",
			cands:    []localCandidate{cand(1, vip, 81, 8080), cand(2, vip6, 53, 5353)},
			vipLocal: true, wantOK: []uint32{1, 2},
			wantMaps: []guard.PortMap{{Addr: vip, Proto: TCP, Port: 81, ToPort: 8080}, {Addr: vip6, Proto: TCP, Port: 53, ToPort: 5353}},
		},
		{
			name:     "two real servers on one other port share the map",
			cands:    []localCandidate{cand(1, vip, 81, 8080), cand(2, vip, 81, 8080)},
			vipLocal: true, wantOK: []uint32{1, 2},
			wantMaps: []guard.PortMap{{Addr: vip, Proto: TCP, Port: 81, ToPort: 8080}},
		},
		{
			name: "a sorry server on the service port and a real server on another: both refused, the other service goes on",
			cands: []localCandidate{cand(1, vip, 80, 0), cand(2, vip, 80, 8080),
				cand(3, vip, 443, 0)},
			vipLocal: true, wantOK: []uint32{3}, wantRefus: []uint32{1, 2},
		},
		{
			name:     "VIP not an address of the director",
			cands:    []localCandidate{cand(1, vip, 80, 0)},
			vipLocal: false, wantRefus: []uint32{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, maps, problem := planLocal(tt.cands, func(netip.Addr) bool { return tt.vipLocal })
			var gotOK, gotRefused []uint32
			for _, c := range ok {
				gotOK = append(gotOK, c.r.handle)
			}
			for h := range problem {
				gotRefused = append(gotRefused, h)
			}
			slices.Sort(gotRefused)
			if diff := cmp.Diff(tt.wantOK, gotOK); diff != "" {
				t.Errorf("delivered to (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRefus, gotRefused); diff != "" {
				t.Errorf("refused (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMaps, maps, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("maps (-want +got):\n%s", diff)
			}
		})
	}
}
