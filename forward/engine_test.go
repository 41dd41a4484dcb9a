package forward

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/forward/ring"
)

// fakeTx records what a worker sends (the frame I/O's in-memory fake).
type fakeTx struct {
	sent    []sentFrame
	batch   int
	discard bool // count only, for allocation tests
}

type sentFrame struct {
	ifindex int
	data    []byte
}

func (f *fakeTx) Add(ifindex int, _ *ring.VnetHdr, head, body []byte) bool {
	f.batch++
	if f.discard {
		return true
	}
	f.sent = append(f.sent, sentFrame{ifindex, append(bytes.Clone(head), body...)})
	return true
}
func (f *fakeTx) Full() bool   { return false }
func (f *fakeTx) Flush() error { f.batch = 0; return nil }

var (
	clientMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	dirMAC    = net.HardwareAddr{2, 0, 0, 0, 0, 2}
	rsMAC     = map[string]net.HardwareAddr{"198.18.0.11": {2, 0, 0, 0, 0, 11}, "198.18.0.12": {2, 0, 0, 0, 0, 12}}
	vip       = netip.MustParseAddr("198.18.0.100")
)

// tcpFrame builds a TCP frame with valid checksums.
func tcpFrame(t testing.TB, srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, flags string) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(),
		Flags: layers.IPv4DontFragment}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: 1000, Window: 65000,
		SYN: flags == "S", ACK: flags != "S" && flags != "R", FIN: flags == "F", RST: flags == "R"}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testBackend(t testing.TB, svc ServiceConfig, reals ...string) (*Userspace, *worker, *fakeTx) {
	t.Helper()
	e := newEngine(&Config{MaxConns: 1 << 16}, 1)
	e.ifaces = []iface{{index: 2, slot: 0, name: "eth0", mtu: 1500}}
	copy(e.ifaces[0].mac[:], dirMAC)
	u := &Userspace{e: e, workers: 1}
	if err := u.AddService(svc); err != nil {
		t.Fatal(err)
	}
	for _, a := range reals {
		if err := u.AddReal(svc.Key, RealConfig{Addr: netip.MustParseAddr(a), Port: 8080, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range e.reg.reals {
		if r == nil {
			continue
		}
		h := &hop{ifindex: 2, mtu: 1500, src: []byte{198, 18, 0, 2}}
		copy(h.srcMAC[:], dirMAC)
		copy(h.dstMAC[:], rsMAC[r.cfg.Addr.String()])
		r.hop.Store(h)
	}
	tx := &fakeTx{}
	return u, newWorker(e, 0, tx), tx
}

func (w *worker) feed(b []byte) {
	w.begin(w.e.tick(time.Now()))
	w.handle(&ring.Frame{Data: b, Ifindex: 2})
	w.flush()
}

func decoded(t testing.TB, b []byte) *frame.Packet {
	t.Helper()
	var p frame.Packet
	p.Decode(b)
	if !p.OK() {
		t.Fatalf("sent a malformed frame %x", b)
	}
	full := bytes.Clone(b)
	var q frame.Packet
	q.Decode(full)
	q.FixChecksums()
	if !bytes.Equal(full, b) {
		t.Fatalf("sent frame has wrong checksums")
	}
	return &p
}

func TestNATBothDirections(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: NAT}, "198.18.0.11")
	client := netip.MustParseAddrPort("198.18.1.1:40000")
	w.feed(tcpFrame(t, clientMAC, dirMAC, client, netip.AddrPortFrom(vip, 80), "S"))
	if len(tx.sent) != 1 {
		t.Fatalf("sent %d frames, want 1", len(tx.sent))
	}
	p := decoded(t, tx.sent[0].data)
	if got := netip.AddrPortFrom(p.DstAddr(), p.DstPort); got != netip.MustParseAddrPort("198.18.0.11:8080") {
		t.Fatalf("DNAT to %v", got)
	}
	if !bytes.Equal(p.DstMAC(), rsMAC["198.18.0.11"]) || !bytes.Equal(p.SrcMAC(), dirMAC) {
		t.Fatalf("MACs %x -> %x", p.SrcMAC(), p.DstMAC())
	}
	// The reply comes back from the real server and leaves as the VIP.
	w.feed(tcpFrame(t, rsMAC["198.18.0.11"], dirMAC, netip.MustParseAddrPort("198.18.0.11:8080"), client, "A"))
	if len(tx.sent) != 2 {
		t.Fatalf("reply not forwarded")
	}
	p = decoded(t, tx.sent[1].data)
	if got := netip.AddrPortFrom(p.SrcAddr(), p.SrcPort); got != netip.AddrPortFrom(vip, 80) {
		t.Fatalf("SNAT from %v", got)
	}
	if !bytes.Equal(p.DstMAC(), clientMAC) || p.TTL() != 63 {
		t.Fatalf("reply to %x ttl %d", p.DstMAC(), p.TTL())
	}
	conns := u.Conns()
	// SYN (INPUT: SYN_RECV), then the server's ACK (OUTPUT: ESTABLISHED).
	want := []Conn{{Proto: TCP, State: "ESTABLISHED", Client: client, Virtual: netip.AddrPortFrom(vip, 80),
		Real: netip.MustParseAddrPort("198.18.0.11:8080")}}
	if diff := cmp.Diff(want, conns, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
		cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Expires" }, cmp.Ignore())); diff != "" {
		t.Fatalf("conns (-want +got):\n%s", diff)
	}
	st := u.Services()[0]
	if st.Stats.Conns != 1 || st.Stats.InPkts != 1 || st.Stats.OutPkts != 1 || st.Reals[0].InactiveConns+st.Reals[0].ActiveConns != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDRSpreadsAndNonSYNIsDropped(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, "198.18.0.11", "198.18.0.12")
	seen := map[string]int{}
	for i := range 10 {
		c := netip.AddrPortFrom(netip.MustParseAddr("198.18.1.1"), uint16(41000+i))
		w.feed(tcpFrame(t, clientMAC, dirMAC, c, netip.AddrPortFrom(vip, 80), "S"))
		p := decoded(t, tx.sent[len(tx.sent)-1].data)
		if p.DstAddr() != vip || p.DstPort != 80 {
			t.Fatalf("DR changed the IP header: %v:%d", p.DstAddr(), p.DstPort)
		}
		seen[net.HardwareAddr(p.DstMAC()).String()]++
	}
	if len(seen) != 2 || seen[rsMAC["198.18.0.11"].String()] != 5 {
		t.Fatalf("rr spread %v", seen)
	}
	n := len(tx.sent)
	w.feed(tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.9:1"), netip.AddrPortFrom(vip, 80), "A"))
	if len(tx.sent) != n {
		t.Fatal("an ACK without a connection was forwarded")
	}
}

func TestPersistenceGranularity(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: DR, Persistence: 60 * time.Second,
		Granularity: 24}, "198.18.0.11", "198.18.0.12")
	first := ""
	for i := range 6 {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(1 + i)}), uint16(42000+i))
		w.feed(tcpFrame(t, clientMAC, dirMAC, c, netip.AddrPortFrom(vip, 80), "S"))
		mac := net.HardwareAddr(decoded(t, tx.sent[len(tx.sent)-1].data).DstMAC()).String()
		if first == "" {
			first = mac
		} else if mac != first {
			t.Fatalf("client %v of the same /24 went to %s, not %s", c, mac, first)
		}
	}
	tpls := 0
	for _, c := range u.Conns() {
		if c.Template {
			tpls++
			if c.Client.Addr() != netip.MustParseAddr("198.18.1.0") {
				t.Fatalf("template keyed on %v", c.Client)
			}
		}
	}
	if tpls != 1 {
		t.Fatalf("%d templates, want 1", tpls)
	}
}

