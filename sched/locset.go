package sched

import (
	"sync/atomic"
	"time"
)

// lblcr's destination sets (ip_vs_dest_set) are lists of member nodes,
// newest member first, as in the kernel. A list is never changed in place:
// a new member is a new node linked in front of the published list, and an
// erased member costs copies of the members before it, the rest being
// shared; the entry's set word then swings to the new list with a
// compare-and-swap. The nodes only the old list had go back to the free
// list at once, their incarnation raised, so that a reader still walking
// them notices and reads the entry's set again. Nodes come from a fixed
// pool of twice the entries; when it runs dry, the least recently used
// entry is evicted, with its nodes.
type locNode struct {
	inc  atomic.Uint32
	dest atomic.Pointer[Dest]
	next atomic.Uint64 // link to the next member, or free list link while free
}

// setMin is ip_vs_dest_set_min over the list at sw: the weighted
// least-connection member among those available, not overloaded and of
// weight > 0 (the first such, then strictly better ones), with the list's
// length. ok is false when a node was reused during the walk.
func (c *locCache) setMin(sw uint64) (least *Dest, n int, ok bool) {
	var loh int64
	for w := sw; w != 0; n++ {
		nd := &c.nodes[linkIdx(w)]
		d, next := nd.dest.Load(), nd.next.Load()
		if nd.inc.Load() != linkInc(w) {
			return nil, 0, false
		}
		w = next
		if d.Overloaded() {
			continue
		}
		if least == nil {
			if d.weight.Load() > 0 && d.Available() {
				least, loh = d, int64(d.overhead())
			}
			continue
		}
		doh := int64(d.overhead())
		if loh*int64(d.weight.Load()) > doh*int64(least.weight.Load()) && d.Available() {
			least, loh = d, doh
		}
	}
	return least, n, true
}

// setMax is ip_vs_dest_set_max: the weighted most-connection member of
// weight > 0, its position in the list, and the list's length.
func (c *locCache) setMax(sw uint64) (most *Dest, pos, n int, ok bool) {
	var moh int64
	for w := sw; w != 0; n++ {
		nd := &c.nodes[linkIdx(w)]
		d, next := nd.dest.Load(), nd.next.Load()
		if nd.inc.Load() != linkInc(w) {
			return nil, 0, 0, false
		}
		w = next
		dw := int64(d.weight.Load())
		if most == nil {
			if dw > 0 {
				most, moh, pos = d, int64(d.overhead()), n
			}
			continue
		}
		doh := int64(d.overhead())
		if moh*dw < doh*int64(most.weight.Load()) && dw > 0 {
			most, moh, pos = d, doh, n
		}
	}
	return most, pos, n, true
}

// setHas reports whether d is a member of the list at sw.
func (c *locCache) setHas(sw uint64, d *Dest) (has, ok bool) {
	for w := sw; w != 0; {
		nd := &c.nodes[linkIdx(w)]
		m, next := nd.dest.Load(), nd.next.Load()
		if nd.inc.Load() != linkInc(w) {
			return false, false
		}
		if m == d {
			return true, true
		}
		w = next
	}
	return false, true
}

// entryMin reads the set of entry e (incarnation inc) and returns its
// setMin; ok is false when the entry itself was freed meanwhile.
func (c *locCache) entryMin(e *locEntry, inc uint32) (least *Dest, n int, ok bool) {
	for {
		sw := e.set.Load()
		if !e.is(inc) {
			return nil, 0, false
		}
		if least, n, ok := c.setMin(sw); ok {
			return least, n, true
		}
	}
}

// insertMember is ip_vs_dest_set_insert with check: d joins the head of
// the set unless it is a member; the set's lastmod becomes now.
func (c *locCache) insertMember(e *locEntry, inc uint32, d *Dest, now time.Duration) {
	n := -1
	for {
		sw := e.set.Load()
		if !e.is(inc) {
			break
		}
		has, ok := c.setHas(sw, d)
		if !ok {
			continue
		}
		if has {
			break
		}
		if n < 0 {
			if n = c.allocNode(now); n < 0 {
				return
			}
			c.nodes[n].dest.Store(d)
		}
		c.nodes[n].next.Store(sw)
		if e.set.CompareAndSwap(sw, link(n, c.nodes[n].inc.Load())) {
			e.lastmod.Store(int64(now))
			return
		}
	}
	if n >= 0 {
		c.freeNodeAt(n)
	}
}

