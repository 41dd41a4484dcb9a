package sched

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestPickAllocs proves that Pick allocates nothing, for every scheduler;
// for lblc and lblcr this is a cache hit (see TestLocalityAllocs for the
// rest).
func TestPickAllocs(t *testing.T) {
	for _, n := range Names {
		t.Run(n, func(t *testing.T) {
			s := newSvc(t, n, kindFlags(n), rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0}, rs{"D", 0, 0, 0})
			f := clientFlow(1)
			// Warm lblc/lblcr caches for this destination address.
			s.Pick(f)
			allocs := testing.AllocsPerRun(1000, func() {
				f.Now += time.Millisecond
				if d := s.Pick(f); d == nil && n != "dh" {
					t.Fatal("no dest")
				}
			})
			if allocs != 0 {
				t.Errorf("%s: %v allocs per Pick, want 0", n, allocs)
			}
		})
	}
}

// TestLocalityAllocs proves that lblc and lblcr allocate nothing on any
// path: misses that add entries, misses that evict the least recently used
// entry from a full cache, lblc's replaced servers, lblcr's sets growing
// and losing members; nor does the collector. The workload goes to 100
// destination addresses (IPv4 and IPv6) with a 64-entry cache (72 lblcr
// member nodes, so that growing sets evict entries too), changing
// connection counts so that servers overload, and a 30 s lblcr expiration.
func TestLocalityAllocs(t *testing.T) {
	for _, n := range []string{"lblc", "lblcr"} {
		t.Run(n, func(t *testing.T) {
			s, err := newService(Config{Scheduler: n, CacheExpiration: 30 * time.Second}, 64, 72)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range []int32{1, 2, 3, 1, 2, 3} {
				if _, err := s.AddDest(DestConfig{Addr: rsAddr(string(rune('A' + i))), Port: 80, Weight: w}); err != nil {
					t.Fatal(err)
				}
			}
			c := s.cache
			rng := rand.New(rand.NewPCG(1, 2))
			var conns [8]*Dest
			f := clientFlow(1)
			step := func() {
				f.Now += time.Second
				f.Dst = diffDst(rng.IntN(100))
				d := s.Pick(f)
				j := rng.IntN(len(conns))
				if conns[j] != nil {
					conns[j].Deactivate()
					conns[j].Unbind(ConnInactive)
				}
				conns[j] = d
				if d != nil {
					d.Bind(ConnInactive)
					d.Activate()
				}
				if f.Now%ExpireInterval == 0 {
					s.Expire(f.Now)
				}
			}
			// Incarnations count how often entries and member nodes
			// were dropped and reused.
			incs := func() (ents, nodes int) {
				for i := range c.ent {
					ents += int(c.ent[i].ver.Load() >> 32)
				}
				for i := range c.nodes {
					nodes += int(c.nodes[i].inc.Load())
				}
				return ents, nodes
			}
			ents, nodes := incs()
			if allocs := testing.AllocsPerRun(20000, step); allocs != 0 {
				t.Errorf("%v allocs per Pick, want 0", allocs)
			}
			ents2, nodes2 := incs()
			if ents2-ents < 5000 {
				t.Errorf("%d entries dropped, want a churning cache", ents2-ents)
			}
			if n == "lblcr" && nodes2-nodes < 5000 {
				t.Errorf("%d member nodes freed, want churning sets", nodes2-nodes)
			}
		})
	}
}

// TestCountersAllocs proves the connection table's calls allocate nothing.
func TestCountersAllocs(t *testing.T) {
	for _, n := range []string{"wlc", "rr", "twos", "lblc"} {
		s := newSvc(t, n, 0, rs{"A", 3, 10, 5}, rs{"B", 2, 0, 0})
		d := dest(t, s, "A")
		allocs := testing.AllocsPerRun(1000, func() {
			d.Bind(ConnInactive)
			d.Activate()
			d.Deactivate()
			d.Unbind(ConnInactive)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Bind/Activate/Deactivate/Unbind, want 0", n, allocs)
		}
	}
}

// TestConcurrent runs Picks, counter changes and control changes at once
// (for the race detector), then checks that the indexes agree with a fresh
// build once everything stopped.
func TestConcurrent(t *testing.T) {
	for _, n := range Names {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			s := newSvc(t, n, 0, rs{"A", 3, 50, 20}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0}, rs{"D", 4, 30, 0})
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						f := clientFlow(i%500 + 1 + w)
						f.Now = time.Duration(i) * time.Millisecond
						if d := s.Pick(f); d != nil {
							d.Bind(ConnInactive)
							d.Activate()
							if i%3 == 0 {
								d.Deactivate()
								d.Unbind(ConnInactive)
							}
						}
					}
				}()
			}
			for i := range 200 {
				w := int32(i % 5)
				if _, err := s.UpdateDest(DestConfig{Addr: rsAddr("B"), Port: 80, Weight: w}); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					if err := s.RemoveDest(rsAddr("C"), 80); err != nil {
						t.Error(err)
					}
					if _, err := s.AddDest(DestConfig{Addr: rsAddr("C"), Port: 80, Weight: 1}); err != nil {
						t.Error(err)
					}
				}
			}
			close(stop)
			wg.Wait()
			checkIndex(t, s)
		})
	}
}

// checkIndex compares the current table's index with one built afresh.
func checkIndex(t *testing.T, s *Service) {
	t.Helper()
	tb := s.cur.Load()
	switch idx := tb.idx.(type) {
	case *tree:
		fresh := newTree(idx.kind, tb.dests)
		for i := range tb.dests {
			if got, want := idx.leaf[i].Load(), fresh.leaf[i].Load(); got != want {
				t.Errorf("leaf %d = %#x, want %#x", i, got, want)
			}
		}
		for p := 1; p < idx.size; p++ {
			if got, want := idx.idx(p), fresh.idx(p); got != want {
				t.Errorf("node %d = %d, want %d", p, got, want)
			}
		}
		if got, want := idx.half.Load(), fresh.half.Load(); got != want {
			t.Errorf("half = %d, want %d", got, want)
		}
	case *twosIndex:
		fresh := newTwosIndex(tb.dests)
		for i := range fresh.sum {
			if got, want := idx.sum[i].Load(), fresh.sum[i].Load(); got != want {
				t.Errorf("sum %d = %d, want %d", i, got, want)
			}
		}
		if got, want := idx.total.Load(), fresh.total.Load(); got != want {
			t.Errorf("total = %d, want %d", got, want)
		}
	}
}