func TestQuiescentAndSorry(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	sorry := &RealConfig{Addr: netip.MustParseAddr("198.18.0.12"), Port: 8080}
	u, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "wlc", Method: DR, Sorry: sorry}, "198.18.0.11")
	for _, r := range u.e.reg.reals { // the sorry server needs a hop too
		if r != nil && r.hop.Load() == nil {
			h := &hop{ifindex: 2, mtu: 1500}
			copy(h.dstMAC[:], rsMAC["198.18.0.12"])
			r.hop.Store(h)
		}
	}
	c1 := netip.MustParseAddrPort("198.18.1.1:43000")
	w.feed(tcpFrame(t, clientMAC, dirMAC, c1, netip.AddrPortFrom(vip, 80), "S"))
	if err := u.UpdateReal(key, RealConfig{Addr: netip.MustParseAddr("198.18.0.11"), Port: 8080, Weight: 0}); err != nil {
		t.Fatal(err)
	}
	// The established connection continues to the quiescent server...
	w.feed(tcpFrame(t, clientMAC, dirMAC, c1, netip.AddrPortFrom(vip, 80), "A"))
	if got := net.HardwareAddr(decoded(t, tx.sent[1].data).DstMAC()); got.String() != rsMAC["198.18.0.11"].String() {
		t.Fatalf("established flow moved to %v", got)
	}
	// ... and a new one goes to the sorry server.
	w.feed(tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:43001"), netip.AddrPortFrom(vip, 80), "S"))
	if got := net.HardwareAddr(decoded(t, tx.sent[2].data).DstMAC()); got.String() != rsMAC["198.18.0.12"].String() {
		t.Fatalf("new flow went to %v, want the sorry server", got)
	}
	// Without any server, the client gets ICMP port unreachable from the VIP.
	if err := u.UpdateService(ServiceConfig{Key: key, Scheduler: "wlc", Method: DR}); err != nil {
		t.Fatal(err)
	}
	w.feed(tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:43002"), netip.AddrPortFrom(vip, 80), "S"))
	p := decoded(t, tx.sent[3].data)
	if p.Proto != frame.ProtoICMP || p.ICMPType != 3 || p.ICMPCode != 3 || p.SrcAddr() != vip {
		t.Fatalf("got %+v, want ICMP port unreachable from the VIP", p)
	}
}

func TestTUNFragNeeded(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "rr", Method: TUN}, "198.18.0.11")
	c := netip.MustParseAddrPort("198.18.1.1:44000")
	w.feed(tcpFrame(t, clientMAC, dirMAC, c, netip.AddrPortFrom(vip, 80), "S"))
	p := decoded(t, tx.sent[0].data)
	if p.Proto != frame.ProtoIPIP || p.DstAddr() != netip.MustParseAddr("198.18.0.11") {
		t.Fatalf("not encapsulated: %+v", p)
	}
	// A full-size segment does not fit once encapsulated: DF is set.
	big := tcpFrame(t, clientMAC, dirMAC, c, netip.AddrPortFrom(vip, 80), "A")
	pad := make([]byte, 1500-(len(big)-frame.EthLen))
	big = append(big, pad...)
	binary.BigEndian.PutUint16(big[frame.EthLen+2:], 1500)
	var q frame.Packet
	q.Decode(big)
	q.FixChecksums()
	w.feed(big)
	p = decoded(t, tx.sent[1].data)
	if p.Proto != frame.ProtoICMP || p.ICMPType != 3 || p.ICMPCode != 4 || binary.BigEndian.Uint16(p.B[p.L4+6:]) != 1480 {
		t.Fatalf("got %+v, want fragmentation needed with MTU 1480", p)
	}
}

