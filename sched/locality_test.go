package sched

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// toDst runs n connections to destination address dst from one client,
// each bound and activated, at clock now.
func toDst(s *Service, dst string, n int, now time.Duration) string {
	out := ""
	for range n {
		f := &Flow{Src: clientFlow(1).Src, Dst: netip.MustParseAddr(dst), Proto: ProtoTCP, Now: now}
		d := s.Pick(f)
		if d != nil {
			d.Bind(ConnInactive)
			d.Activate()
		}
		out += name(d)
	}
	return out
}

// TestLBLC: list B A, weights 1. X misses and wlc gives B; X keeps B until
// B has more active connections than its weight while A has fewer than
// half of its own, then wlc gives A and the entry is replaced.
func TestLBLC(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "lblc", 0, rs{"A", 1, 0, 0}, rs{"B", 1, 0, 0})
	if diff := cmp.Diff("BBAAAA", toDst(s, "198.18.0.100", 6, 0)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// Another address: wlc over B (2 active) and A (4 active) gives B.
	if diff := cmp.Diff("B", toDst(s, "198.18.0.101", 1, 0)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// Removing A invalidates its entry (not AVAILABLE): back to wlc.
	if err := s.RemoveDest(rsAddr("A"), 80); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("B", toDst(s, "198.18.0.100", 1, 0)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// The replaced entries were counted again (the kernel's entries quirk).
	if got := s.cache.entries.Load(); got != 4 {
		t.Errorf("entries = %d, want 4", got)
	}
}

// TestLBLCR: X's set grows to {A, B} when B overloads, then the least
// loaded member serves.
func TestLBLCR(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Scheduler: "lblcr", CacheExpiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "B"} {
		if _, err := s.AddDest(DestConfig{Addr: rsAddr(n), Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff("BBAAA", toDst(s, "198.18.0.100", 5, 0)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	en := s.cache.find(netip.MustParseAddr("198.18.0.100"))
	var set string
	for _, d := range en.set.Load().members {
		set += name(d)
	}
	if set != "AB" {
		t.Errorf("set = %s, want AB", set)
	}
	// After the expiration with no change, the most loaded member (A, 3
	// active, vs B, 2) leaves; the least loaded (B) serves.
	if diff := cmp.Diff("B", toDst(s, "198.18.0.100", 1, time.Hour+time.Second)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	if got := len(en.set.Load().members); got != 1 {
		t.Errorf("set size = %d, want 1", got)
	}
}

// TestLocalityExpire follows ip_vs_lblc_check_expire: every 30th run is a
// full check that drops entries unused for the expiration.
func TestLocalityExpire(t *testing.T) {
	t.Parallel()
	for _, sched := range []string{"lblc", "lblcr"} {
		s, err := New(Config{Scheduler: sched, CacheExpiration: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddDest(DestConfig{Addr: rsAddr("A"), Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
		toDst(s, "198.18.0.1", 1, 0)
		toDst(s, "198.18.0.2", 1, 25*time.Minute)
		for i := 1; i <= 29; i++ {
			s.Expire(time.Duration(i) * ExpireInterval)
			if got := s.cache.entries.Load(); got != 2 {
				t.Fatalf("%s: run %d: entries = %d, want 2", sched, i, got)
			}
		}
		s.Expire(30 * ExpireInterval) // full check at 30 min: .1 (unused since 0) goes
		if got := s.cache.entries.Load(); got != 1 {
			t.Fatalf("%s: after full check: entries = %d, want 1", sched, got)
		}
		if s.cache.find(netip.MustParseAddr("198.18.0.1")) != nil || s.cache.find(netip.MustParseAddr("198.18.0.2")) == nil {
			t.Fatalf("%s: wrong entry expired", sched)
		}
	}
}
