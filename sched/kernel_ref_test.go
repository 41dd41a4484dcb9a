package sched

import (
	"net/netip"
	"time"
)

// kref transliterates the kernel's schedulers as plain list scans over the
// same dests, keeping its own scheduler state; the differential tests run it
// beside Service on random histories. It is the executable form of
// net/netfilter/ipvs/ip_vs_{rr,wrr,lc,wlc,sed,nq,fo,ovf,twos,lblc,lblcr}.c.
type kref struct {
	sched string
	list  []*Dest // kernel order
	// rr: sched_data, nil = head
	rrP *Dest
	// wrr mark
	cl         *Dest
	cw, mw, di int
	// lblc / lblcr: see kernel_ref_loc_test.go
	loc     map[netip.Addr]*refLoc
	entries int
	exp     time.Duration
	counter int
	rover   int
	// capacity, when > 0, models Service's bound: a new address beyond it
	// evicts the entry with the least lastuse.
	capacity int
	rand     func() uint64
}

func newKref(sched string, rnd func() uint64) *kref {
	k := &kref{sched: sched, loc: map[netip.Addr]*refLoc{}, exp: defaultExpiration, counter: 1, rand: rnd}
	k.wrrChanged()
	return k
}

func (k *kref) add(d *Dest) {
	k.list = append([]*Dest{d}, k.list...)
	k.wrrChanged()
}

func (k *kref) update(*Dest) { k.wrrChanged() }

func (k *kref) remove(d *Dest) {
	i := 0
	for k.list[i] != d {
		i++
	}
	if k.rrP == d {
		if i == 0 {
			k.rrP = nil
		} else {
			k.rrP = k.list[i-1]
		}
	}
	k.list = append(k.list[:i:i], k.list[i+1:]...)
	k.wrrChanged()
}

func (k *kref) wrrChanged() {
	k.cl = nil
	g := 0
	mx := 0
	for _, d := range k.list {
		w := int(d.Weight())
		if w > 0 {
			if g > 0 {
				g = int(gcd(int64(w), int64(g)))
			} else {
				g = w
			}
		}
		if w > mx {
			mx = w
		}
	}
	if g == 0 {
		g = 1
	}
	k.di = g
	k.mw = mx - (g - 1)
	if k.cw > k.mw || k.cw == 0 {
		k.cw = k.mw
	} else if k.di > 1 {
		k.cw = (k.cw/k.di)*k.di + 1
	}
}

// indexOf returns the list index of d, or -1 for the head (nil).
func (k *kref) indexOf(d *Dest) int {
	for i, x := range k.list {
		if x == d {
			return i
		}
	}
	return -1
}

func (k *kref) pick(f *Flow) *Dest {
	switch k.sched {
	case "rr":
		return k.rr()
	case "wrr":
		return k.wrr()
	case "lc":
		return k.lc()
	case "wlc":
		return k.wlcScan(func(d *Dest) int32 { return d.overhead() })
	case "sed":
		return k.wlcScan(func(d *Dest) int32 { return d.ActiveConns() + 1 })
	case "nq":
		return k.nq()
	case "fo":
		return k.fo()
	case "ovf":
		return k.ovf()
	case "twos":
		return k.twos()
	case "lblc":
		return k.lblcPick(f)
	case "lblcr":
		return k.lblcrPick(f)
	}
	panic(k.sched)
}

func (k *kref) rr() *Dest {
	last := k.indexOf(k.rrP)
	for pass := 0; pass < 2; pass++ {
		start := last + 1
		if pass == 1 {
			start = 0
		}
		for i := start; i < len(k.list); i++ {
			d := k.list[i]
			if !d.Overloaded() && d.Weight() > 0 {
				k.rrP = d
				return d
			}
			if i == last {
				return nil
			}
		}
		if last == -1 {
			break
		}
	}
	return nil
}