// eraseMax is the lblcr expiration step: the set loses its most loaded
// member (ip_vs_dest_set_max, then ip_vs_dest_set_erase) if it still has
// more than one; lastmod becomes now.
func (c *locCache) eraseMax(e *locEntry, inc uint32, now time.Duration) {
	for {
		sw := e.set.Load()
		if !e.is(inc) {
			return
		}
		m, pos, n, ok := c.setMax(sw)
		if !ok {
			continue
		}
		if m == nil || n <= 1 {
			return // one member left, or none of weight > 0
		}
		nw, ok := c.without(sw, pos, now)
		if !ok {
			return // no nodes to be had
		}
		if nw == ^uint64(0) {
			continue // the list changed under the copy
		}
		if !e.set.CompareAndSwap(sw, nw) {
			c.freeCopies(nw, pos)
			continue
		}
		e.lastmod.Store(int64(now))
		// The old list's first pos nodes and the erased one were its own.
		w := sw
		for range pos + 1 {
			n := linkIdx(w)
			w = c.nodes[n].next.Load()
			c.freeNodeAt(n)
		}
		return
	}
}

// without returns a new list equal to sw less its member at pos: copies of
// the members before pos, then the old list's nodes after it. It returns
// ^0 when a node of sw was reused during the copy, and ok = false when no
// node can be had.
func (c *locCache) without(sw uint64, pos int, now time.Duration) (uint64, bool) {
	var first, last uint64
	w := sw
	for range pos {
		nd := &c.nodes[linkIdx(w)]
		d, next := nd.dest.Load(), nd.next.Load()
		if nd.inc.Load() != linkInc(w) {
			c.freeCopies(first, -1)
			return ^uint64(0), true
		}
		n := c.allocNode(now)
		if n < 0 {
			c.freeCopies(first, -1)
			return 0, false
		}
		c.nodes[n].dest.Store(d)
		c.nodes[n].next.Store(0)
		self := link(n, c.nodes[n].inc.Load())
		if first == 0 {
			first = self
		} else {
			c.nodes[linkIdx(last)].next.Store(self)
		}
		last, w = self, next
	}
	// w is the erased member.
	nd := &c.nodes[linkIdx(w)]
	after := nd.next.Load()
	if nd.inc.Load() != linkInc(w) {
		c.freeCopies(first, -1)
		return ^uint64(0), true
	}
	if first == 0 {
		return after, true
	}
	c.nodes[linkIdx(last)].next.Store(after)
	return first, true
}

// freeCopies frees the first n nodes of list w (all of them for n < 0):
// the private copies that without made for a list never published.
func (c *locCache) freeCopies(w uint64, n int) {
	for i := 0; w != 0 && (n < 0 || i < n); i++ {
		k := linkIdx(w)
		w = c.nodes[k].next.Load()
		c.freeNodeAt(k)
	}
}

// allocNode takes a free node, evicting the least recently used entry when
// there is none; -1 when neither can be done now.
func (c *locCache) allocNode(now time.Duration) int {
	for range 3 {
		if n := c.popNode(); n >= 0 {
			return n
		}
		if !c.evict(now) {
			return -1
		}
	}
	return -1
}

// freeNodeAt raises node n's incarnation, so that readers walking it start
// over, and puts it back on the free list.
func (c *locCache) freeNodeAt(n int) {
	nd := &c.nodes[n]
	nd.inc.Add(1)
	nd.dest.Store(nil)
	c.pushNode(n)
}

func (c *locCache) popNode() int {
	for {
		h := c.freeNode.Load()
		n := linkIdx(h)
		if n < 0 {
			return -1
		}
		next := uint32(c.nodes[n].next.Load())
		if c.freeNode.CompareAndSwap(h, uint64(linkInc(h)+1)<<32|uint64(next)) {
			return n
		}
	}
}

func (c *locCache) pushNode(n int) {
	for {
		h := c.freeNode.Load()
		c.nodes[n].next.Store(uint64(uint32(h)))
		if c.freeNode.CompareAndSwap(h, uint64(linkInc(h)+1)<<32|uint64(n+1)) {
			return
		}
	}
}
