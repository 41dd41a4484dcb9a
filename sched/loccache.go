package sched

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"
)

// locCache is the lblc/lblcr table: destination address -> server (lblc)
// or server set (lblcr). All its memory is allocated with the service, so
// that Pick allocates nothing, not even on a miss where the kernel calls
// kmalloc: a fixed array of entries with a free list, lookup chains of
// entry indexes, and for lblcr a fixed array of member nodes (locset.go).
//
// Pick looks up, adds and changes entries without a lock: entries are
// pushed at the head of their chain with a compare-and-swap, and readers
// validate what they read against the entry's incarnation, which changes
// whenever an entry is freed, so that a reader meeting a reused entry
// starts over (a seqlock per entry). Only the holder of the claim unlinks
// and frees entries: the collector (Expire, on the control side, which
// waits for the claim) or a Pick that finds no free entry and evicts the
// least recently used one (it only tries the claim; when another holds it,
// the address is not cached this time).
type locCache struct {
	lblcr bool

	ent     []locEntry
	freeEnt atomic.Uint64   // free list head: link word, with a tag in place of the incarnation
	bucket  []atomic.Uint64 // lookup chains, newest first
	bbits   uint

	nodes    []locNode // lblcr member lists
	freeNode atomic.Uint64

	// entries is the kernel's tbl->entries, quirks included: lblc's
	// replacement of an entry counts as a new one.
	entries atomic.Int32

	// When the collector last ran (Expire, serialized by Service.mu).
	ran     bool
	lastRun time.Duration

	// Held by whoever unlinks and frees entries.
	claim atomic.Bool
	// Only the claim holder touches the rest.
	counter, rover int
	lru            lruTree
	lruStale       int // entries freed since the LRU tree was last built
	stale          [locTabSize]int32
}

// Entry states, in the low bits of locEntry.ver.
const (
	entFree    uint64 = 0
	entFilling uint64 = 1 // taken from the free list, not yet in a chain
	entLive    uint64 = 2
	entDead    uint64 = 3 // the loser of a race to add the same address
	entState   uint64 = 3
	entIs4     uint64 = 4
)

// locEntry is one cache entry: a cache line of atomics.
type locEntry struct {
	// ver holds the incarnation in its high 32 bits, the state and the
	// address family in its low bits.
	ver     atomic.Uint64
	hi, lo  atomic.Uint64 // the address's 16 bytes
	next    atomic.Uint64 // chain link, or free list link while free
	lastuse atomic.Int64
	dest    atomic.Pointer[Dest] // lblc
	set     atomic.Uint64        // lblcr: link to the first member node
	lastmod atomic.Int64         // lblcr
}

// A link word names an entry (or node) as index+1 in its low 32 bits and
// the incarnation it had when linked in the high 32 bits; 0 is nil.
func link(i int, inc uint32) uint64 { return uint64(inc)<<32 | uint64(i+1) }
func linkIdx(w uint64) int          { return int(uint32(w)) - 1 }
func linkInc(w uint64) uint32       { return uint32(w >> 32) }

// is reports whether e still has incarnation inc: what was read from it
// after reading inc belongs to the same entry.
func (e *locEntry) is(inc uint32) bool { return uint32(e.ver.Load()>>32) == inc }

// touch is the kernel's en->lastuse = jiffies, keeping the latest when
// workers' coarse clocks disagree.
func (e *locEntry) touch(now time.Duration) {
	if e.lastuse.Load() < int64(now) {
		e.lastuse.Store(int64(now))
	}
}

// locKey is a destination address as the cache compares it: its 16 bytes
// and whether it is IPv4 (the kernel has no zones, so neither has the key).
type locKey struct {
	hi, lo uint64
	is4    uint64 // entIs4 or 0
}

