package sched

import "time"

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
	// locMaxSize is the kernel's tbl->max_size, the size above which the
	// collector removes entries unused for entryTimeout.
	locMaxSize = locTabSize * 16
	// locCapacity is the hard bound on an lblc or lblcr service's cache
	// entries (the kernel has none: it allocates an entry per new
	// destination address and leaves the size to its collector). All the
	// entries are allocated with the service, four times the size the
	// kernel's collector works towards; beyond it, a new address takes
	// the entry of the least recently used one.
	locCapacity = 4 * locMaxSize
)

// locOverloaded is lblc's and lblcr's is_overloaded: the dest has more
// active connections than its weight and some dest of the service has
// fewer than half its weight.
func locOverloaded(t *table, d *Dest) bool {
	return d.active.Load() > d.weight.Load() && t.idx.(*tree).half.Load() > 0
}

// wlcBest is __ip_vs_lblc(r)_schedule: wlc's choice, or nil.
func wlcBest(t *table) *Dest {
	if i := t.idx.(*tree).best(); i >= 0 {
		return t.dests[i]
	}
	return nil
}

// lblcAlgo is ip_vs_lblc.c: a destination address keeps the server it was
// last given while that server is available, has weight > 0 and is not
// overloaded in is_overloaded's sense (its overload flag is not looked
// at); otherwise wlc chooses and the cache entry is replaced.
type lblcAlgo struct{}

func (lblcAlgo) pick(_ *Service, t *table, f *Flow) *Dest {
	c := t.cache
	k := keyOf(f.Dst)
	i, inc := c.lookup(k)
	if i >= 0 {
		e := &c.ent[i]
		e.touch(f.Now)
		d := e.dest.Load()
		if !e.is(inc) {
			i = -1 // freed meanwhile: as if missed
		} else if d.Available() && d.weight.Load() > 0 && !locOverloaded(t, d) {
			return d
		}
	}
	d := wlcBest(t)
	if d == nil {
		return nil
	}
	if i >= 0 {
		c.replace(&c.ent[i], inc, d, f.Now)
	} else {
		c.add(k, d, f.Now)
	}
	return d
}

// lblcrAlgo is ip_vs_lblcr.c: a destination address keeps a set of
// servers; the least loaded of them (weighted) serves unless overloaded in
// is_overloaded's sense, in which case wlc's choice joins the set. A set
// unchanged for CacheExpiration loses its most loaded member.
type lblcrAlgo struct{}

func (lblcrAlgo) pick(s *Service, t *table, f *Flow) *Dest {
	c := t.cache
	now := f.Now
	k := keyOf(f.Dst)
	i, inc := c.lookup(k)
	if i >= 0 {
		e := &c.ent[i]
		e.touch(now)
		// Get the least loaded destination.
		d, n, ok := c.entryMin(e, inc)
		if ok {
			// More than one destination + enough time passed by, cleanup.
			if n > 1 && now > time.Duration(e.lastmod.Load())+s.cfg.CacheExpiration {
				c.eraseMax(e, inc, now)
			}
			if d != nil && !locOverloaded(t, d) {
				return d
			}
			if d = wlcBest(t); d != nil {
				c.insertMember(e, inc, d, now)
			}
			return d
		}
	}
	d := wlcBest(t)
	if d != nil {
		c.add(k, d, now)
	}
	return d
}

// checkExpire is ip_vs_lblc_check_expire / ip_vs_lblcr_check_expire: every
// 30th run removes the entries unused for the expiration; the others, when
// the count is above 16384, remove entries unused for 6 minutes, bucket by
// bucket of the kernel's table from where the last run stopped, until
// min((entries-16384)*4/3, 8192) went. Which entries go depends on the
// kernel's buckets, so they are what the walk follows. Dead entries (see
// settle) go on every run.
func (c *locCache) checkExpire(now, expiration time.Duration) {
	// The kernel's timer fires every CHECK_EXPIRE_INTERVAL; callers that
	// come more often are held to that period.
	if c.ran && now < c.lastRun+ExpireInterval {
		return
	}
	c.ran, c.lastRun = true, now
	c.lock()
	defer c.unlock()
	if c.counter%countForFullExpiration == 0 {
		// Do full expiration check.
		c.sweepLocked(int64(now-expiration), c.rover, locTabSize)
		c.counter = 1
		return
	}
	entries := c.entries.Load()
	if entries <= locMaxSize {
		c.counter++
		c.sweepLocked(0, 0, 0)
		return
	}
	goal := min((entries-locMaxSize)*4/3, locMaxSize/2)
	cut := int64(now - entryTimeout)
	c.stale = [locTabSize]int32{}
	for i := range c.ent {
		e := &c.ent[i]
		if e.ver.Load()&entState == entLive && e.lastuse.Load() <= cut {
			c.stale[e.key().kernelBucket()]++
		}
	}
	j, n := c.rover, 0
	for n < locTabSize {
		j = (j + 1) & (locTabSize - 1)
		n++
		if goal -= c.stale[j]; goal <= 0 {
			break
		}
	}
	c.sweepLocked(cut, c.rover, n)
	c.rover = j
}

// sweepLocked removes the live entries last used at or before cut whose
// kernel bucket is one of the n that follow bucket from, and every dead
// entry.
func (c *locCache) sweepLocked(cut int64, from, n int) {
	for i := range c.ent {
		e := &c.ent[i]
		switch e.ver.Load() & entState {
		case entDead:
			c.removeLocked(i)
		case entLive:
			if e.lastuse.Load() > cut || (e.key().kernelBucket()-from-1)&(locTabSize-1) >= n {
				continue
			}
			if c.removeLocked(i) {
				c.entries.Add(-1)
			}
		}
	}
}
