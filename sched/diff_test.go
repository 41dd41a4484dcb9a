package sched

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// TestDifferential runs random histories — adds, removes, reweights,
// threshold edits, connections bound, activated, deactivated and unbound,
// and Picks from many clients to many destination addresses — against
// Service and the kernel transliteration kref, and requires every Pick to
// choose the same real server.
func TestDifferential(t *testing.T) {
	for _, sched := range []string{"rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos", "lblc", "lblcr"} {
		for seed := uint64(1); seed <= 6; seed++ {
			t.Run(fmt.Sprintf("%s/%d", sched, seed), func(t *testing.T) {
				t.Parallel()
				differential(t, sched, seed, diffOpts{steps: 3000, addrs: 8})
			})
		}
	}
}

// TestDifferentialLocality runs lblc and lblcr with many destination
// addresses, so that the cache grows past the kernel's 16,384 entries and
// the collector's partial runs (bucket by bucket of the kernel's table,
// towards a goal) decide which entries go; and with a small bound, so that
// the least recently used entry makes room for a new address (kref models
// the bound: the kernel has none).
func TestDifferentialLocality(t *testing.T) {
	for _, sched := range []string{"lblc", "lblcr"} {
		t.Run(sched+"/collector", func(t *testing.T) {
			t.Parallel()
			differential(t, sched, 1, diffOpts{steps: 90000, addrs: 40000, tick: time.Second, expiration: 24 * time.Hour})
		})
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/bound/%d", sched, seed), func(t *testing.T) {
				t.Parallel()
				differential(t, sched, seed, diffOpts{steps: 6000, addrs: 300, capacity: 50 * int(seed), tick: time.Second})
			})
		}
	}
}

// diffOpts shapes a differential run: steps, how many destination
// addresses the Picks go to, the lblc/lblcr cache bound (0: the real one),
// the clock's advance per step (0: random, up to 2 minutes) and the
// lblc(r) expiration (0: an hour).
type diffOpts struct {
	steps, addrs, capacity int
	tick, expiration       time.Duration
}

type liveConn struct {
	d      *Dest
	active bool
}

func differential(t *testing.T, sched string, seed uint64, o diffOpts) {
	rng := rand.New(rand.NewPCG(seed, 42))
	// Both sides draw twos's random numbers from identical streams.
	r1, r2 := rand.New(rand.NewPCG(seed, 7)), rand.New(rand.NewPCG(seed, 7))
	maxServers := 2 + int(seed)*3
	capacity := locCapacity
	if o.capacity > 0 {
		capacity = o.capacity
	}
	// Enough member nodes that lblcr's sets never run out before the
	// entries do: kref models the entry bound only.
	nodes := 2*capacity + (maxServers+1)*min(capacity, o.addrs)
	if o.expiration == 0 {
		o.expiration = time.Hour
	}
	s, err := newService(Config{Scheduler: sched, Rand: r1.Uint64, CacheExpiration: o.expiration}, capacity, nodes)
	if err != nil {
		t.Fatal(err)
	}
	k := newKref(sched, r2.Uint64)
	k.exp = o.expiration
	k.capacity = o.capacity
	nextExpire := ExpireInterval
	var conns []liveConn
	now := time.Duration(0)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 2, byte(i)}) }
	weight := func() int32 {
		if rng.IntN(6) == 0 {
			return 0
		}
		if seed%2 == 0 {
			// Large weights make wrr skip many empty passes at once.
			return int32(rng.IntN(1000) + 1)
		}
		return int32(rng.IntN(8) + 1)
	}
	thresholds := func() (uint32, uint32) {
		if rng.IntN(3) != 0 {
			return 0, 0
		}
		u := uint32(rng.IntN(6) + 1)
		return u, uint32(rng.IntN(int(u) + 1))
	}
	for step := range o.steps {
		if o.tick > 0 {
			now += o.tick
		} else {
			now += time.Duration(rng.IntN(120)) * time.Second
		}
		for ; nextExpire <= now; nextExpire += ExpireInterval {
			s.Expire(nextExpire)
			k.expire(nextExpire)
			if sched == "lblc" || sched == "lblcr" {
				if got, want := s.cache.entries.Load(), int32(k.entries); got != want {
					t.Fatalf("step %d: after Expire(%v): entries = %d, kernel = %d", step, nextExpire, got, want)
				}
			}
		}
		switch op := rng.IntN(20); {
		case op == 0: // add
			i := rng.IntN(maxServers)
			if s.Lookup(addr(i), 80) != nil {
				continue
			}
			u, l := thresholds()
			d, err := s.AddDest(DestConfig{Addr: addr(i), Port: 80, Weight: weight(), UThreshold: u, LThreshold: l})
			if err != nil {
				t.Fatal(err)
			}
			k.add(d)
		case op == 1 && len(k.list) > 0: // remove
			d := k.list[rng.IntN(len(k.list))]
			if err := s.RemoveDest(d.Addr, d.Port); err != nil {
				t.Fatal(err)
			}
			k.remove(d)
		case op == 2 && len(k.list) > 0: // update
			d := k.list[rng.IntN(len(k.list))]
			u, l := thresholds()
			if _, err := s.UpdateDest(DestConfig{Addr: d.Addr, Port: d.Port, Weight: weight(), UThreshold: u, LThreshold: l}); err != nil {
				t.Fatal(err)
			}
			k.update(d)
		case op < 6 && len(conns) > 0: // a connection changes state or ends
			j := rng.IntN(len(conns))
			c := &conns[j]
			switch rng.IntN(3) {
			case 0:
				if c.active {
					c.d.Deactivate()
				} else {
					c.d.Activate()
				}
				c.active = !c.active
			default:
				kind := ConnInactive
				if c.active {
					kind = ConnActive
				}
				c.d.Unbind(kind)
				conns[j] = conns[len(conns)-1]
				conns = conns[:len(conns)-1]
			}
		default: // a new connection
			f := &Flow{
				Src:     netip.AddrFrom4([4]byte{198, 18, 128, byte(rng.IntN(50))}),
				Dst:     diffDst(rng.IntN(o.addrs)),
				SrcPort: uint16(40000 + rng.IntN(100)), DstPort: 80, Proto: ProtoTCP, Now: now,
			}
			want := k.pick(f)
			got := s.Pick(f)
			if got != want {
				t.Fatalf("step %d: Pick = %v, kernel = %v; list %v", step, got, want, k.list)
			}
			if got != nil {
				got.Bind(ConnInactive)
				conns = append(conns, liveConn{d: got})
			}
		}
	}
}

// diffDst is the i-th destination address of a differential run: IPv4 for
// even i, IPv6 for odd i.
func diffDst(i int) netip.Addr {
	if i%2 == 1 {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8), 13: byte(i >> 16)})
	}
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)})
}