func TestHotPathAllocatesNothing(t *testing.T) {
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	_, w, tx := testBackend(t, ServiceConfig{Key: key, Scheduler: "wlc", Method: NAT}, "198.18.0.11", "198.18.0.12")
	syn := tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "S")
	ack := tcpFrame(t, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "A")
	w.feed(bytes.Clone(syn))
	tx.discard = true
	buf := make([]byte, len(ack))
	f := ring.Frame{}
	w.begin(w.e.tick(time.Now()))
	allocs := testing.AllocsPerRun(1000, func() {
		copy(buf, ack)
		f.Data = buf
		w.handle(&f)
		tx.sent = tx.sent[:0]
	})
	if allocs != 0 {
		t.Fatalf("established packet: %v allocations", allocs)
	}
	// New connections: decode, miss, schedule, insert, rewrite.
	port := uint16(1)
	allocs = testing.AllocsPerRun(500, func() {
		copy(buf, syn)
		binary.BigEndian.PutUint16(buf[frame.EthLen+20:], port)
		port++
		f.Data = buf
		w.handle(&f)
		tx.sent = tx.sent[:0]
	})
	if allocs != 0 {
		t.Fatalf("new connection: %v allocations", allocs)
	}
	// An AF_XDP worker on a veth completes a partial checksum first.
	w.complete = true
	var q frame.Packet
	q.Decode(ack)
	partial := frame.Fold(frame.Sum(q.DstIP(), frame.Sum(q.SrcIP(), 0)) + uint64(q.Proto) + uint64(q.End-q.L4))
	allocs = testing.AllocsPerRun(1000, func() {
		copy(buf, ack)
		binary.BigEndian.PutUint16(buf[q.L4Checksum():], partial)
		f.Data = buf
		w.handle(&f)
		tx.sent = tx.sent[:0]
	})
	if allocs != 0 {
		t.Fatalf("established packet with a partial checksum: %v allocations", allocs)
	}
	if c, ok := decoded(t, buf).TransportChecksum(); !ok || binary.BigEndian.Uint16(buf[q.L4Checksum():]) != c {
		t.Fatal("the partial checksum was not completed")
	}
}

