package vrrp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var testMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33}

func TestGratuitousARP(t *testing.T) {
	t.Parallel()
	b, err := GratuitousARP(testMAC, netip.MustParseAddr("198.18.0.100"))
	if err != nil {
		t.Fatal(err)
	}
	// 14 + 28 bytes padded to Ethernet's minimum of 60 (without FCS).
	if len(b) != 60 || !bytes.Equal(b[42:], make([]byte, 18)) {
		t.Errorf("frame of %d bytes, want 42 padded with zeros to 60", len(b))
	}
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	arp, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if eth == nil || arp == nil {
		t.Fatalf("not Ethernet/ARP: %v", p)
	}
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !bytes.Equal(eth.DstMAC, bcast) || !bytes.Equal(eth.SrcMAC, testMAC) {
		t.Errorf("ethernet %v → %v", eth.SrcMAC, eth.DstMAC)
	}
	// keepalived: request, sender = target = VIP, target MAC all ones.
	want := []byte{198, 18, 0, 100}
	if arp.Operation != layers.ARPRequest || !bytes.Equal(arp.SourceProtAddress, want) || !bytes.Equal(arp.DstProtAddress, want) ||
		!bytes.Equal(arp.SourceHwAddress, testMAC) || !bytes.Equal(arp.DstHwAddress, bcast) {
		t.Errorf("arp %+v", arp)
	}
	if _, err := GratuitousARP(testMAC, netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("an IPv6 address got an ARP")
	}
}

func TestUnsolicitedNA(t *testing.T) {
	t.Parallel()
	target := netip.MustParseAddr("2001:db8::100")
	for _, router := range []bool{false, true} {
		b, err := UnsolicitedNA(testMAC, target, router)
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip6, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		icmp, _ := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		na, _ := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		if eth == nil || ip6 == nil || icmp == nil || na == nil {
			t.Fatalf("not a neighbour advertisement: %v", p)
		}
		if !bytes.Equal(eth.DstMAC, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}) || ip6.HopLimit != 255 ||
			!ip6.DstIP.Equal(net.ParseIP("ff02::1")) || !ip6.SrcIP.Equal(target.AsSlice()) {
			t.Errorf("headers %v %v", eth, ip6)
		}
		if !na.Override() || na.Solicited() || na.Router() != router || !na.TargetAddress.Equal(target.AsSlice()) {
			t.Errorf("flags/target %+v", na)
		}
		if len(na.Options) != 1 || na.Options[0].Type != layers.ICMPv6OptTargetAddress || !bytes.Equal(na.Options[0].Data, testMAC) {
			t.Errorf("options %+v", na.Options)
		}
		// The checksum verifies: recompute over the pseudo-header.
		icmpBytes := b[14+40:]
		var sum uint32
		sum = sumBytes(sum, ip6.SrcIP)
		sum = sumBytes(sum, ip6.DstIP)
		sum += uint32(len(icmpBytes)) + 58
		sum = sumBytes(sum, icmpBytes)
		if fold(sum) != 0xffff {
			t.Errorf("ICMPv6 checksum does not verify")
		}
	}
}

// TestAHSealVerify checks keepalived's AH: the ICV covers the header with
// TOS, flags and checksum zeroed (the TTL too for unicast), so those may
// change in flight; anything else breaks it.
func TestAHSealVerify(t *testing.T) {
	t.Parallel()
	key := ahKey{'s', 'e', 'c', 'r', 'e', 't'}
	mk := func(unicast bool) *Packet {
		a := Advert{Version: 2, Family: IPv4, VRID: 51, Priority: 100, AdverInt: 1, AuthType: AuthAH,
			Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
		if err := a.SetChecksum(nil); err != nil {
			t.Fatal(err)
		}
		b := appendAH(nil, hostA, 7)
		b, _ = a.AppendBinary(b)
		p := &Packet{Src: hostA, Dst: Group4, TTL: 255, TOS: 0xc0, ID: 42, Proto: ProtoAH, Payload: b}
		if err := sealAH(p, key, unicast); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := mk(false)
	ah, err := parseAH(p.Payload)
	if err != nil || ah.next != ProtoVRRP || ah.seq != 7 || ah.spi != hostA.As4() {
		t.Fatalf("ah %+v %v", ah, err)
	}
	if !verifyAH(p, key, false) {
		t.Fatal("a sealed packet does not verify")
	}
	mutable := clonePacket(p)
	mutable.TOS = 0
	if !verifyAH(mutable, key, false) {
		t.Error("TOS is mutable but broke the ICV")
	}
	for name, f := range map[string]func(*Packet){
		"ttl (multicast)": func(p *Packet) { p.TTL = 254 },
		"id":              func(p *Packet) { p.ID++ },
		"src":             func(p *Packet) { p.Src = hostB },
		"priority":        func(p *Packet) { p.Payload[ahLen+2]++ },
		"sequence":        func(p *Packet) { p.Payload[11]++ },
	} {
		q := clonePacket(p)
		f(q)
		if verifyAH(q, key, false) {
			t.Errorf("changing the %s kept the ICV valid", name)
		}
	}
	if verifyAH(p, ahKey{'x'}, false) {
		t.Error("another key verifies")
	}
	u := mk(true)
	u.TTL = 64
	if !verifyAH(u, key, true) {
		t.Error("unicast: the TTL is mutable")
	}
	// The header the ICV covers is what x/net marshals for the raw socket.
	hb, err := p.IPv4Header().Marshal()
	if err != nil || len(hb) != 20 || hb[0] != 0x45 || hb[1] != 0xc0 || hb[8] != 255 || hb[9] != ProtoAH {
		t.Errorf("header %x %v", hb, err)
	}
}
