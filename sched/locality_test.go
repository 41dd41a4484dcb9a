package sched

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// cached returns the server (lblc) or the members, newest first (lblcr),
// that the cache holds for addr, or nil.
func cached(c *locCache, addr string) []*Dest {
	i, _ := c.lookup(keyOf(netip.MustParseAddr(addr)))
	if i < 0 {
		return nil
	}
	e := &c.ent[i]
	if !c.lblcr {
		return []*Dest{e.dest.Load()}
	}
	var ms []*Dest
	for w := e.set.Load(); w != 0; w = c.nodes[linkIdx(w)].next.Load() {
		ms = append(ms, c.nodes[linkIdx(w)].dest.Load())
	}
	return ms
}

func names(ds []*Dest) string {
	out := ""
	for _, d := range ds {
		out += name(d)
	}
	return out
}

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
	if set := names(cached(s.cache, "198.18.0.100")); set != "AB" {
		t.Errorf("set = %s, want AB", set)
	}
	// After the expiration with no change, the most loaded member (A, 3
	// active, vs B, 2) leaves; the least loaded (B) serves.
	if diff := cmp.Diff("B", toDst(s, "198.18.0.100", 1, time.Hour+time.Second)); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	if set := names(cached(s.cache, "198.18.0.100")); set != "B" {
		t.Errorf("set = %s, want B", set)
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
		if cached(s.cache, "198.18.0.1") != nil || cached(s.cache, "198.18.0.2") == nil {
			t.Fatalf("%s: wrong entry expired", sched)
		}
	}
}

// liveEntries counts the live cache entries per address, and the dead.
func liveEntries(c *locCache) (map[locKey]int, int) {
	live, dead := map[locKey]int{}, 0
	for i := range c.ent {
		switch c.ent[i].ver.Load() & entState {
		case entLive:
			live[c.ent[i].key()]++
		case entDead:
			dead++
		}
	}
	return live, dead
}

// TestLocalitySettle adds the same address twice, as two Picks that miss
// at once do: the first entry stays and takes the second one's choice, as
// under the kernel's lock the second ip_vs_lblc(r)_new updates the first's
// entry; the second is dead, uncounted, and the collector frees it.
func TestLocalitySettle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sched   string
		adds    string // servers the successive adds choose
		want    string // the entry's server(s) at the end
		entries int32
	}{
		{"lblc", "AB", "B", 2}, // the second replaces: a new kernel entry
		{"lblc", "AA", "A", 1}, // the same server: nothing new
		{"lblc", "ABB", "B", 2},
		{"lblcr", "AB", "BA", 1}, // the second joins the set
		{"lblcr", "ABA", "BA", 1},
	} {
		t.Run(tc.sched+"/"+tc.adds, func(t *testing.T) {
			t.Parallel()
			s := newSvc(t, tc.sched, 0, rs{"A", 1, 0, 0}, rs{"B", 1, 0, 0})
			const addr = "198.18.0.100"
			k := keyOf(netip.MustParseAddr(addr))
			for i, n := range tc.adds {
				s.cache.add(k, dest(t, s, string(n)), time.Duration(i+1)*time.Second)
			}
			if got := names(cached(s.cache, addr)); got != tc.want {
				t.Errorf("cached %s, want %s", got, tc.want)
			}
			live, dead := liveEntries(s.cache)
			if live[k] != 1 || dead != len(tc.adds)-1 {
				t.Errorf("%d live entries and %d dead, want 1 and %d", live[k], dead, len(tc.adds)-1)
			}
			if got := s.cache.entries.Load(); got != tc.entries {
				t.Errorf("entries = %d, want %d", got, tc.entries)
			}
			s.Expire(ExpireInterval)
			if _, dead := liveEntries(s.cache); dead != 0 {
				t.Errorf("after Expire: %d dead entries, want 0", dead)
			}
			if got := names(cached(s.cache, addr)); got != tc.want {
				t.Errorf("after Expire: cached %s, want %s", got, tc.want)
			}
		})
	}
}

