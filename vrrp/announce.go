package vrrp

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// GratuitousARP returns the Ethernet frame keepalived sends to announce
// addr from mac (vrrp_arp.c send_gratuitous_arp_immediate): an ARP request
// to the broadcast address whose sender and target IP are both addr and
// whose target hardware address is ff:ff:ff:ff:ff:ff.
func GratuitousARP(mac net.HardwareAddr, addr netip.Addr) ([]byte, error) {
	if !addr.Is4() && !addr.Is4In6() {
		return nil, fmt.Errorf("vrrp: gratuitous ARP for non-IPv4 %v", addr)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("vrrp: gratuitous ARP: bad MAC %v", mac)
	}
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	ip := addr.Unmap().AsSlice()
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: bcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6,
		ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: mac, SourceProtAddress: ip,
		DstHwAddress: bcast, DstProtAddress: ip}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, arp); err != nil {
		return nil, fmt.Errorf("vrrp: gratuitous ARP: %w", err)
	}
	return buf.Bytes(), nil
}

// UnsolicitedNA returns the Ethernet frame keepalived sends to announce an
// IPv6 addr from mac (vrrp_ndisc.c): a neighbour advertisement from addr
// to all-nodes (ff02::1, 33:33:00:00:00:01), hop limit 255, Override flag
// set (Router too when the interface forwards), target addr and a target
// link-layer address option (RFC 4861 §4.4, §7.2.6).
func UnsolicitedNA(mac net.HardwareAddr, addr netip.Addr, router bool) ([]byte, error) {
	if !addr.Is6() || addr.Is4In6() {
		return nil, fmt.Errorf("vrrp: neighbour advertisement for non-IPv6 %v", addr)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("vrrp: neighbour advertisement: bad MAC %v", mac)
	}
	allNodes := net.ParseIP("ff02::1")
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255, SrcIP: addr.AsSlice(), DstIP: allNodes}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		return nil, fmt.Errorf("vrrp: neighbour advertisement: %w", err)
	}
	flags := uint8(0x20) // Override
	if router {
		flags |= 0x80
	}
	na := &layers.ICMPv6NeighborAdvertisement{Flags: flags, TargetAddress: addr.AsSlice(),
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: mac}}}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip6, icmp, na); err != nil {
		return nil, fmt.Errorf("vrrp: neighbour advertisement: %w", err)
	}
	return buf.Bytes(), nil
}
