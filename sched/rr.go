package sched

// rr is ip_vs_rr.c. The state is the position of the last chosen dest,
// 1-based, 0 being the list head. A Pick takes the first dest after it that
// is not overloaded and has weight > 0, wrapping once around the list and
// considering the last chosen dest last.
type rrAlgo struct{}

func (rrAlgo) pick(s *Service, t *table, _ *Flow) *Dest {
	return s.pickStateful(t, rrStep)
}

func rrStep(t *table, st uint64) (int, uint64) {
	tr := t.idx.(*tree)
	p := int(st)
	i := tr.firstAtLeast(p, 1)
	if i < 0 && p != 0 {
		// Second pass from the head up to and including p.
		i = tr.firstAtLeast(0, 1)
	}
	if i < 0 {
		return -1, st // sched_data is left as it was
	}
	return i, uint64(i + 1)
}

// rrTranslate applies ip_vs_rr's hooks to the position: it has no add or
// update hook (the position keeps pointing at the same dest, which an add at
// the head moves one down), and ip_vs_rr_del_dest moves a position on the
// removed dest to its predecessor.
func rrTranslate(c change) func(uint64) uint64 {
	return func(st uint64) uint64 {
		if st == stInit {
			return 0
		}
		p := int(st)
		switch c.op {
		case opAdd:
			if p > 0 {
				p++
			}
		case opRemove:
			if j := c.pos + 1; p >= j {
				p--
			}
		}
		return uint64(p)
	}
}

// buildRR is rr's row of kinds: its position carries over tables.
func buildRR(_ *Service, t, _ *table, c change) {
	t.idx = newTree(leafEW, t.dests)
	t.algo = rrAlgo{}
	t.translate = rrTranslate(c)
}
