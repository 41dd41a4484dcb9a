// Package vrrp implements VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) the way
// keepalived does, so that a ulvs node can stand in a keepalived pair.
//
// The wire codec, the state machine (a pure function of state, event and
// time) and the I/O (raw sockets, netlink addresses, gratuitous ARP) are kept
// apart.
package vrrp
