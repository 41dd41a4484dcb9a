//go:build linux

package xsk

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// frameSpec describes a test frame for the XDP program.
type frameSpec struct {
	dstMAC    byte // first byte of the destination MAC (1: multicast)
	vlan      bool
	src, dst  string
	proto     uint8
	sport     uint16
	dport     uint16
	icmpType  uint8
	laterFrag bool
	// IPv6 only: a hop-by-hop options header, or a first-fragment
	// header, before the transport header.
	hopByHop, firstFrag bool
}

func buildFrame(f frameSpec) []byte {
	src, dst := netip.MustParseAddr(f.src), netip.MustParseAddr(f.dst)
	b := []byte{f.dstMAC, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}
	if f.vlan {
		b = append(b, 0x81, 0x00, 0, 5)
	}
	var l4 []byte
	switch f.proto {
	case 1, 58:
		l4 = []byte{f.icmpType, 0, 0, 0, 0, 0, 0, 0}
	default:
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], f.sport)
		binary.BigEndian.PutUint16(l4[2:], f.dport)
	}
	if src.Is4() {
		b = append(b, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, f.proto
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		if f.laterFrag {
			binary.BigEndian.PutUint16(ip[6:], 100) // offset 800 bytes
		}
		copy(ip[12:], src.AsSlice())
		copy(ip[16:], dst.AsSlice())
		return append(append(b, ip...), l4...)
	}
	b = append(b, 0x86, 0xdd)
	ip := make([]byte, 40)
	ip[0], ip[7] = 0x60, 64
	var ext []byte
	switch {
	case f.laterFrag:
		ip[6] = 44
		ext = []byte{f.proto, 0, 0x03, 0x20, 0, 0, 0, 1} // offset 100 (×8)
	case f.firstFrag:
		ip[6] = 44
		ext = []byte{f.proto, 0, 0, 1, 0, 0, 0, 1} // offset 0, M set
	case f.hopByHop:
		ip[6] = 0
		ext = []byte{f.proto, 0, 1, 4, 0, 0, 0, 0}
	default:
		ip[6] = f.proto
	}
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(l4)))
	copy(ip[8:], src.AsSlice())
	copy(ip[24:], dst.AsSlice())
	b = append(b, ip...)
	b = append(b, ext...)
	if f.laterFrag {
		return append(b, make([]byte, 16)...)
	}
	return append(b, l4...)
}

