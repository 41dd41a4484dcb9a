package sched

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// ecmpServers is a pool of 8 real servers with mixed weights.
var ecmpServers = []rs{{"A", 3, 0, 0}, {"B", 1, 0, 0}, {"C", 2, 0, 0}, {"D", 1, 0, 0},
	{"E", 5, 0, 0}, {"F", 1, 0, 0}, {"G", 2, 0, 0}, {"H", 1, 0, 0}}

// tableOf renders an mh service's 4093 slots as owners' names.
func tableOf(s *Service) string {
	a := s.cur.Load().algo.(*mhAlgo)
	b := make([]byte, len(a.lookup))
	for i, d := range a.lookup {
		b[i] = name(d)[0]
	}
	return string(b)
}

// history builds an mh-ecmp service through a random history that ends
// with exactly ecmpServers configured: servers are added in random order,
// strangers (I..L) are added and removed on the way, servers are failed
// (weight 0) and recovered, and the ones named in failed end up failed.
func history(t *testing.T, rng *rand.Rand, flags uint32, failed map[string]bool) *Service {
	t.Helper()
	s, err := New(Config{Scheduler: "mh", Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	add := func(r rs) {
		if _, err := s.AddDest(DestConfig{Addr: rsAddr(r.name), Port: 80, Weight: r.weight}); err != nil {
			t.Fatal(err)
		}
	}
	setW := func(r rs, w int32) {
		if _, err := s.UpdateDest(DestConfig{Addr: rsAddr(r.name), Port: 80, Weight: w}); err != nil {
			t.Fatal(err)
		}
	}
	strangers := []rs{{"I", 4, 0, 0}, {"J", 1, 0, 0}, {"K", 2, 0, 0}, {"L", 1, 0, 0}}
	pending := append([]rs(nil), ecmpServers...)
	rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
	var in, extra []rs
	for len(pending) > 0 || len(extra) > 0 {
		switch rng.IntN(4) {
		case 0, 1:
			if len(pending) > 0 {
				add(pending[0])
				in = append(in, pending[0])
				pending = pending[1:]
			}
		case 2:
			if len(strangers) > 0 && rng.IntN(2) == 0 {
				add(strangers[0])
				extra = append(extra, strangers[0])
				strangers = strangers[1:]
			} else if len(extra) > 0 {
				if err := s.RemoveDest(rsAddr(extra[0].name), 80); err != nil {
					t.Fatal(err)
				}
				extra = extra[1:]
			}
		case 3:
			if len(in) > 0 {
				r := in[rng.IntN(len(in))]
				setW(r, 0)
				setW(r, r.weight)
			}
		}
	}
	for _, r := range ecmpServers {
		if failed[r.name] {
			setW(r, 0)
		}
	}
	return s
}

// TestECMPHistoryIndependent: directors that learnt the same real servers
// through different histories — orders of adds, strangers added and
// removed, failures and recoveries — hold the same mh-ecmp table, and pick
// the same real server for every flow. The kernel's mh (list order) does
// not: that is the negative control.
func TestECMPHistoryIndependent(t *testing.T) {
	t.Parallel()
	var tables []string
	var svcs []*Service
	plainDiffer := false
	var plain string
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 17))
		s := history(t, rng, FlagECMP, nil)
		tables = append(tables, tableOf(s))
		svcs = append(svcs, s)
		p := tableOf(history(t, rand.New(rand.NewPCG(seed, 17)), FlagSched1, nil))
		if plain != "" && p != plain {
			plainDiffer = true
		}
		plain = p
	}
	for i := 1; i < len(tables); i++ {
		if tables[i] != tables[0] {
			t.Fatalf("history %d fills another mh-ecmp table than history 0", i)
		}
	}
	if !plainDiffer {
		t.Errorf("negative control: the kernel's list-order mh gave one table for 12 histories")
	}
	for i := range 3000 {
		f := clientFlow(i + 1)
		f.SrcPort = uint16(1024 + i)
		want := svcs[0].Pick(f)
		for j, s := range svcs[1:] {
			if got := s.Pick(f); got.Addr != want.Addr {
				t.Fatalf("flow %d: director %d picks %s, director 0 %s", i, j+1, got, want)
			}
		}
	}
}