// TestLocalityConcurrentMiss runs workers that Pick the same new address
// at the same time (they meet at a barrier before each), so that misses
// race to add entries: each address ends with one live entry, counted
// once.
func TestLocalityConcurrentMiss(t *testing.T) {
	t.Parallel()
	for _, sched := range []string{"lblc", "lblcr"} {
		t.Run(sched, func(t *testing.T) {
			t.Parallel()
			s := newSvc(t, sched, 0, rs{"A", 1, 0, 0}, rs{"B", 2, 0, 0})
			const workers, addrs = 4, 3000
			var wg sync.WaitGroup
			var arrived atomic.Int64
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f := clientFlow(1)
					for i := range addrs {
						arrived.Add(1)
						for arrived.Load() < int64((i+1)*workers) {
							runtime.Gosched()
						}
						f.Dst = diffDst(i)
						if s.Pick(f) == nil {
							t.Error("no dest")
							return
						}
					}
				}()
			}
			wg.Wait()
			live, _ := liveEntries(s.cache)
			if len(live) != addrs {
				t.Errorf("%d addresses cached, want %d", len(live), addrs)
			}
			for k, n := range live {
				if n != 1 {
					t.Errorf("%v: %d live entries", k, n)
				}
			}
			// No connections: every Pick chooses B, so no lblc entry is
			// ever replaced and the count is the number of entries.
			if got := s.cache.entries.Load(); got != addrs {
				t.Errorf("entries = %d, want %d", got, addrs)
			}
		})
	}
}

// checkCache verifies a quiescent cache: every entry is either on the free
// list or in exactly one lookup chain (live or dead) where lookup finds the
// live ones, one live entry per address; every member node is either free
// or in exactly one live or dead entry's set.
func checkCache(t *testing.T, c *locCache) {
	t.Helper()
	where := make([]string, len(c.ent))
	for w := c.freeEnt.Load(); linkIdx(w) >= 0; w = c.ent[linkIdx(w)].next.Load() {
		i := linkIdx(w)
		if where[i] != "" {
			t.Fatalf("entry %d on the free list twice", i)
		}
		where[i] = "free"
		if st := c.ent[i].ver.Load() & entState; st != entFree {
			t.Errorf("entry %d on the free list in state %d", i, st)
		}
	}
	nodeOwner := make([]int, len(c.nodes))
	for w := c.freeNode.Load(); linkIdx(w) >= 0; w = c.nodes[linkIdx(w)].next.Load() {
		if nodeOwner[linkIdx(w)] != 0 {
			t.Fatalf("node %d on the free list twice", linkIdx(w))
		}
		nodeOwner[linkIdx(w)] = -1
	}
	live := map[locKey]int{}
	for b := range c.bucket {
		for w := c.bucket[b].Load(); w != 0; w = c.ent[linkIdx(w)].next.Load() {
			i, e := linkIdx(w), &c.ent[linkIdx(w)]
			if where[i] != "" {
				t.Fatalf("entry %d in a chain and %s", i, where[i])
			}
			where[i] = "chain"
			v := e.ver.Load()
			if linkInc(w) != uint32(v>>32) {
				t.Errorf("entry %d linked with incarnation %d, has %d", i, linkInc(w), v>>32)
			}
			if st := v & entState; st != entLive && st != entDead {
				t.Errorf("entry %d in a chain in state %d", i, st)
			}
			if &c.bucket[b] != c.home(e.key()) {
				t.Errorf("entry %d in the wrong chain", i)
			}
			if v&entState == entLive {
				live[e.key()]++
				if j, _ := c.lookup(e.key()); j < 0 {
					t.Errorf("live entry %d not found", i)
				}
			}
			for n := e.set.Load(); n != 0; n = c.nodes[linkIdx(n)].next.Load() {
				if nodeOwner[linkIdx(n)] != 0 {
					t.Fatalf("node %d of entry %d also owned by %d", linkIdx(n), i, nodeOwner[linkIdx(n)])
				}
				nodeOwner[linkIdx(n)] = i + 1
				if linkInc(n) != c.nodes[linkIdx(n)].inc.Load() {
					t.Errorf("node %d linked with a stale incarnation", linkIdx(n))
				}
			}
		}
	}
	for i, w := range where {
		if w == "" {
			t.Errorf("entry %d lost (state %d)", i, c.ent[i].ver.Load()&entState)
		}
	}
	for n, o := range nodeOwner {
		if o == 0 {
			t.Errorf("node %d lost", n)
		}
	}
	for k, n := range live {
		if n != 1 {
			t.Errorf("%v: %d live entries", k, n)
		}
	}
}

