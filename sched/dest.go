package sched

import (
	"fmt"
	"net/netip"
	"sync/atomic"
)

// ConnKind says how a connection counts against its real server, as the
// kernel's IP_VS_CONN_F_INACTIVE and IP_VS_CONN_F_TEMPLATE flags do.
type ConnKind uint8

const (
	// ConnInactive is a connection counted in InactiveConns: every new
	// connection starts so (the kernel sets IP_VS_CONN_F_INACTIVE in the
	// dest's conn_flags), and so does one whose protocol state is not
	// active (TCP other than ESTABLISHED/SYN_SENT/SYN_RECV/SYNACK, all UDP).
	ConnInactive ConnKind = iota
	// ConnActive is a connection counted in ActiveConns.
	ConnActive
	// ConnTemplate is a persistence template, counted in PersistConns only.
	ConnTemplate
)

// String returns the kind's name.
func (k ConnKind) String() string {
	switch k {
	case ConnInactive:
		return "inactive"
	case ConnActive:
		return "active"
	case ConnTemplate:
		return "template"
	}
	return fmt.Sprintf("ConnKind(%d)", uint8(k))
}

// Dest flag bits (the kernel's IP_VS_DEST_F_AVAILABLE and _OVERLOAD).
const (
	destAvailable uint32 = 1 << iota
	destOverload
)

// Dest is one real server of a Service: address, port, weight, thresholds
// and connection counters. A Dest is created by Service.AddDest and stays
// valid after it is removed (connections bound to it keep their pointer and
// unbind from it later), exactly as the kernel keeps a removed dest in its
// trash while connections hold it.
//
// Counters change only through Bind, Unbind, Activate and Deactivate, which
// the connection table calls; they keep the overload flag as the kernel's
// ip_vs_bind_dest and ip_vs_unbind_dest do and keep the scheduler's indexes
// current. All methods are safe for concurrent use.
type Dest struct {
	// Addr and Port identify the real server; they never change.
	Addr netip.Addr
	Port uint16

	svc *Service

	weight     atomic.Int32
	lastWeight atomic.Int32
	uThreshold atomic.Uint32
	lThreshold atomic.Uint32
	flags      atomic.Uint32

	active   atomic.Int32
	inactive atomic.Int32
	persist  atomic.Int32

	// pos holds this dest's list position in the service's tables of even
	// and odd generation, as gen<<32|index, so that a counter change can
	// find its leaf in the current table without a lookup.
	pos [2]atomic.Uint64
}

// Weight returns the current weight (0 = quiescent: never chosen).
func (d *Dest) Weight() int32 { return d.weight.Load() }

// LastWeight returns the kernel's last_weight: the latest non-zero weight
// (or the weight given when the dest was added), which mh uses.
func (d *Dest) LastWeight() int32 { return d.lastWeight.Load() }

// UThreshold returns the upper connection threshold (0 = none).
func (d *Dest) UThreshold() uint32 { return d.uThreshold.Load() }

// LThreshold returns the lower connection threshold (0 = none).
func (d *Dest) LThreshold() uint32 { return d.lThreshold.Load() }

// ActiveConns returns the number of active connections.
func (d *Dest) ActiveConns() int32 { return d.active.Load() }

// InactiveConns returns the number of inactive connections.
func (d *Dest) InactiveConns() int32 { return d.inactive.Load() }

// PersistConns returns the number of persistence templates.
func (d *Dest) PersistConns() int32 { return d.persist.Load() }

// Overloaded reports the overload flag (IP_VS_DEST_F_OVERLOAD), set when
// the connections reach the upper threshold.
func (d *Dest) Overloaded() bool { return d.flags.Load()&destOverload != 0 }

// Available reports whether the dest is in its service (false once removed).
func (d *Dest) Available() bool { return d.flags.Load()&destAvailable != 0 }

// String returns "addr:port".
func (d *Dest) String() string { return netip.AddrPortFrom(d.Addr, d.Port).String() }

// overhead is ip_vs_dest_conn_overhead: (activeconns << 8) + inactconns in
// the kernel's int arithmetic.
func (d *Dest) overhead() int32 { return d.active.Load()<<8 + d.inactive.Load() }

// totalConns is ip_vs_dest_totalconns as the unsigned value the kernel
// compares with the thresholds.
func (d *Dest) totalConns() uint32 { return uint32(d.active.Load() + d.inactive.Load()) }

// Bind counts a connection newly bound to the dest (ip_vs_bind_dest): the
// counter of its kind goes up, and the dest becomes overloaded when it has
// an upper threshold and active+inactive reaches it.
func (d *Dest) Bind(k ConnKind) {
	switch k {
	case ConnActive:
		d.active.Add(1)
	case ConnTemplate:
		d.persist.Add(1)
	default:
		d.inactive.Add(1)
	}
	if u := d.uThreshold.Load(); u != 0 && d.totalConns() >= u {
		d.flags.Or(destOverload)
	}
	d.changed()
}

// Unbind counts a connection leaving the dest (ip_vs_unbind_dest); k is its
// kind at that moment. The overload flag clears when active+inactive falls
// below the lower threshold, or with no lower threshold below 3/4 of the
// upper one, or at once with neither.
func (d *Dest) Unbind(k ConnKind) {
	switch k {
	case ConnActive:
		d.active.Add(-1)
	case ConnTemplate:
		d.persist.Add(-1)
	default:
		d.inactive.Add(-1)
	}
	l, u := d.lThreshold.Load(), d.uThreshold.Load()
	switch {
	case l != 0:
		if d.totalConns() < l {
			d.flags.And(^destOverload)
		}
	case u != 0:
		if d.totalConns()*4 < u*3 {
			d.flags.And(^destOverload)
		}
	default:
		d.flags.And(^destOverload)
	}
	d.changed()
}

// Activate moves one connection from inactive to active, as the protocol
// state machine does when a connection enters an active state.
func (d *Dest) Activate() {
	d.inactive.Add(-1)
	d.active.Add(1)
	d.changed()
}

// Deactivate moves one connection from active to inactive.
func (d *Dest) Deactivate() {
	d.active.Add(-1)
	d.inactive.Add(1)
	d.changed()
}

// changed brings the scheduler index of the service's current table up to
// date with this dest's counters and flags. When the table is replaced
// meanwhile, the new one is brought up to date too.
func (d *Dest) changed() {
	svc := d.svc
	if svc == nil {
		return
	}
	for {
		t := svc.cur.Load()
		if t.idx == nil {
			return
		}
		pv := d.pos[t.gen&1].Load()
		if uint32(pv>>32) == t.gen {
			t.idx.sync(t, int(uint32(pv)))
		}
		if svc.cur.Load() == t {
			return
		}
	}
}