// TestECMPIsKernelMHInAddressOrder: the mh-ecmp table is exactly the
// kernel's mh table (checked against a Linux kernel's IPVS in the VM tests)
// of the same servers added in descending address order, so that the
// kernel's newest-first list is in ascending address order.
func TestECMPIsKernelMHInAddressOrder(t *testing.T) {
	t.Parallel()
	desc := make([]rs, len(ecmpServers))
	for i, r := range ecmpServers {
		desc[len(desc)-1-i] = r
	}
	kernel := tableOf(newSvc(t, "mh", FlagSched1, desc...))
	rng := rand.New(rand.NewPCG(5, 5))
	shuffled := append([]rs(nil), ecmpServers...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := tableOf(newSvc(t, "mh", FlagECMP, shuffled...)); got != kernel {
		t.Errorf("mh-ecmp table differs from the kernel's mh in address order")
	}
}

// TestECMPFailedServerKeepsSlots: a director that sees server E failed
// (weight 0) picks differently from one that sees it healthy only for the
// flows whose slot E owns; each of those goes to an available server, the
// same one on every director that sees E failed.
func TestECMPFailedServerKeepsSlots(t *testing.T) {
	t.Parallel()
	healthy := history(t, rand.New(rand.NewPCG(1, 2)), FlagECMP, nil)
	failed := history(t, rand.New(rand.NewPCG(3, 4)), FlagECMP, map[string]bool{"E": true})
	failed2 := history(t, rand.New(rand.NewPCG(7, 8)), FlagECMP, map[string]bool{"E": true})
	if tableOf(healthy) != tableOf(failed) {
		t.Fatal("failing E (weight 0) rebuilt the table")
	}
	moved, onE := 0, 0
	for i := range 5000 {
		f := clientFlow(i + 1)
		f.Src = netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)})
		h, fl := healthy.Pick(f), failed.Pick(f)
		info, ok := failed.Slot(f)
		if !ok {
			t.Fatal("Slot: not an mh table")
		}
		if info.Chosen != fl {
			t.Fatalf("flow %d: Slot says %s, Pick %s", i, info.Chosen, fl)
		}
		if name(info.Owner) == "E" {
			onE++
		}
		if fl == nil || name(fl) == "E" {
			t.Fatalf("flow %d: picked %v with E failed", i, fl)
		}
		if fl2 := failed2.Pick(f); fl2.Addr != fl.Addr {
			t.Fatalf("flow %d: two directors seeing E failed disagree: %s vs %s", i, fl, fl2)
		}
		if h.Addr != fl.Addr {
			moved++
			if name(h) != "E" {
				t.Fatalf("flow %d moved from %s, which did not fail", i, h)
			}
		}
	}
	if moved != onE || moved == 0 {
		t.Errorf("%d flows moved, %d hash to E's slots: want equal and > 0", moved, onE)
	}
}

// TestECMPFlag: mh-ecmp is mh's alone and renders by name.
func TestECMPFlag(t *testing.T) {
	t.Parallel()
	bits, err := ParseFlags("mh", "mh-ecmp,mh-port")
	if err != nil || bits != FlagECMP|FlagSched2 {
		t.Fatalf("ParseFlags(mh, mh-ecmp,mh-port) = %#x, %v", bits, err)
	}
	if got := FlagString("mh", bits); got != "mh-port,mh-ecmp" {
		t.Errorf("FlagString = %q", got)
	}
	if _, err := New(Config{Scheduler: "sh", Flags: FlagECMP}); !errors.Is(err, ErrFlag) {
		t.Errorf("sh with mh-ecmp: %v, want ErrFlag", err)
	}
	if _, ok := newSvc(t, "wlc", 0, rs{"A", 1, 0, 0}).Slot(clientFlow(1)); ok {
		t.Error("Slot on wlc reported an mh table")
	}
}
