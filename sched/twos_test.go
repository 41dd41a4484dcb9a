package sched

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// walk is the kernel's ip_vs_twos_schedule walk for one random number r:
// subtract the eligible weights in list order; the dest where r reaches
// zero holds it.
func walk(dests []*Dest, r int64) int {
	for i, d := range dests {
		if w := leafEW.value(d); w > 0 {
			if r -= int64(w); r <= 0 {
				return i
			}
		}
	}
	return -1
}

// TestTwosIndexSearch: with no dest overloaded, the guide table and the
// Fenwick tree both return, for every r in [1, total], the dest the
// kernel's walk returns; with some overloaded, the Fenwick tree does.
func TestTwosIndexSearch(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	for c := range 200 {
		n := 1 + rng.IntN(300)
		if c%10 == 0 {
			n = 1 + rng.IntN(3)
		}
		maxW := []int{2, 10, 1000, 1_000_000}[c%4]
		s, err := New(Config{Scheduler: "twos"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			w := int32(rng.IntN(maxW) + 1)
			if rng.IntN(5) == 0 {
				w = 0
			}
			var u uint32
			if c%3 == 0 && rng.IntN(4) == 0 {
				u = 1 // overloaded by the connection bound below
			}
			addr := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
			d, err := s.AddDest(DestConfig{Addr: addr, Port: 80, Weight: w, UThreshold: u})
			if err != nil {
				t.Fatal(err)
			}
			if u != 0 {
				d.Bind(ConnInactive)
			}
		}
		tb := s.cur.Load()
		x := tb.idx.(*twosIndex)
		total := x.total.Load()
		rs := []int64{1, 2, total - 1, total}
		for range 2000 {
			rs = append(rs, 1+rng.Int64N(max(total, 1)))
		}
		if total < 5000 {
			rs = rs[:0]
			for r := int64(1); r <= total; r++ {
				rs = append(rs, r)
			}
		}
		for _, r := range rs {
			if r < 1 || r > total {
				continue
			}
			want := walk(tb.dests, r)
			if got, _ := x.lowerBound2(r, r); got != want {
				t.Fatalf("case %d: Fenwick(%d) = %d, walk = %d", c, r, got, want)
			}
			if total == x.weight {
				if got := x.guided(r); got != want {
					t.Fatalf("case %d: guided(%d) = %d, walk = %d", c, r, got, want)
				}
			}
		}
	}
}

// TestRandPair: a 32-bit half that falls in the rejection zone of
// Lemire's method is drawn again, and over many draws the two numbers are
// uniform and independent (chi-square over a 7x7 grid of residues).
func TestRandPair(t *testing.T) {
	t.Parallel()
	t.Run("rejection", func(t *testing.T) {
		t.Parallel()
		// n = 3: the zone is x*3 mod 2^32 < (2^32-3) mod 3 = 1, that is
		// x = 0. The first value's high half is 0, so the first number is
		// drawn again from the low half of the second value (0xC0000000:
		// 2); the second number is the first value's low half (0x80000000:
		// 1).
		seq := []uint64{0x00000000_80000000, 0x00000000_C0000000}
		s := &Service{cfg: Config{Rand: func() uint64 { v := seq[0]; seq = seq[1:]; return v }}}
		r1, r2 := s.randPair(3)
		if got := fmt.Sprint(r1, r2, len(seq)); got != "2 1 0" {
			t.Errorf("randPair(3) = %s (numbers, values left), want 2 1 0", got)
		}
	})
	t.Run("uniform", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(5, 6))
		s := &Service{cfg: Config{Rand: rng.Uint64}}
		const n, draws = 5501, 490_000
		var grid [7][7]float64
		for range draws {
			a, b := s.randPair(n)
			if a >= n || b >= n {
				t.Fatalf("randPair(%d) = %d, %d", n, a, b)
			}
			grid[a%7][b%7]++
		}
		// Residues mod 7 of [0, 5501): 5501 = 7*785 + 6, so residue 6 has
		// 785 values and the others 786.
		var chi float64
		for i := range 7 {
			for j := range 7 {
				pi, pj := 786.0/n, 786.0/n
				if i == 6 {
					pi = 785.0 / n
				}
				if j == 6 {
					pj = 785.0 / n
				}
				e := draws * pi * pj
				chi += (grid[i][j] - e) * (grid[i][j] - e) / e
			}
		}
		// 48 degrees of freedom: P(chi2 > 100) < 1e-5.
		if chi > 100 {
			t.Errorf("chi-square %.1f over 48 degrees of freedom", chi)
		}
	})
}