func (k *kref) wrr() *Dest {
	d := k.indexOf(k.cl)
	if k.mw == 0 {
		return nil
	}
	last := d
	stop := -2
	lastPass, restarted := false, false
	for {
		for d = d + 1; d < len(k.list); d++ {
			x := k.list[d]
			if !x.Overloaded() && int(x.Weight()) >= k.cw {
				k.cl = x
				return x
			}
			if d == stop {
				k.cl = x
				return nil
			}
		}
		d = -1
		k.cw -= k.di
		if k.cw <= 0 {
			k.cw = k.mw
			if lastPass || last == -1 {
				k.cl = nil
				return nil
			}
			restarted = true
		}
		lastPass = k.cw <= k.di
		if lastPass && restarted && last != -1 {
			stop = last
		}
	}
}

func (k *kref) lc() *Dest {
	var least *Dest
	var loh uint32
	for _, d := range k.list {
		if d.Overloaded() || d.Weight() == 0 {
			continue
		}
		doh := uint32(d.overhead())
		if least == nil || doh < loh {
			least, loh = d, doh
		}
	}
	return least
}

func (k *kref) wlcScan(oh func(*Dest) int32) *Dest {
	var least *Dest
	var loh int64
	for _, d := range k.list {
		if least == nil {
			if !d.Overloaded() && d.Weight() > 0 {
				least, loh = d, int64(oh(d))
			}
			continue
		}
		if d.Overloaded() {
			continue
		}
		doh := int64(oh(d))
		if loh*int64(d.Weight()) > doh*int64(least.Weight()) {
			least, loh = d, doh
		}
	}
	return least
}

func (k *kref) nq() *Dest {
	var least *Dest
	var loh int64
	for _, d := range k.list {
		if d.Overloaded() || d.Weight() == 0 {
			continue
		}
		doh := int64(d.ActiveConns() + 1)
		if d.ActiveConns() == 0 {
			return d
		}
		if least == nil || loh*int64(d.Weight()) > doh*int64(least.Weight()) {
			least, loh = d, doh
		}
	}
	return least
}

func (k *kref) fo() *Dest {
	var h *Dest
	hw := int32(0)
	for _, d := range k.list {
		if !d.Overloaded() && d.Weight() > hw {
			h, hw = d, d.Weight()
		}
	}
	return h
}

func (k *kref) ovf() *Dest {
	var h *Dest
	hw := int32(0)
	for _, d := range k.list {
		w := d.Weight()
		if d.Overloaded() || d.ActiveConns() > w || w == 0 {
			continue
		}
		if h == nil || w > hw {
			h, hw = d, w
		}
	}
	return h
}

// randPair draws the two random numbers from the same stream as Service
// does: how the bits become numbers is not what the test checks.
func (k *kref) randPair(n uint64) (uint64, uint64) {
	s := &Service{cfg: Config{Rand: k.rand}}
	return s.randPair(n)
}

func (k *kref) twos() *Dest {
	var choice1, choice2 *Dest
	total := int64(0)
	for _, d := range k.list {
		if !d.Overloaded() && d.Weight() > 0 {
			total += int64(d.Weight())
			choice1 = d
		}
	}
	if choice1 == nil {
		return nil
	}
	n := uint64(total) + 1
	u1, u2 := k.randPair(n)
	r1, r2 := int64(u1), int64(u2)
	w1, w2 := int32(-1), int32(-1)
	var oh1, oh2 int32
	for _, d := range k.list {
		w := d.Weight()
		if d.Overloaded() || w <= 0 {
			continue
		}
		r1 -= int64(w)
		r2 -= int64(w)
		if r1 <= 0 && w1 == -1 {
			choice1, w1, oh1 = d, w, d.overhead()
		}
		if r2 <= 0 && w2 == -1 {
			choice2, w2, oh2 = d, w, d.overhead()
		}
		if w1 != -1 && w2 != -1 {
			break
		}
	}
	if choice2 != nil && w2*oh1 > w1*oh2 {
		return choice2
	}
	return choice1
}

func (k *kref) isOverloaded(d *Dest) bool {
	if d.ActiveConns() > d.Weight() {
		for _, x := range k.list {
			if x.ActiveConns()*2 < x.Weight() {
				return true
			}
		}
	}
	return false
}
