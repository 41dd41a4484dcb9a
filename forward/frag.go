package forward

import (
	"sync"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/frame"
)

// fragTracker remembers the ports of fragmented datagrams, keyed by the
// addresses, protocol and IP identification, so that later fragments (which
// carry no transport header) follow the first to the same real server
// without reassembly. It is a fixed-size table: a colliding datagram
// replaces an older one. Later fragments that arrive before the first have
// no ports yet: they wait in the holding area (fragHold) for it.
type fragTracker struct {
	mu      sync.Mutex
	entries [fragSlots]fragEntry
}

const (
	fragSlots = 4096
	// fragLife is how long a datagram's ports are remembered (RFC 791's
	// reassembly timer is 15 s to 120 s; Linux ipfrag_time is 30 s).
	fragLife = 30 * conntab.TicksPerSecond
)

type fragEntry struct {
	src, dst     [16]byte
	id           uint32
	proto        uint8
	sport, dport uint16
	expires      uint32
}

func fragKey(p *frame.Packet) (src, dst [16]byte, slot uint32) {
	conntab.Put16(&src, p.SrcIP())
	conntab.Put16(&dst, p.DstIP())
	h := p.FragID*2654435761 ^ uint32(p.Proto)
	for i := 12; i < 16; i++ {
		h = h*31 + uint32(src[i]) + uint32(dst[i])<<8
	}
	return src, dst, h % fragSlots
}

func (t *fragTracker) record(p *frame.Packet, now uint32) {
	src, dst, slot := fragKey(p)
	t.mu.Lock()
	t.entries[slot] = fragEntry{src: src, dst: dst, id: p.FragID, proto: p.Proto, sport: p.SrcPort,
		dport: p.DstPort, expires: now + fragLife}
	t.mu.Unlock()
}

func (t *fragTracker) lookup(p *frame.Packet, now uint32) (sport, dport uint16, ok bool) {
	src, dst, slot := fragKey(p)
	t.mu.Lock()
	e := &t.entries[slot]
	if e.id == p.FragID && e.proto == p.Proto && e.src == src && e.dst == dst && int32(e.expires-now) > 0 {
		sport, dport, ok = e.sport, e.dport, true
	}
	t.mu.Unlock()
	return sport, dport, ok
}
