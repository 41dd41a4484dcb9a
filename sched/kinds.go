package sched

import (
	"fmt"
	"strings"
)

// kind is one scheduler: its ipvsadm name, the scheduler flags it honours
// (with ipvsadm's names for them), whether it keeps a locality cache, and
// how it fills a new table's decision data. A scheduler is one file with
// its algo and build function, and one row of kinds.
type kind struct {
	name string
	// flags names the SCHED1..3 bits the scheduler honours (ipvsadm -b).
	flags map[uint32]string
	// cache is the locality cache the service keeps across tables.
	cache cacheKind
	// build fills t's index and algo (and, for rr and wrr, the state
	// hand-over), running the hook the kernel runs for c; prev is the
	// table t replaces (nil at first).
	build func(s *Service, t, prev *table, c change)
}

type cacheKind uint8

const (
	cacheNone  cacheKind = iota
	cacheLBLC            // one real server per destination address
	cacheLBLCR           // a set of real servers per destination address
)

// kinds are the schedulers, in ipvsadm's order of documentation (Names).
var kinds = []kind{
	{name: "rr", build: buildRR},
	{name: "wrr", build: buildWRR},
	{name: "lc", build: best(leafLC)},
	{name: "wlc", build: best(leafWLC)},
	{name: "lblc", cache: cacheLBLC, build: indexed(leafWLC, lblcAlgo{})},
	{name: "lblcr", cache: cacheLBLCR, build: indexed(leafWLC, lblcrAlgo{})},
	{name: "dh", build: buildDH},
	{name: "sh", flags: map[uint32]string{FlagSched1: "sh-fallback", FlagSched2: "sh-port"}, build: buildSH},
	{name: "sed", build: best(leafSED)},
	{name: "nq", build: best(leafNQ)},
	{name: "fo", build: best(leafEW)},
	{name: "ovf", build: best(leafOVF)},
	{name: "mh", flags: map[uint32]string{FlagSched1: "mh-fallback", FlagSched2: "mh-port", FlagECMP: "mh-ecmp"}, build: buildMH},
	{name: "twos", build: buildTwos},
}

// Names lists the schedulers in ipvsadm's order of documentation.
var Names = func() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}()

func lookupKind(name string) (*kind, error) {
	for i := range kinds {
		if kinds[i].name == name {
			return &kinds[i], nil
		}
	}
	return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknownScheduler, name, strings.Join(Names, ", "))
}

// indexed is the build of a scheduler deciding over a tournament tree of
// leaf values.
func indexed(leaf leafKind, a algo) func(*Service, *table, *table, change) {
	return func(_ *Service, t, _ *table, _ change) {
		t.idx = newTree(leaf, t.dests)
		t.algo = a
	}
}

// best is the build of lc, wlc, sed, nq, fo and ovf: the tree's leftmost
// best dest.
func best(leaf leafKind) func(*Service, *table, *table, change) { return indexed(leaf, bestAlgo{}) }

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
