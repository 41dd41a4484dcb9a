package sched

import (
	"errors"
	"slices"
	"testing"
)

// kindFlags are the scheduler flags the named scheduler honours.
func kindFlags(name string) uint32 {
	k, err := lookupKind(name)
	if err != nil {
		panic(err)
	}
	var bits uint32
	for b := range k.flags {
		bits |= b
	}
	return bits
}

// TestKinds walks the table of schedulers: every row is complete, its
// name unique and in Names, its flags within SCHED1..3 and named so that
// ipvsadm's -b parses them back; a row missing any of it fails here (and
// TestPickAllocs, TestConcurrent and TestNeverQuiescentOrOverloaded run
// every row).
func TestKinds(t *testing.T) {
	t.Parallel()
	if len(Names) != len(kinds) {
		t.Fatalf("Names has %d schedulers, kinds %d", len(Names), len(kinds))
	}
	if !slices.Contains(Names, Default) {
		t.Errorf("the default scheduler %q is not a scheduler", Default)
	}
	seen := map[string]bool{}
	for i, k := range kinds {
		if k.name == "" || k.build == nil || seen[k.name] || Names[i] != k.name {
			t.Errorf("row %d (%q): a name, a unique one in Names' order, and a build are required", i, k.name)
		}
		seen[k.name] = true
		for bit, name := range k.flags {
			if bit&^(FlagsSched|FlagECMP) != 0 || bit == 0 || name == "" {
				t.Errorf("%s: flag %#x %q is not one of SCHED1..3 (or ulvs's mh-ecmp) with a name", k.name, bit, name)
			}
			if got, err := ParseFlags(k.name, name); err != nil || got != bit {
				t.Errorf("%s: ParseFlags(%q) = %#x, %v; want %#x", k.name, name, got, err, bit)
			}
			if got := FlagString(k.name, bit); got != name {
				t.Errorf("%s: FlagString(%#x) = %q, want %q", k.name, bit, got, name)
			}
		}
		for _, r := range rawFlags {
			_, err := New(Config{Scheduler: k.name, Flags: r.bit})
			if honoured := k.flags[r.bit] != ""; honoured != (err == nil) || err != nil && !errors.Is(err, ErrFlag) {
				t.Errorf("%s with %s: %v (honoured: %t)", k.name, r.name, err, honoured)
			}
		}
		s := newSvc(t, k.name, kindFlags(k.name), rs{"A", 1, 0, 0}, rs{"B", 2, 0, 0})
		if d := s.Pick(clientFlow(1)); d == nil {
			t.Errorf("%s: no dest picked from two available", k.name)
		}
	}
}
