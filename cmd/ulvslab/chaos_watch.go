package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
)

// dirWatch follows one director: its VIP, its process's resources, the
// baseline they must come back to.
type dirWatch struct {
	c    *chaos
	d    *nodeState
	vip  *vipHolder
	http *http.Client

	mu       sync.Mutex
	pid      int
	base     res
	baseAt   time.Time
	last     res
	rebase   bool // take a new baseline once settled (after a restart)
	restarts int
}

// res is a process's resources at one moment.
type res struct {
	RSS, FDs, Routines int
}

func newDirWatch(c *chaos, d *nodeState) (*dirWatch, error) {
	v, err := newVIPHolder(d.NS, c.l.st.Targets[0].Addr())
	if err != nil {
		return nil, err
	}
	return &dirWatch{c: c, d: d, vip: v, http: nsHTTP(d.NS, 2*time.Second), pid: d.Procs[procUlvsd].Pid}, nil
}

// read returns the process's resources: RSS and descriptors from /proc,
// goroutines from its metrics (the last known while they are busy).
func (w *dirWatch) read() res {
	w.mu.Lock()
	pid := w.pid
	w.mu.Unlock()
	r := res{RSS: procRSS(pid), FDs: procFDs(pid), Routines: goroutines(w.http, "127.0.0.1:9650")}
	w.mu.Lock()
	if r.Routines < 0 {
		r.Routines = w.last.Routines
	}
	w.last = r
	w.mu.Unlock()
	return r
}

// readQuick is read without the metrics scrape (the sampler's, once a
// second: a scrape may wait).
func (w *dirWatch) readQuick() res {
	w.mu.Lock()
	pid, routines := w.pid, w.last.Routines
	w.mu.Unlock()
	return res{RSS: procRSS(pid), FDs: procFDs(pid), Routines: routines}
}

func (w *dirWatch) takeBaseline() {
	r := w.read()
	w.mu.Lock()
	w.base, w.baseAt, w.rebase = r, time.Now(), false
	w.mu.Unlock()
	w.c.logf("%s baseline: RSS %d KiB, %d descriptors, %d goroutines", w.d.Name, r.RSS, r.FDs, r.Routines)
}

// restarted notes a new process: its baseline is taken when it settled.
func (w *dirWatch) restarted() {
	w.mu.Lock()
	w.pid, w.rebase = w.d.Procs[procUlvsd].Pid, true
	w.restarts++
	w.mu.Unlock()
}

// alive reports whether the director's ulvsd runs (from the watch's own
// pid: the lab's process map changes under restarts).
func (w *dirWatch) alive() bool {
	w.mu.Lock()
	pid := w.pid
	w.mu.Unlock()
	return topo.PidInNamespace(pid, w.d.NS)
}

// state is what the VIP watcher sees of a director.
func (w *dirWatch) state() (alive, up, holds bool) {
	alive = w.alive()
	up, holds = w.vip.read()
	return alive, up, holds
}

func (c *chaos) sec(t time.Time) *second {
	k := int(t.Sub(c.start) / time.Second)
	s := c.secs[k]
	if s == nil {
		s = &second{CPU: -1, Lab: -1, RSS: map[string]int{}, FDs: map[string]int{}, Routines: map[string]int{}}
		c.secs[k] = s
	}
	return s
}

// span is a stretch of time.
type span struct{ From, To time.Time }

// watchSelf notes the spans the observer did not run: it ticks every
// 100 ms, and a tick later than a second is a stall (on a shared machine,
// others' processes took the CPU).
func (c *chaos) watchSelf(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// When the observer ran, not the tick's own time.
			now := time.Now()
			if now.Sub(last) > time.Second {
				c.mu.Lock()
				c.stalls = append(c.stalls, span{last, now})
				c.counts["observer stalls over 1 s"]++
				if ms := int(now.Sub(last).Milliseconds()); ms > c.counts["longest observer stall (ms)"] {
					c.counts["longest observer stall (ms)"] = ms
				}
				c.mu.Unlock()
				c.logf("the observer did not run for %v (the machine's CPU taken)", now.Sub(last).Round(time.Millisecond))
			}
			last = now
		}
	}
}

// stalledDuring reports whether the observer stalled within [from, to].
func (c *chaos) stalledDuringLocked(from, to time.Time) bool {
	for _, s := range c.stalls {
		if s.To.After(from) && s.From.Before(to) {
			return true
		}
	}
	return false
}

// failure is a request that failed: when it started and ended.
type failure struct {
	at, end time.Time
	err     string
}

// requests runs the request loop: 20 new connections a second through
// the VIP, each with 2 s to answer.
func (c *chaos) requests(ctx context.Context) {
	url := "http://" + c.l.st.Targets[0].String() + "/"
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	sem := make(chan struct{}, 40)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // 40 in flight: the director is not answering
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			at := time.Now()
			_, body, err := fetch(c.httpc, url)
			c.mu.Lock()
			s := c.sec(at)
			if err == nil && strings.HasPrefix(body, "rs") {
				s.OK++
			} else {
				s.Failed++
				if err == nil {
					err = fmt.Errorf("answer %q", body)
				}
				c.failures = append(c.failures, failure{at, time.Now(), err.Error()})
			}
			c.mu.Unlock()
		}()
	}
}

