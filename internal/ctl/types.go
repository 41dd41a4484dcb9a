// Package ctl defines ulvsd's control protocol: the views ulvsadm reads
// (virtual services as ipvsadm shows them, connections, VRRP instances,
// checkers) and the operations it sends, carried as JSON over a unix socket.
//
// ctl has no behaviour of its own beyond the wire format; ulvsd fills the
// views from its subsystems and ulvsadm formats them.
package ctl

import (
	"net/netip"
)

// IPVS service flags, as the kernel numbers them (IP_VS_SVC_F_*); the
// scheduler's own (SCHED1..3) are package sched's FlagSched1..3.
const (
	FlagPersistent uint32 = 0x01
	FlagHashed     uint32 = 0x02
	FlagOnePacket  uint32 = 0x04
)

// Stats are cumulative counters, as ipvsadm --stats shows them.
type Stats struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"inpkts"`
	OutPkts  uint64 `json:"outpkts"`
	InBytes  uint64 `json:"inbytes"`
	OutBytes uint64 `json:"outbytes"`
}

// Rates are per-second estimates, as ipvsadm --rate shows them.
type Rates struct {
	CPS    uint64 `json:"cps"`
	InPPS  uint64 `json:"inpps"`
	OutPPS uint64 `json:"outpps"`
	InBPS  uint64 `json:"inbps"`
	OutBPS uint64 `json:"outbps"`
}

// Dest is one real server of a virtual service.
type Dest struct {
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port"`
	// Method is Masq, Route, Tunnel or Local (ipvsadm's words).
	Method     string `json:"method"`
	Weight     int    `json:"weight"`
	UThreshold uint32 `json:"uthreshold"`
	LThreshold uint32 `json:"lthreshold"`
	Active     uint32 `json:"active_conns"`
	Inactive   uint32 `json:"inactive_conns"`
	Persistent uint32 `json:"persistent_conns"`
	// TunnelType is "" (ipip), gue or gre, for ipvsadm's TunnelInfo column.
	TunnelType string `json:"tunnel_type,omitempty"`
	TunnelPort uint16 `json:"tunnel_port,omitempty"`
	TunnelCsum string `json:"tunnel_csum,omitempty"`
	Stats      Stats  `json:"stats"`
	Rates      Rates  `json:"rates"`
}

// Service is one virtual service.
type Service struct {
	// Proto is TCP, UDP or SCTP ("" for a fwmark service).
	Proto  string     `json:"proto,omitempty"`
	Addr   netip.Addr `json:"addr,omitzero"`
	Port   uint16     `json:"port,omitempty"`
	FWMark uint32     `json:"fwmark,omitempty"`
	// IPv6 is set for IPv6 services (also fwmark ones).
	IPv6  bool   `json:"ipv6,omitempty"`
	Sched string `json:"sched"`
	// Flags are IP_VS_SVC_F_* bits.
	Flags uint32 `json:"flags"`
	// Timeout is the persistence timeout in seconds.
	Timeout uint32 `json:"timeout,omitempty"`
	// Netmask is the persistence granularity as a prefix length.
	Netmask int    `json:"netmask"`
	PE      string `json:"pe,omitempty"`
	// Enabled is false while this node does not hold the VIP.
	Enabled bool   `json:"enabled"`
	Stats   Stats  `json:"stats"`
	Rates   Rates  `json:"rates"`
	Dests   []Dest `json:"dests"`
}

// Timeouts are the TCP, TCP FIN and UDP timeouts in seconds.
type Timeouts struct {
	TCP    int `json:"tcp"`
	TCPFin int `json:"tcpfin"`
	UDP    int `json:"udp"`
}

// IPVS is the whole table, as `ipvsadm -Ln` reads it.
type IPVS struct {
	// Version is the IPVS version ulvs reproduces (1.2.1).
	Version string `json:"version"`
	// Size is the connection table size ipvsadm prints as (size=N).
	Size     int       `json:"size"`
	Backend  string    `json:"backend"`
	Services []Service `json:"services"`
	Timeouts Timeouts  `json:"timeouts"`
}

// Conn is one connection table entry, as `ipvsadm -Lnc` shows it.
type Conn struct {
	// Proto is TCP, UDP, SCTP, or IP for a fwmark persistence template.
	Proto string `json:"proto"`
	// Expires is the time left, in seconds.
	Expires int            `json:"expires"`
	State   string         `json:"state"`
	Source  netip.AddrPort `json:"source"`
	Virtual netip.AddrPort `json:"virtual"`
	Dest    netip.AddrPort `json:"dest"`
}
