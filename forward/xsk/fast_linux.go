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

// Reply returns the key of a NAT connection's replies: from the real
// server raddr:rport (host order) to the client.
func (k FlowKey) Reply(raddr [16]byte, rport uint16) FlowKey {
	return FlowKey{Src: raddr, Dst: k.Src, Sport: htons(rport), Dport: k.Sport, Proto: k.Proto}
}

// flowValue is struct flow.
type flowValue struct {
	Real  uint32
	NAT   uint32
	Seen  uint64
	RAddr [16]byte
	RPort uint16 // network order
	Pad   [6]byte
}

// replyValue is struct reply.
type replyValue struct {
	VAddr      [16]byte
	VPort      uint16 // network order
	DMAC, SMAC [6]byte
	Pad        uint16
	Real       uint32
	Pad2       uint32
	Seen       uint64
}

// realHop is struct real_hop.
type realHop struct {
	Dst, Src [6]byte
	Ifindex  uint32
}

// RealCount is struct real_count: what the fast path forwarded to a real
// server (packets, IP bytes) and of its NAT replies.
type RealCount struct {
	Pkts, Bytes, OutPkts, OutBytes uint64
}

// Add adds o's counts to c's.
func (c *RealCount) Add(o RealCount) {
	c.Pkts += o.Pkts
	c.Bytes += o.Bytes
	c.OutPkts += o.OutPkts
	c.OutBytes += o.OutBytes
}

// Since returns what c counted beyond an earlier reading of the same counts.
func (c RealCount) Since(earlier RealCount) RealCount {
	return RealCount{c.Pkts - earlier.Pkts, c.Bytes - earlier.Bytes, c.OutPkts - earlier.OutPkts, c.OutBytes - earlier.OutBytes}
}

// Flow is a connection on the fast path: Key, the client to the VIP, goes
// to real server handle Real; a NAT connection (NAT set) goes to
// RAddr:RPort (host order), and its replies leave from the VIP to the
// client side's next hop ClientMAC, from the interface's MAC IfaceMAC, by
// the interface they arrive on.
type Flow struct {
	Key                 FlowKey
	Real                uint32
	NAT                 bool
	RAddr               [16]byte
	RPort               uint16
	ClientMAC, IfaceMAC [6]byte
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

// AddFlows puts connections on the fast path, seen now, with one system
// call per map (BPF_MAP_UPDATE_BATCH; one per flow where the kernel lacks
// it). It returns how many of flows, from the first, the program holds:
// on an error the rest were not added (a NAT flow's replies may have been,
// which forwards nothing the engine would not).
func (p *Program) AddFlows(flows []Flow) (int, error) {
	if !p.fast {
		return len(flows), nil
	}
	now := Monotonic()
	keys, vals := make([]FlowKey, 0, len(flows)), make([]flowValue, 0, len(flows))
	var rkeys []FlowKey
	var rvals []replyValue
	var refused error
	for i := range flows {
		f := &flows[i]
		if f.Real >= MaxReals {
			refused = fmt.Errorf("xsk: fast path: real server handle %d beyond the program's %d", f.Real, MaxReals)
			break
		}
		v := flowValue{Real: f.Real, Seen: now}
		if f.NAT {
			v.NAT, v.RAddr, v.RPort = 1, f.RAddr, htons(f.RPort)
			rkeys = append(rkeys, f.Key.Reply(f.RAddr, f.RPort))
			rvals = append(rvals, replyValue{VAddr: f.Key.Dst, VPort: f.Key.Dport, DMAC: f.ClientMAC, SMAC: f.IfaceMAC,
				Real: f.Real, Seen: now})
		}
		keys, vals = append(keys, f.Key), append(vals, v)
	}
	if len(keys) == 0 {
		return 0, refused
	}
	if len(rkeys) > 0 {
		if _, err := batchPut(p.objs.Replies, rkeys, rvals); err != nil {
			return 0, fmt.Errorf("xsk: fast path: adding NAT flows' replies: %w", err)
		}
	}
	n, err := batchPut(p.objs.Flows, keys, vals)
	if err != nil {
		return n, fmt.Errorf("xsk: fast path: adding flows (%d of %d added): %w", n, len(flows), err)
	}
	return n, refused
}

// batchPut writes keys[i] = vals[i] into m, in one system call where the
// kernel has BPF_MAP_UPDATE_BATCH (5.6); it returns how many it wrote.
func batchPut[K, V any](m *ebpf.Map, keys []K, vals []V) (int, error) {
	n, err := m.BatchUpdate(keys, vals, nil)
	if !errors.Is(err, ebpf.ErrNotSupported) {
		return n, err
	}
	for i := range keys {
		if err := m.Put(keys[i], vals[i]); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}

// DeleteFlow takes a connection off the fast path; one that is not there
// (never added, or evicted from the LRU tables) is no error.
func (p *Program) DeleteFlow(f *Flow) error {
	if !p.fast {
		return nil
	}
	err := absent(p.objs.Flows.Delete(f.Key))
	if f.NAT {
		err = errors.Join(err, absent(p.objs.Replies.Delete(f.Key.Reply(f.RAddr, f.RPort))))
	}
	if err != nil {
		return fmt.Errorf("xsk: fast path: deleting a flow: %w", err)
	}
	return nil
}

// absent forgives a deletion of what is not there.
func absent(err error) error {
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// FlowSeen returns when the connection's last fast-path packet came, either
// way (Monotonic's clock), or false when the flow is not in the table.
func (p *Program) FlowSeen(f *Flow) (uint64, bool) {
	if !p.fast {
		return 0, false
	}
	var v flowValue
	if err := p.objs.Flows.Lookup(f.Key, &v); err != nil {
		return 0, false
	}
	if f.NAT {
		var r replyValue
		if err := p.objs.Replies.Lookup(f.Key.Reply(f.RAddr, f.RPort), &r); err == nil {
			v.Seen = max(v.Seen, r.Seen)
		}
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

// RealCounts returns what the fast path forwarded to real server handle h
// and of its replies since the program was loaded, summed over CPUs.
func (p *Program) RealCounts(h uint32) (RealCount, error) {
	var sum RealCount
	if !p.fast || h >= MaxReals {
		return sum, nil
	}
	var per []RealCount
	if err := p.objs.RealStats.Lookup(h, &per); err != nil {
		return sum, fmt.Errorf("xsk: fast path: counts of real server %d: %w", h, err)
	}
	for _, c := range per {
		sum.Add(c)
	}
	return sum, nil
}