// downloads keeps two paced downloads of /big running: each lasts 8 s, so
// every failover and reload storm crosses some.
func (c *chaos) downloads(ctx context.Context) {
	url := "http://" + c.l.st.Targets[0].String() + "/big"
	client := nsHTTP(c.l.st.node("client").NS, 40*time.Second)
	client.Timeout = 40 * time.Second
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(4 * time.Second)
	defer t.Stop()
	for {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &download{Start: time.Now()}
			n, _, err := fetch(client, url)
			d.End, d.Bytes = time.Now(), n
			if err == nil && n != chaosBigSize {
				err = fmt.Errorf("%d of %d bytes", n, chaosBigSize)
			}
			if err != nil {
				d.Err = err.Error()
			}
			c.mu.Lock()
			c.dls = append(c.dls, d)
			c.mu.Unlock()
		}()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchVIP looks every 100 ms at who holds the VIP: a live, connected
// director holding it is a master. Never none for longer than
// chaosFailover, never two for longer than chaosDual.
func (c *chaos) watchVIP(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var noneSince, dualSince time.Time
	var maxNone, maxDual time.Duration
	prev := time.Now()
	last := ""
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.counts["longest without a master (ms)"] = int(maxNone.Milliseconds())
			c.counts["longest with two masters (ms)"] = int(maxDual.Milliseconds())
			c.mu.Unlock()
			return
		case <-t.C:
		}
		now := time.Now()
		if now.Sub(prev) > time.Second {
			// The watcher itself did not run: what happened meanwhile is
			// unknown; restart the clocks rather than count the gap.
			if !noneSince.IsZero() {
				noneSince = now
			}
			if !dualSince.IsZero() {
				dualSince = now
			}
		}
		prev = now
		var masters []string
		for _, w := range c.dirs {
			if alive, up, holds := w.state(); alive && up && holds {
				masters = append(masters, w.d.Name)
			}
		}
		owner := "none"
		switch len(masters) {
		case 1:
			owner = masters[0]
		case 2:
			owner = "both"
		}
		c.mu.Lock()
		c.sec(now).Owner = owner
		if owner != last && last != "" {
			c.counts["VIP owner changes"]++
		}
		c.mu.Unlock()
		if owner != last {
			c.logf("VIP: %s", owner)
			last = owner
		}
		switch {
		case len(masters) == 0 && noneSince.IsZero():
			noneSince = now
		case len(masters) > 0 && !noneSince.IsZero():
			if d := now.Sub(noneSince); d > maxNone {
				maxNone = d
			}
			if d := now.Sub(noneSince); d > chaosFailover {
				c.violate("no director held the VIP for %v (bound %v), from t=%.1fs", d.Round(100*time.Millisecond),
					chaosFailover, noneSince.Sub(c.start).Seconds())
			}
			noneSince = time.Time{}
		}
		switch {
		case len(masters) == 2 && dualSince.IsZero():
			dualSince = now
		case len(masters) < 2 && !dualSince.IsZero():
			if d := now.Sub(dualSince); d > maxDual {
				maxDual = d
			}
			if d := now.Sub(dualSince); d > chaosDual {
				c.violate("both directors held the VIP for %v (bound %v), from t=%.1fs", d.Round(100*time.Millisecond),
					chaosDual, dualSince.Sub(c.start).Seconds())
			}
			dualSince = time.Time{}
		}
		if !noneSince.IsZero() && now.Sub(noneSince) > chaosFailover+10*time.Second {
			c.violate("no director has held the VIP since t=%.1fs", noneSince.Sub(c.start).Seconds())
			noneSince = now
		}
	}
}

