package sched

import (
	"math/bits"
	"sync/atomic"
)

// An index keeps, per table, a summary of the dests' counters and flags
// that lets Pick answer in O(1) or O(log n) what the kernel finds by
// scanning the whole list. Each dest has a leaf word computed from its live
// state; a dest whose counters change re-computes its leaf (sync) and, when
// the leaf changed, refreshes the summary above it. Leaves and summaries are
// atomics: updates from several goroutines and Picks run concurrently with
// no lock.
type index interface {
	sync(t *table, i int)
}

// leafKind says how a dest's state maps to its leaf word and how two
// leaves compare.
type leafKind uint8

const (
	// leafEW: the effective weight, w if !overloaded && w > 0 else 0;
	// greatest wins (rr, wrr, fo).
	leafEW leafKind = iota
	// leafOVF: w if !overloaded && active <= w && w != 0 else 0; greatest
	// wins (ovf).
	leafOVF
	// leafLC: the overhead as unsigned, or 1<<32 when overloaded or w == 0;
	// least wins (lc).
	leafLC
	// leafWLC: w<<32 | uint32(overhead), w = 0 when not eligible, and bit
	// 63 set when 2*active < w (lblc's "a less loaded server exists");
	// least overhead/w wins (wlc, lblc, lblcr).
	leafWLC
	// leafSED: w<<32 | uint32(active+1); least (active+1)/w wins (sed).
	leafSED
	// leafNQ: as leafSED, but an idle dest (active == 0) beats any busy one
	// (nq).
	leafNQ
)

const (
	leafHalf    = uint64(1) << 63
	lcNoLeaf    = uint64(1) << 32
	leafWMask   = uint64(0x7fffffff) << 32
	maxIndexLen = 1 << 30
)

// value computes the leaf word of d from its live state.
func (k leafKind) value(d *Dest) uint64 {
	w := d.weight.Load()
	ovl := d.flags.Load()&destOverload != 0
	switch k {
	case leafEW:
		if ovl || w <= 0 {
			return 0
		}
		return uint64(w)
	case leafOVF:
		if ovl || d.active.Load() > w || w == 0 {
			return 0
		}
		return uint64(w)
	case leafLC:
		if ovl || w == 0 {
			return lcNoLeaf
		}
		return uint64(uint32(d.overhead()))
	case leafWLC:
		a := d.active.Load()
		v := uint64(uint32(a<<8 + d.inactive.Load()))
		if !ovl && w > 0 {
			v |= uint64(w) << 32
		}
		if a*2 < w {
			v |= leafHalf
		}
		return v
	default: // leafSED, leafNQ
		v := uint64(uint32(d.active.Load() + 1))
		if !ovl && w > 0 {
			v |= uint64(w) << 32
		}
		return v
	}
}

// eligible reports whether a leaf word may be chosen at all.
func (k leafKind) eligible(v uint64) bool {
	switch k {
	case leafEW, leafOVF:
		return v != 0
	case leafLC:
		return v < lcNoLeaf
	default:
		return v&leafWMask != 0
	}
}

// better reports whether leaf b, right of leaf a in list order, beats it:
// the kernel's scans keep the first dest and replace it only on a strictly
// better one, so the winner of a range is its leftmost best.
func (k leafKind) better(a, b uint64) bool {
	switch k {
	case leafEW, leafOVF:
		return b > a
	case leafLC:
		return b < a
	}
	wa, wb := int64((a&leafWMask)>>32), int64((b&leafWMask)>>32)
	if wb == 0 {
		return false
	}
	if wa == 0 {
		return true
	}
	oa, ob := int64(int32(uint32(a))), int64(int32(uint32(b)))
	if k == leafNQ {
		// ip_vs_nq_schedule returns the first idle dest at once.
		if oa == 1 {
			return false
		}
		if ob == 1 {
			return true
		}
	}
	// (__s64)loh * w(d) > (__s64)doh * w(least)
	return oa*wb > ob*wa
}

// tree is a tournament tree over list positions: each internal node holds
// the position of the leftmost best leaf below it, with a version in the
// high half so that a stale compare-and-swap cannot win (ABA). An update
// refreshes each ancestor, and refreshes it a second time when its first
// CAS lost: then another refresh that read the children after ours
// succeeded (the double-refresh of Jayanti's f-arrays), so no change is
// lost.
type tree struct {
	kind leafKind
	n    int
	size int
	leaf []atomic.Uint64
	node []atomic.Uint64 // 1-based heap; node[size+i] is leaf i
	half atomic.Int64    // leaves with leafHalf set
}

