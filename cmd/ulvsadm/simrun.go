package main

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/sched"
)

// workload builds the default arrivals: the i-th connection from the i-th
// host address of the client network, source port 40000, to the VIP.
func workload(c *simConfig, rng *rand.Rand) ([]arrival, error) {
	arr := make([]arrival, 0, c.n)
	addr := c.clientNet.Masked().Addr()
	now := time.Duration(0)
	for i := range c.n {
		addr = addr.Next()
		if !addr.IsValid() || !c.clientNet.Contains(addr) || (addr.Is4() && !c.clientNet.Contains(addr.Next())) {
			return nil, fmt.Errorf("--client-net %s has fewer than %d host addresses", c.clientNet, c.n)
		}
		if i > 0 {
			gap := 1 / c.rate
			if c.arrival == "poisson" {
				gap = rng.ExpFloat64() / c.rate
			}
			now += time.Duration(gap * float64(time.Second))
		}
		arr = append(arr, arrival{
			flow: sched.Flow{
				Src: addr, Dst: c.vip.Addr(), SrcPort: c.sport, DstPort: c.vip.Port(),
				Proto: c.proto, Now: now,
			},
			closeAt: -1,
		})
	}
	return arr, nil
}

// simulate runs the workload and, with --trace, prints one line per
// connection to out.
func simulate(c *simConfig, out io.Writer) (*simResult, error) {
	rng := rand.New(rand.NewPCG(c.seed, 0x5eed))
	twos := rand.New(rand.NewPCG(c.seed, 0x7705))
	svc, err := sched.New(sched.Config{Scheduler: c.sched, Flags: c.flags, Rand: twos.Uint64, CacheExpiration: c.expiration})
	if err != nil {
		return nil, err
	}
	res := &simResult{svc: svc, byDest: map[*sched.Dest]*serverStats{}}
	for _, s := range c.servers {
		if err := res.add(s.addr, s.weight); err != nil {
			return nil, err
		}
	}
	var arr []arrival
	if c.pcap != "" {
		arr, err = readPcap(c.pcap, c.vip, c.proto)
	} else {
		arr, err = workload(c, rng)
	}
	if err != nil {
		return nil, err
	}
	events := map[int][]simEvent{}
	for _, ev := range c.events {
		events[ev.step] = append(events[ev.step], ev)
	}
	hashing := c.sched == "sh" || c.sched == "dh" || c.sched == "mh"
	every := max(1, len(arr)/c.samples)
	var tw *bufio.Writer
	if c.trace {
		tw = bufio.NewWriter(out)
		defer tw.Flush()
	}
	var open connHeap
	nextExpire := sched.ExpireInterval
	start := time.Now()
	for i := range arr {
		a := &arr[i]
		now := a.flow.Now
		for _, ev := range events[i+1] {
			var before []*sched.Dest
			if hashing {
				before = mapping(svc, arr)
			}
			if err := res.apply(ev); err != nil {
				return nil, err
			}
			if hashing {
				res.remaps = append(res.remaps, compare(ev, before, mapping(svc, arr)))
			}
		}
		res.closeUntil(&open, now, c)
		for ; nextExpire <= now; nextExpire += sched.ExpireInterval {
			svc.Expire(nextExpire)
		}
		d := svc.Pick(&a.flow)
		res.total++
		if tw != nil {
			src := netip.AddrPortFrom(a.flow.Src, a.flow.SrcPort)
			if d == nil {
				fmt.Fprintf(tw, "%s -> none\n", src)
			} else {
				fmt.Fprintf(tw, "%s -> %s\n", src, netip.AddrPortFrom(d.Addr, d.Port))
			}
		}
		if d == nil {
			res.none++
		} else {
			st := res.byDest[d]
			st.conns++
			d.Bind(sched.ConnInactive)
			cn := &conn{d: d, at: -1}
			if c.proto != sched.ProtoUDP {
				d.Activate()
			}
			switch {
			case a.closeAt >= 0:
				cn.at = a.closeAt
			case c.duration.kind == "const":
				cn.at = now + c.duration.d
			case c.duration.kind == "exp":
				cn.at = now + time.Duration(rng.ExpFloat64()*float64(c.duration.d))
			}
			if cn.at >= 0 {
				heap.Push(&open, cn)
			}
			if a := d.ActiveConns(); a > st.peak {
				st.peak = a
			}
		}
		if i%every == 0 || i == len(arr)-1 {
			res.sample(i+1, now, c.proto)
		}
		res.end = now
	}
	res.elapsed = time.Since(start)
	for _, st := range res.servers {
		st.weight = st.dest.Weight()
		st.gone = !st.dest.Available()
	}
	res.decisions = decisionRate(svc, arr)
	return res, nil
}

