package sched

import (
	"math/bits"
	"sync/atomic"
)

// twosIndex answers twos's question — which dest holds the r-th unit of
// the eligible weight, in list order — the way the kernel's list walk
// does: the kernel subtracts weights from r, and the first dest where it
// reaches zero is the first whose prefix sum is at least r.
//
// Two structures give that answer. A Fenwick tree over the effective
// weights (0 when overloaded or quiescent) follows counter changes: an
// overload flag that flips adds the difference with atomic adds, which
// commute, so it needs no lock; a search is log2(n) dependent loads. When
// no dest with weight > 0 is overloaded — the Fenwick total equals the
// table's weight sum, which is the common case and always so without
// thresholds — the prefix sums are those of the table's weights, fixed
// until the next table is published, and a guide table (Chen and Asau's
// cutpoint method) finds the dest in about one step: the bucket of r
// names the first dest that r's bucket can reach, and a short forward
// scan over the sums ends at r's dest. Both return exactly the kernel's
// dest for every r, so only the speed differs.
type twosIndex struct {
	n     int
	leaf  []atomic.Uint64 // effective weight contributed by each dest
	sum   []atomic.Int64  // 1-based Fenwick array
	total atomic.Int64
	top   int // greatest power of two <= n

	// The static path: the table's dests of weight > 0 (pos), their
	// running weight sums (pre, whose last is weight), and for each
	// bucket of 1<<shift consecutive r values the first index into pre
	// that an r of the bucket can map to.
	weight int64
	pos    []int32
	pre    []int64
	guide  []int32
	shift  uint
}

func newTwosIndex(dests []*Dest) *twosIndex {
	n := len(dests)
	x := &twosIndex{n: n, leaf: make([]atomic.Uint64, n), sum: make([]atomic.Int64, n+1)}
	if n > 0 {
		x.top = 1 << (bits.Len(uint(n)) - 1)
	}
	for i, d := range dests {
		v := leafEW.value(d)
		x.leaf[i].Store(v)
		x.add(i, int64(v))
		if w := d.weight.Load(); w > 0 {
			x.weight += int64(w)
			x.pos = append(x.pos, int32(i))
			x.pre = append(x.pre, x.weight)
		}
	}
	if x.weight > 0 {
		x.buildGuide()
	}
	return x
}

// buildGuide sizes the buckets so that there are between two and four
// per dest, and records for each bucket the first dest one of its r
// values reaches.
func (x *twosIndex) buildGuide() {
	k := int64(len(x.pos))
	if per := x.weight / (2 * k); per > 1 {
		x.shift = uint(bits.Len64(uint64(per)) - 1)
	}
	x.guide = make([]int32, (x.weight-1)>>x.shift+1)
	j := 0
	for g := range x.guide {
		lo := int64(g)<<x.shift + 1 // the least r of bucket g
		for x.pre[j] < lo {
			j++
		}
		x.guide[g] = int32(j)
	}
}

// guided returns the position of the dest holding the r-th unit of the
// table's weight (1 <= r <= weight).
func (x *twosIndex) guided(r int64) int {
	j := x.guide[uint64(r-1)>>x.shift]
	for x.pre[j] < r {
		j++
	}
	return int(x.pos[j])
}

func (x *twosIndex) add(i int, delta int64) {
	x.total.Add(delta)
	for j := i + 1; j <= x.n; j += j & -j {
		x.sum[j].Add(delta)
	}
}

func (x *twosIndex) sync(t *table, i int) {
	d := t.dests[i]
	for {
		want := leafEW.value(d)
		cur := x.leaf[i].Load()
		if cur == want {
			return
		}
		if x.leaf[i].CompareAndSwap(cur, want) {
			x.add(i, int64(want)-int64(cur))
		}
	}
}

// lowerBound2 returns, for r1 and r2 (>= 1), the first positions whose
// Fenwick prefix sums reach them, or -1. The two searches run interleaved
// and branch-free: r is random, so a branch would mispredict half the time,
// and the independent loads overlap.
func (x *twosIndex) lowerBound2(r1, r2 int64) (int, int) {
	p1, p2 := 0, 0
	for step := x.top; step > 0; step >>= 1 {
		if n1 := p1 + step; n1 <= x.n {
			s := x.sum[n1].Load()
			var lt int
			if s < r1 {
				lt = 1
			}
			p1 += step * lt
			r1 -= s * int64(lt)
		}
		if n2 := p2 + step; n2 <= x.n {
			s := x.sum[n2].Load()
			var lt int
			if s < r2 {
				lt = 1
			}
			p2 += step * lt
			r2 -= s * int64(lt)
		}
	}
	if p1 >= x.n {
		p1 = -1
	}
	if p2 >= x.n {
		p2 = -1
	}
	return p1, p2
}

// eligibleFrom returns i, or under concurrent updates (when the sums are
// momentarily off) the first eligible position from i on: never a dest
// that may not be chosen. With r = 0 the kernel takes the first eligible
// dest, which is where a search for 1 lands.
func (x *twosIndex) eligibleFrom(i int) int {
	for i >= 0 && i < x.n && x.leaf[i].Load() == 0 {
		i++
	}
	if i >= x.n {
		return -1
	}
	return i
}
