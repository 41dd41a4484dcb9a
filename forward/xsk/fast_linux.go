package xsk

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The fast path's limits: real-server handles at or above MaxReals take
// the socket path; the flow table never has fewer than minFlows slots.
const (
	MaxReals = 16384
	minFlows = 64
)

// FlowKey names a fast-path connection: struct flow_key of xdp.c, the
// client to the VIP, addresses as conntab stores them.
type FlowKey struct {
	Src, Dst     [16]byte
	Sport, Dport uint16 // network order
	Proto        uint8
	Pad          [3]uint8
}

// NewFlowKey makes a flow's key from host-order ports.
func NewFlowKey(src, dst [16]byte, sport, dport uint16, proto uint8) FlowKey {
	return FlowKey{Src: src, Dst: dst, Sport: htons(sport), Dport: htons(dport), Proto: proto}
}

// flowValue is struct flow.
type flowValue struct {
	Real uint32
	Pad  uint32
	Seen uint64
}

// realHop is struct real_hop.
type realHop struct {
	Dst, Src [6]byte
	Ifindex  uint32
}

// realCount is struct real_count.
type realCount struct {
	Pkts, Bytes uint64
}

// Fast reports whether the program runs the fast path.
func (p *Program) Fast() bool { return p.fast }

// Ifindex is the interface the program is attached to.
func (p *Program) Ifindex() int { return p.ifindex }

// Monotonic returns CLOCK_MONOTONIC in nanoseconds, the clock of a flow's
// last packet time (bpf_ktime_get_ns).
func Monotonic() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// AddFlow puts a connection on the fast path to real server handle real,
// seen now.
func (p *Program) AddFlow(k FlowKey, real uint32) error {
	if !p.fast || real >= MaxReals {
		return nil
	}
	if err := p.objs.Flows.Put(k, flowValue{Real: real, Seen: Monotonic()}); err != nil {
		return fmt.Errorf("xsk: fast path: adding a flow: %w", err)
	}
	return nil
}

// DeleteFlow takes a connection off the fast path; one that is not there
// (never added, or evicted from the LRU table) is no error.
func (p *Program) DeleteFlow(k FlowKey) error {
	if !p.fast {
		return nil
	}
	if err := p.objs.Flows.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("xsk: fast path: deleting a flow: %w", err)
	}
	return nil
}

// FlowSeen returns when the connection's last fast-path packet came
// (Monotonic's clock), or false when the flow is not in the table.
func (p *Program) FlowSeen(k FlowKey) (uint64, bool) {
	if !p.fast {
		return 0, false
	}
	var v flowValue
	if err := p.objs.Flows.Lookup(k, &v); err != nil {
		return 0, false
	}
	return v.Seen, true
}

// Hop is a real server's next hop for the fast path.
type Hop struct {
	Ifindex  int
	Dst, Src [6]byte
}

// SetReal gives real server handle h its next hop (a zero Hop takes it off
// the fast path: its flows go to the socket).
func (p *Program) SetReal(h uint32, hop Hop) error {
	if !p.fast || h >= MaxReals {
		return nil
	}
	if err := p.objs.Reals.Put(h, realHop{Dst: hop.Dst, Src: hop.Src, Ifindex: uint32(hop.Ifindex)}); err != nil {
		return fmt.Errorf("xsk: fast path: real server %d: %w", h, err)
	}
	return nil
}

// RealCounts returns the packets and IP bytes the fast path forwarded to
// real server handle h since the program was loaded (or the handle last
// reset), summed over CPUs.
func (p *Program) RealCounts(h uint32) (pkts, bytes uint64, err error) {
	if !p.fast || h >= MaxReals {
		return 0, 0, nil
	}
	var per []realCount
	if err := p.objs.RealStats.Lookup(h, &per); err != nil {
		return 0, 0, fmt.Errorf("xsk: fast path: counts of real server %d: %w", h, err)
	}
	for _, c := range per {
		pkts += c.Pkts
		bytes += c.Bytes
	}
	return pkts, bytes, nil
}
