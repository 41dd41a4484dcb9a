package sched

// wrr is ip_vs_wrr.c: a mark {cl, cw} walks the list in passes; pass k
// takes the dests whose weight is at least cw, and cw drops by the gcd of
// the weights (di) after each pass, from mw = max weight - (di - 1) down to
// 1. The state word packs cl (1-based position, 0 = head) above cw.
type wrrAlgo struct {
	di, mw int64
}

const wrrCWMask = uint64(0xffffffff)

func wrrPack(cl int, cw int64) uint64 { return uint64(cl)<<32 | uint64(cw) }

func (a *wrrAlgo) pick(s *Service, t *table, _ *Flow) *Dest {
	return s.pickStateful(t, a.step)
}

// newWRR computes di and mw over the dests (ip_vs_wrr_gcd_weight,
// ip_vs_wrr_max_weight).
func newWRR(dests []*Dest) *wrrAlgo {
	var g, mx int64
	for _, d := range dests {
		w := int64(d.weight.Load())
		if w > 0 {
			if g > 0 {
				g = gcd(w, g)
			} else {
				g = w
			}
		}
		if w > mx {
			mx = w
		}
	}
	if g == 0 {
		g = 1
	}
	return &wrrAlgo{di: g, mw: mx - (g - 1)}
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// translate is ip_vs_wrr_dest_changed (and ip_vs_wrr_init_svc for stInit):
// cl goes back to the head, and cw is kept within the new weights.
func (a *wrrAlgo) translate(st uint64) uint64 {
	if st == stInit {
		return wrrPack(0, a.mw)
	}
	cw := int64(st & wrrCWMask)
	if cw > a.mw || cw == 0 {
		cw = a.mw
	} else if a.di > 1 {
		cw = (cw/a.di)*a.di + 1
	}
	return wrrPack(0, cw)
}

// step is ip_vs_wrr_schedule. Passes that find nothing are skipped in one
// step when the remaining passes up to the one that can match are known to
// be empty, so a Pick costs O(log n) whatever the weights.
func (a *wrrAlgo) step(t *table, st uint64) (int, uint64) {
	tr := t.idx.(*tree)
	d := int(st >> 32)
	cw := int64(st & wrrCWMask)
	if a.mw == 0 {
		return -1, st // no destination available
	}
	di, mw := a.di, a.mw
	last, stop := d, -1
	lastPass, restarted := false, false
	for {
		if d == 0 && stop < 0 {
			// From the head, every pass with cw > max is empty; those
			// that stay above max(max, di) change nothing but cw.
			m := int64(tr.maxAt(1))
			if m < di {
				m = di
			}
			if cw > m {
				if k := (cw - m - 1) / di; k > 0 {
					cw -= k * di
					lastPass = false
				}
			}
		}
		f := tr.firstAtLeast(d, uint64(cw))
		if stop >= d+1 && (f < 0 || stop < f+1) {
			// err_over: all destinations are overloaded
			return -1, wrrPack(stop, cw)
		}
		if f >= 0 {
			return f, wrrPack(f+1, cw)
		}
		d = 0
		cw -= di
		if cw <= 0 {
			cw = mw
			if lastPass || last == 0 {
				return -1, wrrPack(0, cw)
			}
			restarted = true
		}
		lastPass = cw <= di
		if lastPass && restarted && last != 0 {
			stop = last
		}
	}
}

// buildWRR is wrr's row of kinds.
func buildWRR(_ *Service, t, _ *table, _ change) {
	t.idx = newTree(leafEW, t.dests)
	a := newWRR(t.dests)
	t.algo = a
	t.translate = a.translate
}
