package sched

import (
	"fmt"
	"strings"
)

type schedKind uint8

const (
	kindRR schedKind = iota
	kindWRR
	kindLC
	kindWLC
	kindLBLC
	kindLBLCR
	kindDH
	kindSH
	kindSED
	kindNQ
	kindFO
	kindOVF
	kindMH
	kindTWOS
)

func lookupKind(name string) (schedKind, error) {
	for i, n := range Names {
		if n == name {
			return schedKind(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want one of %s)", ErrUnknownScheduler, name, strings.Join(Names, ", "))
}

// buildLocked fills t's scheduler data: the algorithm, its index and, for
// rr and wrr, the state hand-over, running the hook the kernel runs for c.
func (s *Service) buildLocked(t *table, prev *table, c change) {
	switch s.kind {
	case kindRR:
		t.idx = newTree(leafEW, t.dests)
		t.algo = rrAlgo{}
		t.translate = rrTranslate(c)
	case kindWRR:
		t.idx = newTree(leafEW, t.dests)
		a := newWRR(t.dests)
		t.algo = a
		t.translate = a.translate
	case kindFO:
		t.idx = newTree(leafEW, t.dests)
		t.algo = bestAlgo{}
	case kindOVF:
		t.idx = newTree(leafOVF, t.dests)
		t.algo = bestAlgo{}
	case kindLC:
		t.idx = newTree(leafLC, t.dests)
		t.algo = bestAlgo{}
	case kindWLC:
		t.idx = newTree(leafWLC, t.dests)
		t.algo = bestAlgo{}
	case kindSED:
		t.idx = newTree(leafSED, t.dests)
		t.algo = bestAlgo{}
	case kindNQ:
		t.idx = newTree(leafNQ, t.dests)
		t.algo = bestAlgo{}
	case kindTWOS:
		t.idx = newTwosIndex(t.dests)
		t.algo = twosAlgo{}
	case kindSH:
		t.algo = newSH(t.dests, s.cfg.Flags)
	case kindDH:
		t.algo = newDH(t.dests)
	case kindMH:
		var old *mhAlgo
		if prev != nil && c.op != opInit {
			old, _ = prev.algo.(*mhAlgo)
		}
		t.algo = newMH(t.dests, s.cfg.Flags, old)
	case kindLBLC:
		t.idx = newTree(leafWLC, t.dests)
		t.algo = lblcAlgo{}
	case kindLBLCR:
		t.idx = newTree(leafWLC, t.dests)
		t.algo = lblcrAlgo{}
	}
}

// bestAlgo returns the leftmost best dest of the table's tree: lc, wlc,
// sed, nq, fo and ovf, whose kernel loops keep the first dest and replace it
// only with a strictly better one.
type bestAlgo struct{}

func (bestAlgo) pick(_ *Service, t *table, _ *Flow) *Dest {
	if i := t.idx.(*tree).best(); i >= 0 {
		return t.dests[i]
	}
	return nil
}
