package xsk

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Program is the steering XDP program attached to one interface, with its
// own maps.
type Program struct {
	mu      sync.Mutex
	objs    steerObjects
	link    link.Link
	ifindex int
	// what the maps hold, to apply changes as differences
	services, natReals map[tupleKey]bool
	vips, natAddrs     map[[16]byte]uint8
	locals             map[[16]byte]bool
	// fast is set when the fast path is on.
	fast bool
}

// tupleKey is struct tuple of xdp.c.
type tupleKey struct {
	Addr  [16]byte
	Proto uint8
	Pad   uint8
	Port  uint16 // network order
}

var removeMemlock sync.Once

// Attach loads the program and attaches it to the interface in native
// (driver) XDP mode, with room for fastFlows fast-path connections (0: no
// fast path; see xdp.c). It fails when the driver has no native XDP (the
// caller falls back to AF_PACKET) and says why.
func Attach(ifindex, fastFlows int) (*Program, error) {
	p, err := Load(ifindex, fastFlows)
	if err != nil {
		return nil, err
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: p.objs.UlvsSteer, Interface: ifindex, Flags: link.XDPDriverMode})
	if err != nil {
		p.objs.Close()
		if errors.Is(err, unix.EOPNOTSUPP) {
			return nil, fmt.Errorf("xsk: ifindex %d: the driver has no native XDP (generic XDP would save nothing): %w", ifindex, err)
		}
		return nil, fmt.Errorf("xsk: native XDP on ifindex %d: %w", ifindex, err)
	}
	p.link = l
	return p, nil
}

// Load loads the program for interface ifindex without attaching it, with
// the fast path on when fastFlows > 0: Attach attaches it; tests run it
// with BPF_PROG_TEST_RUN and read what user space wrote into its maps.
// Close releases it.
func Load(ifindex, fastFlows int) (*Program, error) {
	removeMemlock.Do(func() { _ = rlimit.RemoveMemlock() })
	p := &Program{ifindex: ifindex, services: map[tupleKey]bool{}, natReals: map[tupleKey]bool{},
		vips: map[[16]byte]uint8{}, natAddrs: map[[16]byte]uint8{}, locals: map[[16]byte]bool{}}
	spec, err := loadSteer()
	if err != nil {
		return nil, fmt.Errorf("xsk: loading the XDP program: %w", err)
	}
	// The flow tables are preallocated: without a fast path they are left
	// at their smallest.
	for _, m := range []string{"flows", "replies"} {
		spec.Maps[m].MaxEntries = uint32(max(fastFlows, minFlows))
	}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		return nil, fmt.Errorf("xsk: loading the XDP program: %w", err)
	}
	if fastFlows > 0 {
		if err := p.objs.FastOn.Put(uint32(0), uint32(1)); err != nil {
			p.objs.Close()
			return nil, fmt.Errorf("xsk: turning the fast path on: %w", err)
		}
		p.fast = true
	}
	return p, nil
}

// Register puts socket s in the slot of its receive queue: from now on the
// queue's covered frames go to it.
func (p *Program) Register(queue int, s *Socket) error {
	if err := p.objs.Xsks.Put(uint32(queue), uint32(s.FD())); err != nil {
		return fmt.Errorf("xsk: XSKMAP slot %d: %w", queue, err)
	}
	return nil
}

// Tuple is one service (the destination) or NAT real server (the source)
// whose packets are steered, as the kernel guard's tuples.
type Tuple struct {
	Addr netip.Addr
	// Proto is 6, 17 or 132.
	Proto uint8
	// Port 0 means every port.
	Port uint16
}

// Bits of the vips and nat_addrs values (COVER_* in xdp.c).
const (
	coverAny      = 1
	coverFragUDP  = 2
	coverFragSCTP = 4
)

func addr16(a netip.Addr) [16]byte { return a.Unmap().As16() }