// TestSteering runs the XDP program (BPF_PROG_TEST_RUN, no interface) on
// hand-made frames: covered frames are steered (with no socket in the
// XSKMAP that is XDP_DROP, counted as no_socket: fail closed), everything
// else passes. The cases follow the guard's rules one by one.
func TestSteering(t *testing.T) {
	if os.Geteuid() != 0 {
		if topotest.Strict() {
			t.Fatal("loading BPF programs needs root")
		}
		t.Skip("loading BPF programs needs root")
	}
	_ = rlimit.RemoveMemlock()
	var objs steerObjects
	if err := loadSteerObjects(&objs, nil); err != nil {
		t.Fatal(err)
	}
	defer objs.Close()
	p := &Program{objs: objs, services: map[tupleKey]bool{}, natReals: map[tupleKey]bool{},
		vips: map[[16]byte]uint8{}, natAddrs: map[[16]byte]uint8{}, locals: map[[16]byte]bool{}}
	a := netip.MustParseAddr
	if err := p.Sync([]Tuple{
		{Addr: a("198.18.40.100"), Proto: 6, Port: 80},
		{Addr: a("198.18.40.100"), Proto: 17, Port: 53},
		{Addr: a("198.18.40.101"), Proto: 6, Port: 0},
		{Addr: a("2001:db8::100"), Proto: 17, Port: 53},
	}, []Tuple{
		{Addr: a("198.18.41.11"), Proto: 6, Port: 8080},
		{Addr: a("198.18.41.12"), Proto: 17, Port: 0},
	}, []netip.Addr{a("198.18.40.2")}); err != nil {
		t.Fatal(err)
	}
	const steer, pass = 1, 2 // XDP_DROP (steered, no socket), XDP_PASS
	vip, vip6, client, local := "198.18.40.100", "2001:db8::100", "198.18.40.1", "198.18.40.2"
	for _, c := range []struct {
		name string
		f    frameSpec
		want uint32
	}{
		{"tcp to the service port", frameSpec{src: client, dst: vip, proto: 6, sport: 40000, dport: 80}, steer},
		{"tcp to another port", frameSpec{src: client, dst: vip, proto: 6, sport: 40000, dport: 81}, pass},
		{"udp to the service port", frameSpec{src: client, dst: vip, proto: 17, sport: 40000, dport: 53}, steer},
		{"sctp to the VIP", frameSpec{src: client, dst: vip, proto: 132, sport: 40000, dport: 80}, pass},
		{"udp later fragment to the VIP", frameSpec{src: client, dst: vip, proto: 17, laterFrag: true}, steer},
		{"tcp later fragment to the VIP", frameSpec{src: client, dst: vip, proto: 6, laterFrag: true}, pass},
		{"icmp error to the VIP", frameSpec{src: client, dst: vip, proto: 1, icmpType: 3}, steer},
		{"icmp time exceeded to the VIP", frameSpec{src: client, dst: vip, proto: 1, icmpType: 11}, steer},
		{"icmp echo to the VIP", frameSpec{src: client, dst: vip, proto: 1, icmpType: 8}, pass},
		{"any port of a port-0 service", frameSpec{src: client, dst: "198.18.40.101", proto: 6, sport: 1, dport: 9999}, steer},
		{"udp to a port-0 TCP service", frameSpec{src: client, dst: "198.18.40.101", proto: 17, sport: 1, dport: 9999}, pass},
		{"to another address", frameSpec{src: client, dst: "198.18.40.102", proto: 6, sport: 1, dport: 80}, pass},
		{"NAT reply to the client", frameSpec{src: "198.18.41.11", dst: client, proto: 6, sport: 8080, dport: 40000}, steer},
		{"NAT real's packet to the director", frameSpec{src: "198.18.41.11", dst: local, proto: 6, sport: 8080, dport: 40000}, pass},
		{"NAT real's other port", frameSpec{src: "198.18.41.11", dst: client, proto: 6, sport: 8081, dport: 40000}, pass},
		{"NAT reply of a port-0 UDP real", frameSpec{src: "198.18.41.12", dst: client, proto: 17, sport: 7, dport: 40000}, steer},
		{"NAT reply's later fragment (udp)", frameSpec{src: "198.18.41.12", dst: client, proto: 17, laterFrag: true}, steer},
		{"NAT real's later fragment to the director", frameSpec{src: "198.18.41.12", dst: local, proto: 17, laterFrag: true}, pass},
		{"NAT reply's later fragment (tcp)", frameSpec{src: "198.18.41.11", dst: client, proto: 6, laterFrag: true}, pass},
		{"icmp error from a NAT real", frameSpec{src: "198.18.41.11", dst: client, proto: 1, icmpType: 3}, steer},
		{"icmp error from a NAT real to the director", frameSpec{src: "198.18.41.11", dst: local, proto: 1, icmpType: 3}, pass},
		{"multicast MAC", frameSpec{dstMAC: 1, src: client, dst: vip, proto: 6, sport: 40000, dport: 80}, pass},
		{"802.1Q tagged", frameSpec{vlan: true, src: client, dst: vip, proto: 6, sport: 40000, dport: 80}, pass},
		{"udp to the IPv6 service", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 53}, steer},
		{"udp to the IPv6 service after hop-by-hop", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 53, hopByHop: true}, steer},
		{"IPv6 first fragment", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 53, firstFrag: true}, steer},
		{"IPv6 later fragment", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, laterFrag: true}, steer},
		{"udp to another IPv6 port", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 54}, pass},
		{"ICMPv6 packet too big to the VIP", frameSpec{src: "2001:db8::1", dst: vip6, proto: 58, icmpType: 2}, steer},
		{"ICMPv6 echo to the VIP", frameSpec{src: "2001:db8::1", dst: vip6, proto: 58, icmpType: 128}, pass},
	} {
		ret, err := objs.UlvsSteer.Run(&ebpf.RunOptions{Data: buildFrame(c.f)})
		if err != nil {
			t.Fatal(err)
		}
		if ret != c.want {
			t.Errorf("%s: XDP action %d, want %d (1 steered without a socket, 2 passed)", c.name, ret, c.want)
		}
	}
	cnt, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Steered != 0 || cnt.NoSocket == 0 || cnt.Passed == 0 {
		t.Errorf("counters %+v", cnt)
	}
	// Sync removes what is no longer covered.
	if err := p.Sync(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	ret, err := objs.UlvsSteer.Run(&ebpf.RunOptions{Data: buildFrame(frameSpec{src: client, dst: vip, proto: 6, sport: 1, dport: 80})})
	if err != nil || ret != pass {
		t.Fatalf("after removing every service: action %d, %v", ret, err)
	}
}
