package vrrp

import (
	"context"
	"net"
	"net/netip"
)

// TransportConfig says which adverts a Transport carries: one interface,
// one family, one IP protocol, multicast or unicast (keepalived keeps one
// socket pair per such key and demultiplexes instances by VRID).
type TransportConfig struct {
	// Interface is the interface to send and receive on.
	Interface string
	Family    Family
	// Proto is ProtoVRRP, or ProtoAH for AH-authenticated instances.
	Proto uint8
	// Group is the multicast group to join; invalid for unicast.
	Group netip.Addr
}

// Network opens VRRP transports.
type Network interface {
	Listen(cfg TransportConfig) (Transport, error)
}

// Transport sends and receives VRRP packets for one TransportConfig.
type Transport interface {
	// ReadPacket blocks until a packet arrives; after Close it returns an
	// error. The packet belongs to the caller.
	ReadPacket() (*Packet, error)
	// WritePacket sends p: for IPv4 with exactly p's header fields (the
	// kernel fills in the checksum), for IPv6 from p.Src with hop limit
	// p.TTL. It must not retain p.
	WritePacket(p *Packet) error
	Close() error
}

// Link is what VRRP needs to know about an interface.
type Link struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
	// Up is the operational state (keepalived's IF_ISUP: up and running).
	Up bool
	// Addrs are the interface's addresses in the kernel's order (IPv4
	// primaries first). VRRP sends from the first IPv4 address, or the
	// first IPv6 link-local one, that is not a VIP of its own.
	Addrs []netip.Addr
	// Forwarding is the interface's IPv6 forwarding setting, which sets
	// the router flag of unsolicited neighbour advertisements.
	Forwarding bool
}

// System is the host side of VRRP: addresses, routes, rules, gratuitous
// ARP / unsolicited NA, VMAC interfaces and link state. Add and Del
// operations are idempotent: adding what exists or deleting what does not
// is not an error.
type System interface {
	Link(name string) (Link, error)
	AddAddress(dev string, v VIP) error
	DelAddress(dev string, v VIP) error
	AddRoute(r Route) error
	DelRoute(r Route) error
	AddRule(r Rule) error
	DelRule(r Rule) error
	// Announce sends one gratuitous ARP (IPv4) or unsolicited neighbour
	// advertisement (IPv6) for addr out of dev.
	Announce(dev string, addr netip.Addr) error
	// AddVMAC creates the macvlan name on top of base with the given MAC
	// (or takes over an existing one) and brings it up; DelVMAC removes it.
	AddVMAC(name, base string, mac net.HardwareAddr) error
	DelVMAC(name string) error
	// WatchLinks calls fn for link state changes until ctx ends.
	WatchLinks(ctx context.Context, fn func(name string, up bool)) error
	// WatchAddrs calls fn when an address is added to or removed from an
	// interface, until ctx ends.
	WatchAddrs(ctx context.Context, fn func(dev string, addr netip.Prefix, added bool)) error

	// SetNoAccept makes the firewall drop traffic to and from addrs (the
	// VIPs of masters in no_accept mode), replacing what an earlier call
	// set, in the table fw names: an ip table if ipv4, an ip6 table if
	// ipv6 (the families of the no_accept instances' addresses), as
	// keepalived creates them.
	SetNoAccept(fw Firewall, ipv4, ipv6 bool, addrs []BlockedAddr) error
	// ClearNoAccept removes the table fw names.
	ClearNoAccept(fw Firewall) error
	// PromoteSecondaries sets an interface's promote_secondaries (on), or
	// puts back the value it had before (off).
	PromoteSecondaries(dev string, on bool) error
}

// BlockedAddr is an address the no_accept firewall drops traffic to and
// from. Dev is the interface of an IPv6 link-local address (the same
// link-local address may be used on other links).
type BlockedAddr struct {
	Addr netip.Addr
	Dev  string
}

// VMAC returns the virtual router MAC of RFC 5798 §7.3:
// 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
func VMAC(fam Family, vrid uint8) net.HardwareAddr {
	if fam == IPv6 {
		return net.HardwareAddr{0, 0, 0x5e, 0, 2, vrid}
	}
	return net.HardwareAddr{0, 0, 0x5e, 0, 1, vrid}
}