// TestLocalityConcurrentEvict runs Picks over 1,000 addresses with a
// 64-entry cache (72 lblcr member nodes), so that they evict all the time,
// while connections come and go and the collector runs; at the end no
// entry or node is lost or shared and lookups find every live entry.
func TestLocalityConcurrentEvict(t *testing.T) {
	t.Parallel()
	for _, sched := range []string{"lblc", "lblcr"} {
		t.Run(sched, func(t *testing.T) {
			t.Parallel()
			s, err := newService(Config{Scheduler: sched, CacheExpiration: 20 * time.Millisecond}, 64, 72)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range []int32{1, 2, 3, 1} {
				if _, err := s.AddDest(DestConfig{Addr: rsAddr(string(rune('A' + i))), Port: 80, Weight: w}); err != nil {
					t.Fatal(err)
				}
			}
			var clock atomic.Int64
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					var held [4]*Dest
					for i := range 20000 {
						f := clientFlow(1)
						f.Dst = diffDst(rng.IntN(1000))
						f.Now = time.Duration(clock.Add(int64(time.Millisecond)))
						d := s.Pick(f)
						if d == nil {
							t.Error("no dest")
							return
						}
						j := i % len(held)
						if held[j] != nil {
							held[j].Deactivate()
							held[j].Unbind(ConnInactive)
						}
						d.Bind(ConnInactive)
						d.Activate()
						held[j] = d
					}
				}()
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range 200 {
					s.Expire(time.Duration(clock.Load()))
					runtime.Gosched()
				}
			}()
			wg.Wait()
			<-done
			checkCache(t, s.cache)
			end := time.Duration(clock.Load()) + 48*time.Hour
			for i := range countForFullExpiration + 1 {
				s.Expire(end + time.Duration(i)*ExpireInterval)
			}
			checkCache(t, s.cache)
			if live, dead := liveEntries(s.cache); len(live) != 0 || dead != 0 {
				t.Errorf("after a full collection: %d live, %d dead entries", len(live), dead)
			}
			// lblc's count keeps every replaced entry, as the kernel's does.
			if got := s.cache.entries.Load(); got != 0 && sched == "lblcr" {
				t.Errorf("after a full collection: entries = %d", got)
			}
		})
	}
}

// TestLocalityExpirePaced: an owner that calls Expire every 2 seconds
// still gets the kernel's one run per minute, so the full collection is
// the 30th run, 29 minutes after the first.
func TestLocalityExpirePaced(t *testing.T) {
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
		// Runs at 2 s, 62 s, ..., the 30th at 2 s + 29 min.
		last := 2*time.Second + 29*ExpireInterval
		for now := 2 * time.Second; now < last; now += 2 * time.Second {
			s.Expire(now)
		}
		if cached(s.cache, "198.18.0.1") == nil {
			t.Fatalf("%s: entry gone before the 30th run", sched)
		}
		s.Expire(last)
		if cached(s.cache, "198.18.0.1") != nil {
			t.Fatalf("%s: entry still there after the 30th run (a full collection)", sched)
		}
	}
}