// newTree builds a tree over dests from their current state.
func newTree(kind leafKind, dests []*Dest) *tree {
	n := len(dests)
	size := 1
	if n > 1 {
		size = 1 << bits.Len(uint(n-1))
	}
	tr := &tree{kind: kind, n: n, size: size, leaf: make([]atomic.Uint64, n), node: make([]atomic.Uint64, 2*size)}
	for i, d := range dests {
		v := kind.value(d)
		tr.leaf[i].Store(v)
		if v&leafHalf != 0 && kind == leafWLC {
			tr.half.Add(1)
		}
		tr.node[size+i].Store(uint64(i + 1))
	}
	for p := size - 1; p >= 1; p-- {
		tr.node[p].Store(uint64(tr.combine(tr.idx(2*p), tr.idx(2*p+1))))
	}
	return tr
}

// idx returns the 1-based winner position held by node p (0 = none).
func (tr *tree) idx(p int) uint32 { return uint32(tr.node[p].Load()) }

// combine returns the winner of two ranges, l left of r (1-based, 0 = none).
func (tr *tree) combine(l, r uint32) uint32 {
	if r == 0 {
		return l
	}
	if l == 0 {
		return r
	}
	if tr.kind.better(tr.leaf[l-1].Load(), tr.leaf[r-1].Load()) {
		return r
	}
	return l
}

func (tr *tree) refresh(p int) bool {
	old := tr.node[p].Load()
	w := tr.combine(tr.idx(2*p), tr.idx(2*p+1))
	return tr.node[p].CompareAndSwap(old, (old>>32+1)<<32|uint64(w))
}

// sync re-computes leaf i from its dest and propagates a change to the root.
// It loops until the leaf matches the dest's state read after the last
// write, so a racing sync that wrote an older value is corrected.
func (tr *tree) sync(t *table, i int) {
	d := t.dests[i]
	for {
		want := tr.kind.value(d)
		cur := tr.leaf[i].Load()
		if cur == want {
			return
		}
		if !tr.leaf[i].CompareAndSwap(cur, want) {
			continue
		}
		if (cur^want)&leafHalf != 0 && tr.kind == leafWLC {
			if want&leafHalf != 0 {
				tr.half.Add(1)
			} else {
				tr.half.Add(-1)
			}
		}
		for p := (tr.size + i) >> 1; p >= 1; p >>= 1 {
			if !tr.refresh(p) {
				tr.refresh(p)
			}
		}
	}
}

// best returns the position of the leftmost best eligible leaf, or -1.
func (tr *tree) best() int {
	if tr.n == 0 {
		return -1
	}
	w := tr.idx(1)
	if w == 0 || !tr.kind.eligible(tr.leaf[w-1].Load()) {
		return -1
	}
	return int(w - 1)
}

// maxAt returns the greatest leaf value below node p (leafEW, leafOVF).
func (tr *tree) maxAt(p int) uint64 {
	w := tr.idx(p)
	if w == 0 {
		return 0
	}
	return tr.leaf[w-1].Load()
}

// firstAtLeast returns the first position >= from whose leaf is >= x, or
// -1 (leafEW trees; x >= 1). It looks at leaf from first, since rr and wrr
// usually take the next dest, then climbs and descends the tree.
func (tr *tree) firstAtLeast(from int, x uint64) int {
	for from < tr.n {
		if tr.leaf[from].Load() >= x {
			return from
		}
		p := tr.size + from
		for {
			if p == 1 {
				return -1
			}
			if p&1 == 0 && tr.maxAt(p+1) >= x {
				p++
				break
			}
			p >>= 1
		}
		for p < tr.size {
			if tr.maxAt(2*p) >= x {
				p = 2 * p
			} else {
				p = 2*p + 1
			}
		}
		i := p - tr.size
		if i < tr.n && tr.leaf[i].Load() >= x {
			return i
		}
		// A concurrent update moved the maximum; go on from there.
		from = i + 1
	}
	return -1
}
