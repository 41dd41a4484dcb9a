package sched

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var benchSizes = []int{2, 10, 100, 1000, 10000}

// benchService builds a service of n servers with weights 1..10 and some
// connections bound, so that the least-connection trees are not trivial.
func benchService(b *testing.B, sched string, n int) *Service {
	b.Helper()
	var flags uint32
	if sched == "sh" || sched == "mh" {
		flags = FlagSched1
	}
	s, err := New(Config{Scheduler: sched, Flags: flags})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		d, err := s.AddDest(DestConfig{Addr: addr, Port: 80, Weight: int32(rng.IntN(10) + 1)})
		if err != nil {
			b.Fatal(err)
		}
		for range rng.IntN(4) {
			d.Bind(ConnInactive)
			d.Activate()
		}
	}
	return s
}

// benchFlows returns 1024 flows from distinct clients to 256 addresses.
func benchFlows() []Flow {
	fs := make([]Flow, 1024)
	for i := range fs {
		fs[i] = *clientFlow(i + 1)
		fs[i].Dst = netip.AddrFrom4([4]byte{198, 18, 0, byte(i)})
	}
	return fs
}

// BenchmarkPick measures one scheduling decision at each pool size.
func BenchmarkPick(b *testing.B) {
	for _, sched := range Names {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", sched, n), func(b *testing.B) {
				s := benchService(b, sched, n)
				fs := benchFlows()
				for i := range fs {
					s.Pick(&fs[i]) // fill lblc/lblcr caches
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					s.Pick(&fs[i&1023])
					i++
				}
			})
		}
	}
}

// BenchmarkNewConn measures a whole connection's life as the data path
// drives it: Pick, Bind, Activate, Deactivate, Unbind (each counter change
// refreshes the least-connection tree: O(log n)).
func BenchmarkNewConn(b *testing.B) {
	for _, sched := range []string{"rr", "wrr", "wlc", "lblc", "sh", "mh"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", sched, n), func(b *testing.B) {
				s := benchService(b, sched, n)
				fs := benchFlows()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if d := s.Pick(&fs[i&1023]); d != nil {
						d.Bind(ConnInactive)
						d.Activate()
						d.Deactivate()
						d.Unbind(ConnInactive)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkPickMiss measures lblc and lblcr Picks that each go to a
// destination address not seen before, with 1,000 servers: the first
// 65,536 fill the cache, the rest each evict the least recently used
// entry. The collector runs every 60 simulated seconds (one Pick per
// simulated millisecond), as the owner of the service would run it.
func BenchmarkPickMiss(b *testing.B) {
	for _, sched := range []string{"lblc", "lblcr"} {
		b.Run(sched+"/1000", func(b *testing.B) {
			s := benchService(b, sched, 1000)
			f := clientFlow(1)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f.Dst = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				f.Now += time.Millisecond
				s.Pick(f)
				if f.Now%ExpireInterval == 0 {
					s.Expire(f.Now)
				}
				i++
			}
		})
	}
}

// BenchmarkTwosOverloaded measures twos at 1,000 servers when one of them
// is overloaded (its upper connection threshold reached): the guide table
// no longer applies and the Fenwick tree answers.
func BenchmarkTwosOverloaded(b *testing.B) {
	s := benchService(b, "twos", 1000)
	d := s.Dests()[500]
	if _, err := s.UpdateDest(DestConfig{Addr: d.Addr, Port: d.Port, Weight: d.Weight(), UThreshold: 1}); err != nil {
		b.Fatal(err)
	}
	d.Bind(ConnInactive)
	if !d.Overloaded() {
		b.Fatal("not overloaded")
	}
	fs := benchFlows()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Pick(&fs[i&1023])
		i++
	}
}
