package sched

import (
	"net/netip"
	"time"
)

// refLoc is an entry of the kernel's lblc table (dest) or lblcr table (set,
// newest member first, and lastmod).
type refLoc struct {
	dest    *Dest
	set     []*Dest
	lastmod time.Duration
	lastuse time.Duration
}

func (k *kref) wlc() *Dest { return k.wlcScan(func(d *Dest) int32 { return d.overhead() }) }

// makeRoom models Service's bound (not the kernel): with capacity entries
// already, the least recently used goes.
func (k *kref) makeRoom() {
	if k.capacity == 0 || len(k.loc) < k.capacity {
		return
	}
	var lru netip.Addr
	for a, en := range k.loc {
		if !lru.IsValid() || en.lastuse < k.loc[lru].lastuse {
			lru = a
		}
	}
	delete(k.loc, lru)
	k.entries--
}

// lblcPick is ip_vs_lblc_schedule with ip_vs_lblc_new.
func (k *kref) lblcPick(f *Flow) *Dest {
	if en := k.loc[f.Dst]; en != nil {
		en.lastuse = f.Now
		d := en.dest
		if d.Available() && d.Weight() > 0 && !k.isOverloaded(d) {
			return d
		}
	}
	d := k.wlc()
	if d == nil {
		return nil
	}
	if en := k.loc[f.Dst]; en != nil {
		if en.dest == d {
			return d
		}
		delete(k.loc, f.Dst) // ip_vs_lblc_del, without decrementing entries
	} else {
		k.makeRoom()
	}
	k.loc[f.Dst] = &refLoc{dest: d, lastuse: f.Now}
	k.entries++
	return d
}

// lblcrPick is ip_vs_lblcr_schedule with ip_vs_lblcr_new.
func (k *kref) lblcrPick(f *Flow) *Dest {
	if en := k.loc[f.Dst]; en != nil {
		en.lastuse = f.Now
		d := refMin(en.set)
		if len(en.set) > 1 && f.Now > en.lastmod+k.exp {
			if m := refMax(en.set); m != nil {
				var ns []*Dest
				for _, x := range en.set {
					if x != m {
						ns = append(ns, x)
					}
				}
				en.set, en.lastmod = ns, f.Now
			}
		}
		if d != nil && !k.isOverloaded(d) {
			return d
		}
		if d = k.wlc(); d == nil {
			return nil
		}
		for _, x := range en.set {
			if x == d {
				return d
			}
		}
		en.set = append([]*Dest{d}, en.set...)
		en.lastmod = f.Now
		return d
	}
	d := k.wlc()
	if d == nil {
		return nil
	}
	k.makeRoom()
	k.loc[f.Dst] = &refLoc{set: []*Dest{d}, lastmod: f.Now, lastuse: f.Now}
	k.entries++
	return d
}

// expire is ip_vs_lblc(r)_check_expire with the kernel's 1024 buckets.
func (k *kref) expire(now time.Duration) {
	if k.counter%countForFullExpiration == 0 {
		for a, en := range k.loc {
			if !(now < en.lastuse+k.exp) {
				delete(k.loc, a)
				k.entries--
			}
		}
		k.counter = 1
		return
	}
	if k.entries <= locMaxSize {
		k.counter++
		return
	}
	goal := (k.entries - locMaxSize) * 4 / 3
	if goal > locMaxSize/2 {
		goal = locMaxSize / 2
	}
	buckets := map[uint32][]netip.Addr{}
	for a := range k.loc {
		b := hash32(fold(a), locTabBits)
		buckets[b] = append(buckets[b], a)
	}
	j := k.rover
	for range locTabSize {
		j = (j + 1) & (locTabSize - 1)
		for _, a := range buckets[uint32(j)] {
			if now < k.loc[a].lastuse+entryTimeout {
				continue
			}
			delete(k.loc, a)
			k.entries--
			goal--
		}
		if goal <= 0 {
			break
		}
	}
	k.rover = j
}

// refMin and refMax are ip_vs_dest_set_min/max written as the kernel's two
// loops (first qualifying member, then the rest).
func refMin(ms []*Dest) *Dest {
	for i, least := range ms {
		if least.Overloaded() {
			continue
		}
		if least.Weight() > 0 && least.Available() {
			loh := int64(least.overhead())
			for _, d := range ms[i+1:] {
				if d.Overloaded() {
					continue
				}
				doh := int64(d.overhead())
				if loh*int64(d.Weight()) > doh*int64(least.Weight()) && d.Available() {
					least, loh = d, doh
				}
			}
			return least
		}
	}
	return nil
}

func refMax(ms []*Dest) *Dest {
	for i, most := range ms {
		if most.Weight() > 0 {
			moh := int64(most.overhead())
			for _, d := range ms[i+1:] {
				doh := int64(d.overhead())
				if moh*int64(d.Weight()) < doh*int64(most.Weight()) && d.Weight() > 0 {
					most, moh = d, doh
				}
			}
			return most
		}
	}
	return nil
}