func fragBit(proto uint8) uint8 {
	switch proto {
	case 17:
		return coverFragUDP
	case 132:
		return coverFragSCTP
	}
	return 0
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Sync makes the maps hold exactly these services, NAT real servers and
// local addresses (the director's own, whose packets from a NAT real
// server are its own traffic), adding before it deletes.
func (p *Program) Sync(services, natReals []Tuple, locals []netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	svc, nat := map[tupleKey]bool{}, map[tupleKey]bool{}
	vips, natAddrs := map[[16]byte]uint8{}, map[[16]byte]uint8{}
	for _, t := range services {
		a := addr16(t.Addr)
		svc[tupleKey{Addr: a, Proto: t.Proto, Port: htons(t.Port)}] = true
		vips[a] |= coverAny | fragBit(t.Proto)
	}
	for _, t := range natReals {
		a := addr16(t.Addr)
		nat[tupleKey{Addr: a, Proto: t.Proto, Port: htons(t.Port)}] = true
		natAddrs[a] |= coverAny | fragBit(t.Proto)
	}
	loc := map[[16]byte]bool{}
	for _, a := range locals {
		loc[addr16(a)] = true
	}
	var errs []error
	one := uint8(1)
	// Additions first, so that nothing covered before and after passes in
	// between.
	for k := range svc {
		if !p.services[k] {
			errs = append(errs, p.objs.Services.Put(k, one))
		}
	}
	for k := range nat {
		if !p.natReals[k] {
			errs = append(errs, p.objs.NatReals.Put(k, one))
		}
	}
	for k := range loc {
		if !p.locals[k] {
			errs = append(errs, p.objs.Locals.Put(k, one))
		}
	}
	for k, v := range vips {
		if p.vips[k] != v {
			errs = append(errs, p.objs.Vips.Put(k, v))
		}
	}
	for k, v := range natAddrs {
		if p.natAddrs[k] != v {
			errs = append(errs, p.objs.NatAddrs.Put(k, v))
		}
	}
	for k := range p.services {
		if !svc[k] {
			errs = append(errs, p.objs.Services.Delete(k))
		}
	}
	for k := range p.natReals {
		if !nat[k] {
			errs = append(errs, p.objs.NatReals.Delete(k))
		}
	}
	for k := range p.locals {
		if !loc[k] {
			errs = append(errs, p.objs.Locals.Delete(k))
		}
	}
	for k := range p.vips {
		if _, ok := vips[k]; !ok {
			errs = append(errs, p.objs.Vips.Delete(k))
		}
	}
	for k := range p.natAddrs {
		if _, ok := natAddrs[k]; !ok {
			errs = append(errs, p.objs.NatAddrs.Delete(k))
		}
	}
	p.services, p.natReals, p.vips, p.natAddrs, p.locals = svc, nat, vips, natAddrs, loc
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("xsk: ifindex %d: maps: %w", p.ifindex, err)
	}
	return nil
}

// Counters are the program's counts since it was loaded, summed over
// CPUs.
type Counters struct {
	// Steered frames went to a socket; Passed ones to the kernel;
	// NoSocket ones were covered but their queue had no socket, and were
	// dropped.
	Steered, Passed, NoSocket uint64
	// Fast frames were forwarded by the fast path.
	Fast uint64
}

// Counters reads the program's counters.
func (p *Program) Counters() (Counters, error) {
	var c Counters
	for i, dst := range []*uint64{&c.Steered, &c.Passed, &c.NoSocket, &c.Fast} {
		var per []uint64
		if err := p.objs.Stats.Lookup(uint32(i), &per); err != nil {
			return c, fmt.Errorf("xsk: stats: %w", err)
		}
		for _, v := range per {
			*dst += v
		}
	}
	return c, nil
}

// Close detaches the program and frees its maps.
func (p *Program) Close() error {
	var errs []error
	if p.link != nil {
		errs = append(errs, p.link.Close())
		p.link = nil
	}
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}

// AttachPass attaches, in native mode, an XDP program that passes every
// frame. A veth delivers the frames its peer sends with XDP_TX or
// XDP_REDIRECT promptly only while it runs a native XDP program itself (it
// kicks the receiving side's NAPI only then); this is that program, for
// the far end of a director's veth (a lab's switch port). Close detaches
// it.
func AttachPass(ifindex int) (io.Closer, error) {
	removeMemlock.Do(func() { _ = rlimit.RemoveMemlock() })
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "ulvs_pass", Type: ebpf.XDP, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2 /* XDP_PASS */), asm.Return()}})
	if err != nil {
		return nil, fmt.Errorf("xsk: loading the pass program: %w", err)
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
	prog.Close() // the link holds it
	if err != nil {
		return nil, fmt.Errorf("xsk: native XDP on ifindex %d: %w", ifindex, err)
	}
	return l, nil
}