// sample records every director's resources once a second (goroutines
// as last scraped: a scrape every 3 s, beside).
func (c *chaos) sample(ctx context.Context) {
	for _, w := range c.dirs {
		go func() {
			t := time.NewTicker(3 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if w.alive() {
					w.read()
				}
			}
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var cpu cpuMeter
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		pids := []int{os.Getpid()}
		for _, w := range c.dirs {
			w.mu.Lock()
			pids = append(pids, w.pid)
			w.mu.Unlock()
		}
		if busy, lab, ok := cpu.read(pids); ok {
			c.mu.Lock()
			s := c.sec(now)
			s.CPU, s.Lab = busy, lab
			if busy >= 90 {
				c.counts["seconds the machine's CPU was at least 90 % busy"]++
			}
			if busy-lab >= 50 {
				c.counts["seconds work other than the directors and the observer took at least half the CPU"]++
			}
			c.mu.Unlock()
		}
		for _, w := range c.dirs {
			if !w.alive() {
				continue
			}
			r := w.readQuick()
			c.mu.Lock()
			s := c.sec(now)
			s.RSS[w.d.Name], s.FDs[w.d.Name], s.Routines[w.d.Name] = r.RSS, r.FDs, r.Routines
			c.mu.Unlock()
		}
	}
}

// checkResources waits (up to 30 s) until every director's RSS,
// descriptors and goroutines are back within their margins of its
// baseline, and says where they ended.
func (c *chaos) checkResources(phase string) string {
	var parts []string
	for _, w := range c.dirs {
		w.mu.Lock()
		rebase := w.rebase
		w.mu.Unlock()
		if rebase {
			// A new process: settle, then that is its baseline.
			time.Sleep(5 * time.Second)
			w.takeBaseline()
		}
		var r res
		err := waitFor(30*time.Second, w.d.Name+"'s resources back to its baseline", func() (bool, error) {
			r = w.read()
			return r.RSS <= w.base.RSS+rssMarginKiB && r.FDs <= w.base.FDs+fdMargin &&
				r.Routines <= w.base.Routines+routineMargin, nil
		})
		parts = append(parts, fmt.Sprintf("%s RSS %d→%d KiB, fds %d→%d, goroutines %d→%d", w.d.Name, w.base.RSS, r.RSS,
			w.base.FDs, r.FDs, w.base.Routines, r.Routines))
		if err != nil {
			c.violate("after %s, %s did not come back to its baseline ± margin (RSS +%d MiB, fds +%d, goroutines +%d): %s",
				phase, w.d.Name, rssMarginKiB>>10, fdMargin, routineMargin, parts[len(parts)-1])
		}
	}
	s := strings.Join(parts, "; ")
	c.logf("resources: %s", s)
	return s
}

// overlaps lists the kinds of the events a span crossed (for target
// events, the target too).
func (c *chaos) overlaps(from, to time.Time) map[string]bool {
	kinds := map[string]bool{}
	for _, e := range c.events {
		if e.At.Before(to) && !e.End.Before(from) {
			kinds[e.Kind] = true
		}
	}
	return kinds
}

// checkDownloads: a download broken across a reload or a graceful failover
// (with the sync daemon) is a violation, unless it also crossed something
// that may break it (a crash, a link cut, its real server's flap, a SYN
// flood).
func (c *chaos) checkDownloads() {
	c.mu.Lock()
	dls := append([]*download(nil), c.dls...)
	c.mu.Unlock()
	for _, d := range dls {
		kinds := c.overlaps(d.Start, d.End)
		c.count("downloads", 1)
		if d.Err == "" {
			c.count("downloads whole", 1)
			if kinds["reload"] {
				c.count("downloads whole across a reload storm", 1)
			}
			if kinds["graceful"] {
				c.count("downloads whole across a graceful failover", 1)
			}
			if kinds["crash"] || kinds["linkcut"] {
				c.count("downloads whole across a crash or link cut", 1)
			}
			continue
		}
		c.count("downloads broken", 1)
		excused := kinds["crash"] || kinds["linkcut"] || kinds["rsflap"] || kinds["synflood"]
		if (kinds["reload"] || kinds["graceful"]) && !excused {
			c.violate("a download from t=%.1fs to t=%.1fs broke across a reload or graceful failover: %s",
				d.Start.Sub(c.start).Seconds(), d.End.Sub(c.start).Seconds(), d.Err)
		} else {
			c.logf("download t=%.1fs..%.1fs broke (crossing %v): %s", d.Start.Sub(c.start).Seconds(),
				d.End.Sub(c.start).Seconds(), keys(kinds), d.Err)
		}
	}
}

// checkRequests: a request may fail only inside a window a disruptive act
// opened (a crash's failover, a real server's removal, ...).
func (c *chaos) checkRequests() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.failures {
		// A timeout measured across the observer's own stall says nothing
		// about the VIP: the answer may sit unread in the socket.
		if strings.Contains(f.err, "Timeout exceeded") && c.stalledDuringLocked(f.at, f.end) {
			c.counts["requests timed out while the observer stalled"]++
			continue
		}
		ok := false
		for i := range c.windows {
			w := &c.windows[i]
			if !f.end.Before(w.From) && !f.at.After(w.To) {
				w.seen++
				if w.Max == 0 || w.seen <= w.Max {
					ok = true
					c.counts["requests failed in a tolerated window"]++
					break
				}
			}
		}
		if !ok {
			c.counts["requests failed outside any window"]++
			c.violations = append(c.violations, fmt.Sprintf("t=%.1fs a request through the VIP failed outside any tolerated window: %s",
				f.at.Sub(c.start).Seconds(), f.err))
		}
	}
}

var panicRE = regexp.MustCompile(`(?m)^(panic: |fatal error: |WARNING: DATA RACE)`)

// checkLogs: no panic in any process's log.
func (c *chaos) checkLogs() {
	for _, n := range c.l.st.Nodes {
		for kind, p := range n.Procs {
			b, err := os.ReadFile(p.Log)
			if err != nil {
				continue
			}
			if m := panicRE.Find(b); m != nil {
				c.violate("%s's %s log has %q", n.Name, kind, strings.TrimSpace(string(m)))
			}
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