// decisionRate times Picks alone over the workload's flows on the final
// state (no accounting), for at least 20 ms: scheduling decisions per
// second of one goroutine.
func decisionRate(svc *sched.Service, arr []arrival) float64 {
	if len(arr) == 0 {
		return 0
	}
	n := 0
	start := time.Now()
	for time.Since(start) < 20*time.Millisecond {
		for i := range arr {
			svc.Pick(&arr[i].flow)
		}
		n += len(arr)
	}
	return float64(n) / time.Since(start).Seconds()
}

// closeUntil runs the closes and expiries due by now: a TCP connection
// closes (active -> inactive) and expires fin-wait later; UDP connections
// are inactive all along and expire at their end.
func (r *simResult) closeUntil(h *connHeap, now time.Duration, c *simConfig) {
	for h.Len() > 0 && (*h)[0].at <= now {
		cn := heap.Pop(h).(*conn)
		if c.proto == sched.ProtoUDP || cn.closed {
			cn.d.Unbind(sched.ConnInactive)
			continue
		}
		cn.d.Deactivate()
		cn.closed = true
		cn.at += c.finWait
		heap.Push(h, cn)
	}
}

func (r *simResult) add(ap netip.AddrPort, w int32) error {
	d, err := r.svc.AddDest(sched.DestConfig{Addr: ap.Addr(), Port: ap.Port(), Weight: w})
	if err != nil {
		return err
	}
	if st := r.byDest[d]; st == nil {
		st = &serverStats{addr: ap, dest: d}
		r.byDest[d] = st
		r.servers = append(r.servers, st)
	}
	return nil
}

func (r *simResult) apply(ev simEvent) error {
	var err error
	switch ev.op {
	case "add":
		err = r.add(ev.addr, ev.weight)
	case "remove":
		err = r.svc.RemoveDest(ev.addr.Addr(), ev.addr.Port())
	case "weight":
		_, err = r.svc.UpdateDest(sched.DestConfig{Addr: ev.addr.Addr(), Port: ev.addr.Port(), Weight: ev.weight})
	}
	if err != nil {
		return fmt.Errorf("--at %d:%s: %w", ev.step, ev.op, err)
	}
	return nil
}

// mapping returns where each flow of the workload would go now (sh, dh and
// mh only: their Pick changes no state).
func mapping(svc *sched.Service, arr []arrival) []*sched.Dest {
	m := make([]*sched.Dest, len(arr))
	for i := range arr {
		m[i] = svc.Pick(&arr[i].flow)
	}
	return m
}

func compare(ev simEvent, before, after []*sched.Dest) remap {
	rm := remap{Step: ev.step, Event: ev.String(), Flows: len(before)}
	for i := range before {
		if before[i] != after[i] {
			rm.Remapped++
		}
	}
	if rm.Flows > 0 {
		rm.Fraction = float64(rm.Remapped) / float64(rm.Flows)
	}
	return rm
}

func (ev simEvent) String() string {
	if ev.op == "remove" {
		return fmt.Sprintf("remove %s", ev.addr)
	}
	return fmt.Sprintf("%s %s weight %d", ev.op, ev.addr, ev.weight)
}

// sample records each server's load: active connections, or for UDP
// (always inactive in IPVS) the inactive ones.
func (r *simResult) sample(step int, now time.Duration, proto uint8) {
	s := sample{Step: step, Time: now.Seconds(), Active: make([]int32, len(r.servers))}
	for i, st := range r.servers {
		if proto == sched.ProtoUDP {
			s.Active[i] = st.dest.InactiveConns()
		} else {
			s.Active[i] = st.dest.ActiveConns()
		}
	}
	r.timeline = append(r.timeline, s)
}

// loads returns conns/weight for the servers present at the end with
// weight > 0: the figures behind the load ratio and Jain's index.
func (r *simResult) loads() []float64 {
	var x []float64
	for _, st := range r.servers {
		if !st.gone && st.weight > 0 {
			x = append(x, float64(st.conns)/float64(st.weight))
		}
	}
	return x
}

// jain is Jain's fairness index (sum x)^2 / (n sum x^2): 1 when every
// server has the same load per weight, 1/n when one has it all.
func jain(x []float64) float64 {
	var s, s2 float64
	for _, v := range x {
		s += v
		s2 += v * v
	}
	if s2 == 0 {
		return math.NaN()
	}
	return s * s / (float64(len(x)) * s2)
}

// loadRatio is max/min of x (+Inf when some server got nothing).
func loadRatio(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	lo, hi := math.Inf(1), 0.0
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo == 0 {
		return math.Inf(1)
	}
	return hi / lo
}
