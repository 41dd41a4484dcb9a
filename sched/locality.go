package sched

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Constants of ip_vs_lblc.c and ip_vs_lblcr.c.
const (
	// ExpireInterval is CHECK_EXPIRE_INTERVAL: how often the owner of an
	// lblc or lblcr service should call Expire.
	ExpireInterval = 60 * time.Second
	// entryTimeout is ENTRY_TIMEOUT: entries unused this long go when the
	// cache is over its size.
	entryTimeout = 6 * time.Minute
	// defaultExpiration is DEFAULT_EXPIRATION (sysctl lblc(r)_expiration).
	defaultExpiration = 24 * time.Hour
	// countForFullExpiration: every 30th collector run is a full one.
	countForFullExpiration = 30
	locTabBits             = 10
	locTabSize             = 1 << locTabBits
	locMaxSize             = locTabSize * 16
)

// locEntry maps a destination address to a dest (lblc) or a dest set (lblcr).
type locEntry struct {
	addr    netip.Addr
	next    atomic.Pointer[locEntry]
	lastuse atomic.Int64
	// dest is lblc's server; nil once the kernel would have deleted the
	// entry (replaced while the cache was full); the collector unlinks it.
	dest atomic.Pointer[Dest]
	set  atomic.Pointer[destSet] // lblcr
}

// destSet is lblcr's ip_vs_dest_set, copied on write: members newest first.
type destSet struct {
	members []*Dest
	lastmod time.Duration
}

// locCache is the lblc/lblcr table: 1024 buckets chosen by hash_32 of the
// folded address, entries pushed at the head of a bucket with a
// compare-and-swap and unlinked only by the collector (Expire), which runs
// on the control side.
type locCache struct {
	bucket  [locTabSize]atomic.Pointer[locEntry]
	entries atomic.Int32 // the kernel's tbl->entries, quirks included
	counter int
	rover   int
}

func newLocCache() *locCache { return &locCache{counter: 1} }

func locHash(a netip.Addr) uint32 { return hash32(fold(a), locTabBits) }

// find returns the entry for addr, deleted (lblc) or not, or nil.
func (c *locCache) find(addr netip.Addr) *locEntry {
	for e := c.bucket[locHash(addr)].Load(); e != nil; e = e.next.Load() {
		if e.addr == addr {
			return e
		}
	}
	return nil
}

func (c *locCache) push(e *locEntry) {
	head := &c.bucket[locHash(e.addr)]
	for {
		old := head.Load()
		e.next.Store(old)
		if head.CompareAndSwap(old, e) {
			c.entries.Add(1)
			return
		}
	}
}

// locOverloaded is lblc's and lblcr's is_overloaded: the dest has more
// active connections than its weight and some dest of the service has
// fewer than half its weight.
func locOverloaded(t *table, d *Dest) bool {
	return d.active.Load() > d.weight.Load() && t.idx.(*tree).half.Load() > 0
}

// lblcAlgo is ip_vs_lblc.c: a destination address keeps the server it was
// last given while that server is available, has weight > 0 and is not
// overloaded in is_overloaded's sense (its overload flag is not looked
// at); otherwise wlc chooses and the cache entry is replaced.
type lblcAlgo struct{}

func (lblcAlgo) pick(s *Service, t *table, f *Flow) *Dest {
	c := t.cache
	if en := c.find(f.Dst); en != nil {
		if d := en.dest.Load(); d != nil {
			en.lastuse.Store(int64(f.Now))
			if d.Available() && d.weight.Load() > 0 && !locOverloaded(t, d) {
				return d
			}
		}
	}
	i := t.idx.(*tree).best()
	if i < 0 {
		return nil
	}
	d := t.dests[i]
	c.lblcNew(f.Dst, d, f.Now)
	return d
}

// lblcNew is ip_vs_lblc_new. The kernel deletes a replaced entry without
// decrementing its entry count and refuses new entries once the count is
// above 16384; both are kept. Where the kernel allocates a new entry for
// an address whose entry it deleted, the deleted entry is revived instead,
// to the same effect.
func (c *locCache) lblcNew(addr netip.Addr, d *Dest, now time.Duration) {
	en := c.find(addr)
	if en != nil {
		cur := en.dest.Load()
		if cur == d {
			return
		}
		if cur != nil {
			en.dest.CompareAndSwap(cur, nil)
		}
	}
	if c.entries.Load() > locMaxSize {
		return
	}
	if en != nil {
		en.lastuse.Store(int64(now))
		if en.dest.CompareAndSwap(nil, d) {
			c.entries.Add(1)
		}
		return
	}
	en = &locEntry{addr: addr}
	en.lastuse.Store(int64(now))
	en.dest.Store(d)
	c.push(en)
}

// lblcrAlgo is ip_vs_lblcr.c: a destination address keeps a set of
// servers; the least loaded of them (weighted) serves unless overloaded in
// is_overloaded's sense, in which case wlc's choice joins the set. A set
// unchanged for CacheExpiration loses its most loaded member.
type lblcrAlgo struct{}

