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
				differential(t, sched, seed, 3000)
			})
		}
	}
}

type liveConn struct {
	d      *Dest
	active bool
}

func differential(t *testing.T, sched string, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	// Both sides draw twos's random numbers from identical streams.
	r1, r2 := rand.New(rand.NewPCG(seed, 7)), rand.New(rand.NewPCG(seed, 7))
	s, err := New(Config{Scheduler: sched, Rand: r1.Uint64, CacheExpiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k := newKref(sched, r2.Uint64)
	k.exp = time.Hour
	maxServers := 2 + int(seed)*3
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
	for step := range steps {
		now += time.Duration(rng.IntN(120)) * time.Second
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
				Dst:     netip.AddrFrom4([4]byte{198, 18, 0, byte(rng.IntN(8))}),
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
