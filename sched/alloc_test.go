package sched

import (
	"sync"
	"testing"
	"time"
)

// TestPickAllocs proves that Pick allocates nothing, for every scheduler
// (lblc and lblcr on cache hits: a miss allocates its entry, as the kernel's
// kmalloc does).
func TestPickAllocs(t *testing.T) {
	for _, n := range Names {
		t.Run(n, func(t *testing.T) {
			var flags uint32
			if n == "sh" || n == "mh" {
				flags = FlagSched1 | FlagSched2
			}
			s := newSvc(t, n, flags, rs{"A", 3, 0, 0}, rs{"B", 2, 0, 0}, rs{"C", 1, 0, 0}, rs{"D", 0, 0, 0})
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
