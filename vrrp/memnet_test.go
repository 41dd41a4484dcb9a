package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// MemLAN is an in-memory LAN for tests: hosts on it exchange VRRP packets
// through MemHost transports as if on one Ethernet segment. Multicast goes
// to every other host's transport that joined the group, unicast to the
// host owning the destination address.
type MemLAN struct {
	mu    sync.Mutex
	hosts []*MemHost
	// drop, when set, is asked about every packet; true drops it.
	drop func(from *MemHost, p *Packet) bool
	taps []func(from *MemHost, p *Packet)
}

// NewMemLAN returns an empty LAN.
func NewMemLAN() *MemLAN { return &MemLAN{} }

// SetDrop installs a filter: packets for which drop returns true are lost
// (nil removes the filter).
func (l *MemLAN) SetDrop(drop func(from *MemHost, p *Packet) bool) {
	l.mu.Lock()
	l.drop = drop
	l.mu.Unlock()
}

// Tap calls fn for every packet sent on the LAN (before any drop).
func (l *MemLAN) Tap(fn func(from *MemHost, p *Packet)) {
	l.mu.Lock()
	l.taps = append(l.taps, fn)
	l.mu.Unlock()
}

// Host adds a host named name whose one interface, "eth0", holds the given
// addresses (the first of each family is its primary address).
func (l *MemLAN) Host(name string, addrs ...netip.Addr) *MemHost {
	h := newMemHost(l, name, addrs)
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	return h
}

// Inject delivers p to host to as if it came from the LAN (a hostile or
// hand-made packet).
func (l *MemLAN) Inject(to *MemHost, p *Packet) { to.deliver(clonePacket(p)) }

func (l *MemLAN) send(from *MemHost, p *Packet) {
	l.mu.Lock()
	hosts := append([]*MemHost(nil), l.hosts...)
	drop, taps := l.drop, slices.Clone(l.taps)
	l.mu.Unlock()
	for _, t := range taps {
		t(from, clonePacket(p))
	}
	if drop != nil && drop(from, p) {
		return
	}
	for _, h := range hosts {
		if h == from || !h.reachable() {
			continue
		}
		if p.Dst.IsMulticast() || h.owns(p.Dst) {
			h.deliver(clonePacket(p))
		}
	}
}

func clonePacket(p *Packet) *Packet {
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	return &c
}

// MemHost is one host of a MemLAN. It implements Network and System.
type MemHost struct {
	lan  *MemLAN
	name string

	mu   sync.Mutex
	trs  []*memTransport
	down bool // the host's wire is cut
	sys  memSys
}

var _ Network = (*MemHost)(nil)

// Name returns the host's name.
func (h *MemHost) Name() string { return h.name }

// SetCable connects (true) or disconnects (false) the host from the LAN,
// like pulling its cable: nothing it sends arrives, nothing reaches it.
func (h *MemHost) SetCable(up bool) {
	h.mu.Lock()
	h.down = !up
	h.mu.Unlock()
}

func (h *MemHost) reachable() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.down
}

func (h *MemHost) owns(a netip.Addr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sys.ownsLocked(a)
}

func (h *MemHost) deliver(p *Packet) {
	h.mu.Lock()
	trs := append([]*memTransport(nil), h.trs...)
	h.mu.Unlock()
	for _, t := range trs {
		if t.accepts(p) {
			t.push(p)
		}
	}
}

// Listen opens a transport on the host.
func (h *MemHost) Listen(cfg TransportConfig) (Transport, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sys.links[cfg.Interface]; !ok {
		return nil, errors.New("vrrp: memlan: no interface " + cfg.Interface)
	}
	t := &memTransport{h: h, cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.trs = append(h.trs, t)
	return t, nil
}

// memTransport is a Transport on a MemHost. Its queue is unbounded so a
// sender never blocks; ReadPacket blocks on a channel (durably, for
// testing/synctest).
type memTransport struct {
	h    *MemHost
	cfg  TransportConfig
	mu   sync.Mutex
	q    []*Packet
	wake chan struct{}
	done chan struct{}
	once sync.Once
}

func (t *memTransport) accepts(p *Packet) bool {
	if FamilyOf(p.Dst) != t.cfg.Family || p.Proto != t.cfg.Proto {
		return false
	}
	if p.Dst.IsMulticast() {
		return t.cfg.Group == p.Dst
	}
	return true
}

func (t *memTransport) push(p *Packet) {
	t.mu.Lock()
	t.q = append(t.q, p)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *memTransport) ReadPacket() (*Packet, error) {
	for {
		t.mu.Lock()
		if len(t.q) > 0 {
			p := t.q[0]
			t.q = t.q[1:]
			t.mu.Unlock()
			return p, nil
		}
		t.mu.Unlock()
		select {
		case <-t.wake:
		case <-t.done:
			return nil, fmt.Errorf("vrrp: memlan: %w", net.ErrClosed)
		}
	}
}

func (t *memTransport) WritePacket(p *Packet) error {
	select {
	case <-t.done:
		return fmt.Errorf("vrrp: memlan: %w", net.ErrClosed)
	default:
	}
	if !t.h.reachable() {
		return nil // the frame leaves the host and is lost
	}
	c := clonePacket(p)
	if !c.Src.IsValid() {
		return errors.New("vrrp: memlan: no source address")
	}
	t.h.lan.send(t.h, c)
	return nil
}

func (t *memTransport) Close() error {
	t.once.Do(func() {
		close(t.done)
		t.h.mu.Lock()
		for i, x := range t.h.trs {
			if x == t {
				t.h.trs = append(t.h.trs[:i], t.h.trs[i+1:]...)
				break
			}
		}
		t.h.mu.Unlock()
	})
	return nil
}