// BenchmarkPerPacket is the userspace work per packet: decode, table
// lookup, rewrite, and on a miss scheduling and insertion.
func BenchmarkPerPacket(b *testing.B) {
	key := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
	for _, method := range []Method{DR, NAT} {
		_, w, tx := testBackend(b, ServiceConfig{Key: key, Scheduler: "wlc", Method: method}, "198.18.0.11", "198.18.0.12")
		syn := tcpFrame(b, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "S")
		ack := tcpFrame(b, clientMAC, dirMAC, netip.MustParseAddrPort("198.18.1.1:45000"), netip.AddrPortFrom(vip, 80), "A")
		w.feed(bytes.Clone(syn))
		buf := make([]byte, len(ack))
		var f ring.Frame
		tx.discard = true
		b.Run(method.String()+"/hit", func(b *testing.B) {
			b.ReportAllocs()
			w.begin(w.e.tick(time.Now()))
			for b.Loop() {
				copy(buf, ack)
				f.Data = buf
				w.handle(&f)
				tx.sent = tx.sent[:0]
			}
		})
		// The same with this director a sync master: a synced packet in
		// 50 is queued for the sender (drained here).
		b.Run(method.String()+"/hit-sync-master", func(b *testing.B) {
			q := w.e.newSyncQueue(syncQueueLen)
			done := make(chan struct{})
			go func() {
				for {
					select {
					case <-q.ch:
					case <-done:
						return
					}
				}
			}()
			w.e.syncq.Store(q)
			defer func() { w.e.syncq.Store(nil); close(done) }()
			b.ReportAllocs()
			w.begin(w.e.tick(time.Now()))
			for b.Loop() {
				copy(buf, ack)
				f.Data = buf
				w.handle(&f)
				tx.sent = tx.sent[:0]
			}
		})
		b.Run(method.String()+"/miss-schedule", func(b *testing.B) {
			b.ReportAllocs()
			w.begin(w.e.tick(time.Now()))
			i := 0
			for b.Loop() {
				copy(buf, syn)
				binary.BigEndian.PutUint16(buf[frame.EthLen+20:], uint16(i))
				// Past 65,536 ports the client address changes too; the
				// header checksum follows it (RFC 1624), or the packet is
				// dropped as corrupt.
				old := binary.BigEndian.Uint16(buf[frame.EthLen+12:])
				buf[frame.EthLen+13] = byte(i >> 16)
				binary.BigEndian.PutUint16(buf[frame.EthLen+10:], frame.Update16(binary.BigEndian.Uint16(buf[frame.EthLen+10:]),
					old, binary.BigEndian.Uint16(buf[frame.EthLen+12:])))
				i++
				f.Data = buf
				w.handle(&f)
				tx.sent = tx.sent[:0]
			}
			// A benchmark of the drop path would measure nothing useful.
			if d := w.e.drops.badCsum.Load() + w.e.drops.malformed.Load(); d != 0 {
				b.Fatalf("%d frames dropped as corrupt", d)
			}
		})
	}
}

var _ = conntab.TicksPerSecond
