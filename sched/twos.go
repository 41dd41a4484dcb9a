package sched

import (
	"math/bits"
	"math/rand/v2"
)

// twosAlgo is ip_vs_twos.c (power of two choices): two random points in
// [0, total weight] pick two dests by weight; the one with less overhead
// per weight wins. Random by design: the same distribution as the kernel,
// not the same sequence.
type twosAlgo struct{}

func (twosAlgo) pick(s *Service, t *table, _ *Flow) *Dest {
	fw := t.idx.(*fenwick)
	total := fw.total.Load()
	if total <= 0 {
		return nil // no destination available
	}
	// Add 1 so that the random weights are inclusive of total.
	n := uint64(total) + 1
	r1, r2 := s.randBelow(n), s.randBelow(n)
	i1, i2 := fw.pickAt(r1), fw.pickAt(r2)
	if i1 < 0 || i2 < 0 {
		return nil
	}
	d1, d2 := t.dests[i1], t.dests[i2]
	// The kernel compares in int: weight2*overhead1 > weight1*overhead2.
	w1, w2 := int32(fw.leaf[i1].Load()), int32(fw.leaf[i2].Load())
	if w2*d1.overhead() > w1*d2.overhead() {
		return d2
	}
	return d1
}

// pickAt returns the first eligible dest at which r minus the running sum
// of weights reaches zero or below: for r == 0 that is the first eligible
// dest, otherwise the first whose prefix sum is >= r.
func (fw *fenwick) pickAt(r uint64) int {
	target := int64(r)
	if target < 1 {
		target = 1
	}
	i := fw.lowerBound(target)
	// Under concurrent updates the sums may be momentarily off: never
	// return a dest that is not eligible.
	for i >= 0 && i < fw.n && fw.leaf[i].Load() == 0 {
		i++
	}
	if i >= fw.n {
		return -1
	}
	return i
}

// randBelow returns a uniform random number in [0, n).
func (s *Service) randBelow(n uint64) uint64 {
	if s.cfg.Rand == nil {
		return rand.Uint64N(n)
	}
	// Lemire's multiply-shift, without the rejection step: its bias is
	// below n/2^64.
	hi, _ := bits.Mul64(s.cfg.Rand(), n)
	return hi
}
