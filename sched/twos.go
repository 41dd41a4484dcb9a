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
	i1, i2 := fw.lowerBound2(max(int64(r1), 1), max(int64(r2), 1))
	if i1, i2 = fw.eligibleFrom(i1), fw.eligibleFrom(i2); i1 < 0 || i2 < 0 {
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

// eligibleFrom returns i, or under concurrent updates (when the sums are
// momentarily off) the first eligible position from i on: never a dest
// that may not be chosen. With r = 0 the kernel takes the first eligible
// dest, which is where a search for 1 lands.
func (fw *fenwick) eligibleFrom(i int) int {
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