func keyOf(a netip.Addr) locKey {
	if a.Is4() {
		b := a.As4()
		return locKey{lo: 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:])), is4: entIs4}
	}
	b := a.As16()
	return locKey{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func (e *locEntry) key() locKey {
	return locKey{hi: e.hi.Load(), lo: e.lo.Load(), is4: e.ver.Load() & entIs4}
}

// kernelBucket is the bucket of the kernel's 1024-bucket table,
// hash_32(ntohl(fold), 10), which decides the order of the collector.
func (k locKey) kernelBucket() int {
	f := uint32(k.lo)
	if k.is4 == 0 {
		f = uint32(k.hi>>32) ^ uint32(k.hi) ^ uint32(k.lo>>32) ^ uint32(k.lo)
	}
	return int(hash32(f, locTabBits))
}

func newLocCache(capacity, nodes int, lblcr bool) *locCache {
	nb := 2
	for nb < capacity/4 {
		nb <<= 1
	}
	c := &locCache{
		lblcr:   lblcr,
		ent:     make([]locEntry, capacity),
		bucket:  make([]atomic.Uint64, nb),
		bbits:   uint(bits.TrailingZeros(uint(nb))),
		counter: 1,
		lru:     newLRU(capacity),
	}
	for i := capacity - 1; i >= 0; i-- {
		c.pushEnt(i)
	}
	if lblcr {
		c.nodes = make([]locNode, nodes)
		for i := len(c.nodes) - 1; i >= 0; i-- {
			c.pushNode(i)
		}
	}
	return c
}

// home returns the head of k's lookup chain.
func (c *locCache) home(k locKey) *atomic.Uint64 {
	h := (k.hi*0x9E3779B97F4A7C15 ^ k.lo ^ k.is4) * 0xBF58476D1CE4E5B9
	return &c.bucket[h>>(64-c.bbits)]
}

// lookup returns the first live entry for k, newest first, as index and
// incarnation, or -1.
func (c *locCache) lookup(k locKey) (int, uint32) {
	head := c.home(k)
retry:
	for {
		for w := head.Load(); w != 0; {
			i, inc := linkIdx(w), linkInc(w)
			e := &c.ent[i]
			v, hi, lo, next := e.ver.Load(), e.hi.Load(), e.lo.Load(), e.next.Load()
			if uint32(v>>32) != inc || !e.is(inc) {
				continue retry // freed and reused under us: start over
			}
			if v&entState == entLive && hi == k.hi && lo == k.lo && v&entIs4 == k.is4 {
				return i, inc
			}
			w = next
		}
		return -1, 0
	}
}

// oldest returns the last live entry for k after e in e's chain (the
// first pushed), or -1.
func (c *locCache) oldest(e *locEntry, inc uint32, k locKey) (int, uint32) {
retry:
	for {
		w := e.next.Load()
		if !e.is(inc) {
			return -1, 0
		}
		found, finc := -1, uint32(0)
		for w != 0 {
			j, jinc := linkIdx(w), linkInc(w)
			o := &c.ent[j]
			v, hi, lo, next := o.ver.Load(), o.hi.Load(), o.lo.Load(), o.next.Load()
			if uint32(v>>32) != jinc || !o.is(jinc) {
				continue retry
			}
			if v&entState == entLive && hi == k.hi && lo == k.lo && v&entIs4 == k.is4 {
				found, finc = j, jinc
			}
			w = next
		}
		return found, finc
	}
}

// add caches k -> d (lblc), or k -> {d} (lblcr), for a destination
// address that had no entry: ip_vs_lblc_new / ip_vs_lblcr_new. Where no
// entry can be had (the cache is full and the claim is taken), the address
// stays uncached, as in the kernel when kmalloc fails.
func (c *locCache) add(k locKey, d *Dest, now time.Duration) {
	i := c.allocEnt(now)
	if i < 0 {
		return
	}
	e := &c.ent[i]
	inc := uint32(e.ver.Load() >> 32)
	e.hi.Store(k.hi)
	e.lo.Store(k.lo)
	e.lastuse.Store(int64(now))
	if c.lblcr {
		n := c.allocNode(now)
		if n < 0 {
			e.ver.Store(uint64(inc+1) << 32)
			c.pushEnt(i)
			return
		}
		c.nodes[n].dest.Store(d)
		c.nodes[n].next.Store(0)
		e.set.Store(link(n, c.nodes[n].inc.Load()))
		e.lastmod.Store(int64(now))
	} else {
		e.dest.Store(d)
	}
	e.ver.Store(uint64(inc)<<32 | entLive | k.is4)
	head := c.home(k)
	self := link(i, inc)
	for {
		h := head.Load()
		e.next.Store(h)
		if head.CompareAndSwap(h, self) {
			break
		}
	}
	c.entries.Add(1)
	c.settle(e, inc, k, d, now)
}

// settle closes the race of two Picks that miss on the same new address
// at once and both add an entry. The kernel serializes them under its
// lock: the second ip_vs_lblc(r)_new finds the first one's entry and
// updates it. Here the entry pushed first wins: the later one, which finds
// the earlier after itself in the chain, marks itself dead (uncounted) and
// applies its choice to the earlier entry, as the kernel's second call
// does. Whichever of the two pushed last sees the other, so one live entry
// remains; with more than two, each later one applies its choice to the
// first. The collector frees dead entries.
func (c *locCache) settle(e *locEntry, inc uint32, k locKey, d *Dest, now time.Duration) {
	for {
		j, jinc := c.oldest(e, inc, k)
		if j < 0 {
			return
		}
		v := e.ver.Load()
		if uint32(v>>32) != inc || v&entState != entLive {
			return
		}
		if !e.ver.CompareAndSwap(v, v&^entState|entDead) {
			continue
		}
		c.entries.Add(-1)
		if c.lblcr {
			c.insertMember(&c.ent[j], jinc, d, now)
		} else {
			c.replace(&c.ent[j], jinc, d, now)
		}
		return
	}
}

// replace is ip_vs_lblc_new for an address that has an entry: a different
// server replaces the entry's. The kernel deletes the old entry without
// decrementing tbl->entries and adds a new one, so the count goes up.
//
// Between the check of the incarnation and the swap the entry may be
// freed and reused for another address with the same server; the swap
// then gives that address d instead, a valid server. That needs the entry
// just used to go in between: collected, found stale just before this
// Pick used it, or evicted as the least recently used, which it just
// stopped being.
func (c *locCache) replace(e *locEntry, inc uint32, d *Dest, now time.Duration) {
	for {
		cur := e.dest.Load()
		if cur == d || !e.is(inc) {
			return
		}
		if e.dest.CompareAndSwap(cur, d) {
			e.touch(now)
			c.entries.Add(1)
			return
		}
	}
}

// allocEnt takes a free entry, or when there is none the least recently
// used one; -1 when neither can be had now.
func (c *locCache) allocEnt(now time.Duration) int {
	for range 3 {
		if i := c.popEnt(); i >= 0 {
			e := &c.ent[i]
			e.ver.Store(e.ver.Load()&^entState | entFilling)
			return i
		}
		if !c.claim.CompareAndSwap(false, true) {
			return -1
		}
		i, retry := c.evictLocked(now)
		if i >= 0 {
			// Its next lastuse is now: a bound that needs no raising.
			c.lru.set(i, int64(now))
		}
		c.claim.Store(false)
		if i >= 0 {
			return i
		}
		if !retry {
			return -1
		}
	}
	return -1
}

// evict frees the least recently used entry, if it can take the claim.
func (c *locCache) evict(now time.Duration) bool {
	if !c.claim.CompareAndSwap(false, true) {
		return false
	}
	i, retry := c.evictLocked(now)
	if i >= 0 {
		c.releaseLocked(i)
	}
	c.claim.Store(false)
	return i >= 0 || retry
}

// lock takes the claim for the control side, which may wait.
func (c *locCache) lock() {
	for !c.claim.CompareAndSwap(false, true) {
		runtime.Gosched()
	}
}

func (c *locCache) unlock() { c.claim.Store(false) }

// evictLocked drops the entry with the least lastuse and returns it,
// filling, to the caller; or returns -1, and retry when an entry was freed
// meanwhile. The LRU tree holds, per entry, a lower bound of its lastuse
// (Picks raise lastuse without touching the tree); when the least bound
// is the entry's actual lastuse, no entry was used less recently, and it
// goes; otherwise the bound is raised and the search goes on. An entry
// being filled is skipped.
func (c *locCache) evictLocked(now time.Duration) (int, bool) {
	if c.lruStale > len(c.ent)/8 {
		c.rebuildLRU(now)
	}
	for range 4 * len(c.ent) {
		i := c.lru.min()
		e := &c.ent[i]
		v := e.ver.Load()
		switch v & entState {
		case entFree:
			return -1, true // the caller takes it from the free list
		case entFilling:
			c.lru.set(i, int64(now))
			continue
		case entDead:
			if c.dropLocked(i) {
				return i, false
			}
			c.lru.set(i, int64(now))
			continue
		}
		if lu := e.lastuse.Load(); lu != c.lru.key[i] {
			c.lru.set(i, lu)
			continue
		}
		if !c.dropLocked(i) {
			// Live but not linked yet: its add is under way.
			c.lru.set(i, int64(now))
			continue
		}
		c.entries.Add(-1)
		return i, false
	}
	return -1, false
}

// rebuildLRU sets every bound to the entry's lastuse at once, cheaper than
// raising many bounds one by one after the collector freed many entries.
func (c *locCache) rebuildLRU(now time.Duration) {
	for i := range c.ent {
		e := &c.ent[i]
		switch e.ver.Load() & entState {
		case entFree:
			c.lru.key[i] = math.MinInt64
		case entFilling:
			c.lru.key[i] = int64(now)
		default:
			c.lru.key[i] = e.lastuse.Load()
		}
	}
	c.lru.build()
	c.lruStale = 0
}

// removeLocked unlinks entry i and frees it, reporting whether it was
// linked (see dropLocked).
func (c *locCache) removeLocked(i int) bool {
	if !c.dropLocked(i) {
		return false
	}
	c.releaseLocked(i)
	return true
}

// dropLocked unlinks entry i from its chain and clears it, giving its
// member nodes back; it stays filling, with a new incarnation, so that
// readers holding the old one start over. An add marks its entry live just
// before pushing it; one not in its chain yet is left alone (false), for
// a link to it must not appear after it was dropped. Only pushes change a
// chain's head concurrently, and no one else unlinks, so the walk needs no
// validation.
func (c *locCache) dropLocked(i int) bool {
	e := &c.ent[i]
	inc := uint32(e.ver.Load() >> 32)
	if !c.unlinkLocked(e, link(i, inc)) {
		return false
	}
	e.ver.Store(uint64(inc+1)<<32 | entFilling)
	e.dest.Store(nil)
	for w := e.set.Swap(0); w != 0; {
		n := linkIdx(w)
		w = c.nodes[n].next.Load()
		c.freeNodeAt(n)
	}
	return true
}

// releaseLocked puts a dropped entry on the free list.
func (c *locCache) releaseLocked(i int) {
	e := &c.ent[i]
	e.ver.Store(e.ver.Load() &^ entState)
	c.lru.set(i, math.MinInt64)
	c.lruStale++
	c.pushEnt(i)
}

// unlinkLocked takes e, linked as self, out of its chain; false when it is
// not in it.
func (c *locCache) unlinkLocked(e *locEntry, self uint64) bool {
	head := c.home(e.key())
	for {
		w := head.Load()
		if w == self {
			if head.CompareAndSwap(self, e.next.Load()) {
				return true
			}
			continue // a push came first
		}
		for w != 0 {
			p := &c.ent[linkIdx(w)]
			next := p.next.Load()
			if next == self {
				p.next.Store(e.next.Load())
				return true
			}
			w = next
		}
		return false
	}
}

// popEnt and pushEnt keep the free entries on a Treiber stack whose head
// carries a tag against ABA.
func (c *locCache) popEnt() int {
	for {
		h := c.freeEnt.Load()
		i := linkIdx(h)
		if i < 0 {
			return -1
		}
		next := uint32(c.ent[i].next.Load())
		if c.freeEnt.CompareAndSwap(h, uint64(linkInc(h)+1)<<32|uint64(next)) {
			return i
		}
	}
}

func (c *locCache) pushEnt(i int) {
	for {
		h := c.freeEnt.Load()
		c.ent[i].next.Store(uint64(uint32(h)))
		if c.freeEnt.CompareAndSwap(h, uint64(linkInc(h)+1)<<32|uint64(i+1)) {
			return
		}
	}
}

// lruTree is a tournament tree over the entries' lastuse bounds: node p
// holds the entry with the least bound below it (the lowest index on
// ties). Only the claim holder uses it.
type lruTree struct {
	key  []int64 // per entry, then math.MaxInt64 padding
	node []int32 // 1-based; leaves are implicit
	size int
}

func newLRU(n int) lruTree {
	size := 1
	for size < n {
		size <<= 1
	}
	t := lruTree{key: make([]int64, size), node: make([]int32, size), size: size}
	for i := range t.key {
		t.key[i] = math.MinInt64
		if i >= n {
			t.key[i] = math.MaxInt64
		}
	}
	t.build()
	return t
}

func (t *lruTree) arg(q int) int32 {
	if q >= t.size {
		return int32(q - t.size)
	}
	return t.node[q]
}

func (t *lruTree) pull(p int) {
	l, r := t.arg(2*p), t.arg(2*p+1)
	if t.key[r] < t.key[l] {
		t.node[p] = r
	} else {
		t.node[p] = l
	}
}

func (t *lruTree) build() {
	for p := t.size - 1; p >= 1; p-- {
		t.pull(p)
	}
}

func (t *lruTree) set(i int, k int64) {
	t.key[i] = k
	for p := (t.size + i) / 2; p >= 1; p /= 2 {
		t.pull(p)
	}
}

func (t *lruTree) min() int {
	if t.size == 1 {
		return 0
	}
	return int(t.node[1])
}
