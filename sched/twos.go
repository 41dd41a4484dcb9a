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
	w := t.idx.(*twosIndex)
	total := w.total.Load()
	if total <= 0 {
		return nil // no destination available
	}
	// Add 1 so that the random weights are inclusive of total.
	u1, u2 := s.randPair(uint64(total) + 1)
	r1, r2 := max(int64(u1), 1), max(int64(u2), 1)
	var i1, i2 int
	if total == w.weight {
		i1, i2 = w.guided(r1), w.guided(r2)
	} else {
		i1, i2 = w.lowerBound2(r1, r2)
	}
	if i1, i2 = w.eligibleFrom(i1), w.eligibleFrom(i2); i1 < 0 || i2 < 0 {
		return nil
	}
	d1, d2 := t.dests[i1], t.dests[i2]
	// The kernel compares in int: weight2*overhead1 > weight1*overhead2.
	w1, w2 := int32(w.leaf[i1].Load()), int32(w.leaf[i2].Load())
	if w2*d1.overhead() > w1*d2.overhead() {
		return d2
	}
	return d1
}

func (s *Service) rand64() uint64 {
	if s.cfg.Rand == nil {
		return rand.Uint64()
	}
	return s.cfg.Rand()
}

// randPair returns two independent uniform random numbers in [0, n), as
// the kernel's two get_random_u32_below calls do. Below 2^32 both come from
// one 64-bit draw, a 32-bit half each (Lemire's multiply-shift with its
// rejection step, so exactly uniform); a rejected half draws again.
func (s *Service) randPair(n uint64) (uint64, uint64) {
	if n > 1<<32 {
		return s.below64(n), s.below64(n)
	}
	if n == 1<<32 {
		x := s.rand64()
		return x >> 32, x & (1<<32 - 1)
	}
	x := s.rand64()
	return s.below32(uint32(x>>32), uint32(n)), s.below32(uint32(x), uint32(n))
}

// below32 maps the uniform 32-bit x to a uniform number in [0, n).
func (s *Service) below32(x, n uint32) uint64 {
	m := uint64(x) * uint64(n)
	if uint32(m) < n {
		t := -n % n
		for uint32(m) < t {
			m = uint64(uint32(s.rand64())) * uint64(n)
		}
	}
	return m >> 32
}

// below64 returns a uniform random number in [0, n).
func (s *Service) below64(n uint64) uint64 {
	hi, lo := bits.Mul64(s.rand64(), n)
	if lo < n {
		t := -n % n
		for lo < t {
			hi, lo = bits.Mul64(s.rand64(), n)
		}
	}
	return hi
}

// buildTwos is twos's row of kinds.
func buildTwos(_ *Service, t, _ *table, _ change) {
	t.idx = newTwosIndex(t.dests)
	t.algo = twosAlgo{}
}