func (lblcrAlgo) pick(s *Service, t *table, f *Flow) *Dest {
	c := t.cache
	now := f.Now
	if en := c.find(f.Dst); en != nil {
		en.lastuse.Store(int64(now))
		set := en.set.Load()
		d := set.min()
		// More than one destination + enough time passed by, cleanup.
		if len(set.members) > 1 && now > set.lastmod+s.cfg.CacheExpiration {
			for {
				set := en.set.Load()
				if len(set.members) <= 1 {
					break
				}
				m := set.max()
				if m == nil || en.set.CompareAndSwap(set, set.without(m, now)) {
					break
				}
			}
		}
		if d != nil && !locOverloaded(t, d) {
			return d
		}
		i := t.idx.(*tree).best()
		if i < 0 {
			return nil
		}
		d = t.dests[i]
		en.insert(d, now)
		return d
	}
	i := t.idx.(*tree).best()
	if i < 0 {
		return nil
	}
	d := t.dests[i]
	if en := c.find(f.Dst); en != nil {
		en.insert(d, now)
	} else if c.entries.Load() <= locMaxSize {
		en = &locEntry{addr: f.Dst}
		en.lastuse.Store(int64(now))
		en.set.Store(&destSet{members: []*Dest{d}, lastmod: now})
		c.push(en)
	}
	return d
}

// insert is ip_vs_dest_set_insert with check: d joins the head of the set
// unless it is a member.
func (en *locEntry) insert(d *Dest, now time.Duration) {
	for {
		set := en.set.Load()
		for _, m := range set.members {
			if m == d {
				return
			}
		}
		ns := &destSet{members: make([]*Dest, 0, len(set.members)+1), lastmod: now}
		ns.members = append(append(ns.members, d), set.members...)
		if en.set.CompareAndSwap(set, ns) {
			return
		}
	}
}

func (set *destSet) without(d *Dest, now time.Duration) *destSet {
	ns := &destSet{members: make([]*Dest, 0, len(set.members)), lastmod: now}
	for _, m := range set.members {
		if m != d {
			ns.members = append(ns.members, m)
		}
	}
	return ns
}

// min is ip_vs_dest_set_min: the weighted least-connection member among
// those available, not overloaded and of weight > 0.
func (set *destSet) min() *Dest {
	var least *Dest
	var loh int64
	for _, d := range set.members {
		if d.Overloaded() {
			continue
		}
		if least == nil {
			if d.weight.Load() > 0 && d.Available() {
				least, loh = d, int64(d.overhead())
			}
			continue
		}
		doh := int64(d.overhead())
		if loh*int64(d.weight.Load()) > doh*int64(least.weight.Load()) && d.Available() {
			least, loh = d, doh
		}
	}
	return least
}

// max is ip_vs_dest_set_max: the weighted most-connection member of
// weight > 0.
func (set *destSet) max() *Dest {
	var most *Dest
	var moh int64
	for _, d := range set.members {
		w := int64(d.weight.Load())
		if most == nil {
			if w > 0 {
				most, moh = d, int64(d.overhead())
			}
			continue
		}
		doh := int64(d.overhead())
		if moh*w < doh*int64(most.weight.Load()) && w > 0 {
			most, moh = d, doh
		}
	}
	return most
}

// checkExpire is ip_vs_lblc_check_expire / ip_vs_lblcr_check_expire.
func (c *locCache) checkExpire(now, expiration time.Duration, lblcr bool) {
	if c.counter%countForFullExpiration == 0 {
		// Do full expiration check.
		j := c.rover
		for i := 0; i < locTabSize; i++ {
			j = (j + 1) & (locTabSize - 1)
			c.entries.Add(-c.sweep(j, now-expiration, lblcr))
		}
		c.rover = j
		c.counter = 1
		return
	}
	entries := c.entries.Load()
	if entries <= locMaxSize {
		c.counter++
		return
	}
	goal := (entries - locMaxSize) * 4 / 3
	if goal > locMaxSize/2 {
		goal = locMaxSize / 2
	}
	j := c.rover
	for i := 0; i < locTabSize; i++ {
		j = (j + 1) & (locTabSize - 1)
		n := c.sweep(j, now-entryTimeout, lblcr)
		c.entries.Add(-n)
		goal -= n
		if goal <= 0 {
			break
		}
	}
	c.rover = j
}

// sweep unlinks the entries of bucket b last used at or before cutoff, and
// lblc's deleted entries, returning how many live entries went. Only the
// collector unlinks; Picks only push at the head, so a failed head swap
// means new entries sit before e.
func (c *locCache) sweep(b int, cutoff time.Duration, lblcr bool) int32 {
	head := &c.bucket[b]
	var prev *locEntry
	var n int32
	for e := head.Load(); e != nil; {
		next := e.next.Load()
		deleted := !lblcr && e.dest.Load() == nil
		if !deleted && time.Duration(e.lastuse.Load()) > cutoff {
			prev, e = e, next
			continue
		}
		if !deleted {
			n++
		}
		if prev == nil && !head.CompareAndSwap(e, next) {
			prev = head.Load()
			for prev.next.Load() != e {
				prev = prev.next.Load()
			}
		}
		if prev != nil {
			prev.next.Store(next)
		}
		e = next
	}
	return n
}
