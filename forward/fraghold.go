package forward

import (
	"sync"
	"sync/atomic"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/forward/ring"
)

// fragHold keeps later IP fragments that arrive before their datagram's
// first fragment, which alone carries the ports that say where the datagram
// goes. When the first fragment arrives and has been forwarded, the held
// ones follow it; held fragments whose first never comes expire. It is
// small and bounded: holdSlots frames of at most holdFrameMax bytes, the
// oldest pushed out when full. Either way a fragment that never finds its
// first is counted as an orphan.
type fragHold struct {
	mu sync.Mutex
	// held is the number of used slots, read without the lock so that a
	// first fragment with nothing held costs one atomic load.
	held  atomic.Int32
	slots []holdSlot
	bufs  []byte
	seq   uint64
}

const (
	holdSlots    = 64
	holdFrameMax = scratchSize
	// holdLife is how long a fragment waits for its first: reordering, not
	// loss (RFC 791's reassembly timer is far longer; a datagram whose first
	// fragment was lost is lost anyway).
	holdLife = 2 * conntab.TicksPerSecond
)

type holdSlot struct {
	used     bool
	src, dst [16]byte
	id       uint32
	proto    uint8
	expires  uint32
	seq      uint64
	ifindex  int
	n        int
}

func (s *holdSlot) matches(src, dst *[16]byte, id uint32, proto uint8) bool {
	return s.used && s.id == id && s.proto == proto && s.src == *src && s.dst == *dst
}

// hold copies the later fragment p (received as f) into the holding area.
// It reports how many fragments it pushed out or refused (orphans).
func (h *fragHold) hold(f *ring.Frame, p *frame.Packet, now uint32) (orphans uint64) {
	if len(f.Data) > holdFrameMax {
		return 1
	}
	var src, dst [16]byte
	conntab.Put16(&src, p.SrcIP())
	conntab.Put16(&dst, p.DstIP())
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.slots == nil {
		h.slots = make([]holdSlot, holdSlots)
		h.bufs = make([]byte, holdSlots*holdFrameMax)
	}
	free, oldest := -1, -1
	for i := range h.slots {
		s := &h.slots[i]
		if s.used && int32(s.expires-now) <= 0 {
			s.used = false
			h.held.Add(-1)
			orphans++
		}
		switch {
		case !s.used:
			if free < 0 {
				free = i
			}
		case oldest < 0 || s.seq < h.slots[oldest].seq:
			oldest = i
		}
	}
	victim := free
	if victim < 0 {
		victim = oldest // full: the oldest is pushed out
		orphans++
	} else {
		h.held.Add(1)
	}
	s := &h.slots[victim]
	h.seq++
	*s = holdSlot{used: true, src: src, dst: dst, id: p.FragID, proto: p.Proto, expires: now + holdLife, seq: h.seq,
		ifindex: f.Ifindex, n: copy(h.bufs[victim*holdFrameMax:(victim+1)*holdFrameMax], f.Data)}
	return orphans
}

// take moves the oldest held fragment of the datagram (src, dst, id,
// proto) into out and frees its slot; it returns the frame's length and
// interface, or 0 when none is held.
func (h *fragHold) take(src, dst *[16]byte, id uint32, proto uint8, out []byte) (n, ifindex int) {
	if h.held.Load() == 0 {
		return 0, 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	best := -1
	for i := range h.slots {
		if h.slots[i].matches(src, dst, id, proto) && (best < 0 || h.slots[i].seq < h.slots[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return 0, 0
	}
	s := &h.slots[best]
	n = copy(out, h.bufs[best*holdFrameMax:best*holdFrameMax+s.n])
	s.used = false
	h.held.Add(-1)
	return n, s.ifindex
}

// expire frees the fragments whose first did not come in time and returns
// how many.
func (h *fragHold) expire(now uint32) (orphans uint64) {
	if h.held.Load() == 0 {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.slots {
		if s := &h.slots[i]; s.used && int32(s.expires-now) <= 0 {
			s.used = false
			h.held.Add(-1)
			orphans++
		}
	}
	return orphans
}
