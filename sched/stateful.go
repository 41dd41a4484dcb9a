package sched

// rr and wrr keep a position (and wrr a current weight) that every Pick
// moves, as the kernel does under svc->sched_lock. Here the state is one
// word in the table, moved by compare-and-swap, so concurrent Picks behave
// as if run one after another in some order.
//
// When the control side publishes a new table, the old table's word is
// frozen (no Pick can move it any more) and its final value, passed through
// the scheduler's add/del/upd hook (translate), becomes the new table's
// word. A Pick that meets a frozen word moves to the current table; one
// that meets a pending word completes the hand-over itself.
const (
	stFrozen  = uint64(1) << 63
	stPending = uint64(1) << 62
	stInit    = uint64(1) << 61
)

// freeze marks t's state frozen and returns its last value.
func freeze(t *table) uint64 {
	for {
		v := t.state.Load()
		if v&stFrozen != 0 {
			return v &^ stFrozen
		}
		if t.state.CompareAndSwap(v, v|stFrozen) {
			return v
		}
	}
}

// resolve completes the hand-over of state into t, if still pending.
func resolve(t *table) {
	p := t.prev.Load()
	if p == nil {
		return
	}
	t.state.CompareAndSwap(stPending, t.translate(freeze(p)))
	t.prev.Store(nil)
}

// stepFunc computes one decision from state st: the chosen list index (or
// -1) and the next state.
type stepFunc func(t *table, st uint64) (int, uint64)

// pickStateful runs step against the current state of t, retrying when a
// concurrent Pick moved the state first or a new table was published.
func (s *Service) pickStateful(t *table, step stepFunc) *Dest {
	for {
		st := t.state.Load()
		if st&stFrozen != 0 {
			t = s.cur.Load()
			continue
		}
		if st == stPending {
			resolve(t)
			continue
		}
		i, next := step(t, st)
		if next == st || t.state.CompareAndSwap(st, next) {
			if i < 0 {
				return nil
			}
			return t.dests[i]
		}
	}
}
