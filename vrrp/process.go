package vrrp

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is vrrp_track_process: the processes running on the host are
// counted per tracker, as keepalived counts them (track_process.c), and a
// tracker is up while its count is within [quorum, quorum_max]. The count
// comes from a scan of /proc at start, then from the kernel's process
// events connector (NETLINK_CONNECTOR, CN_IDX_PROC), as keepalived does;
// where the connector is not available — it only answers in the initial
// network namespace, so ulvsd run in another namespace (net_namespace,
// ip netns exec, containers) has no process events, and keepalived there
// has no track_process at all — /proc is scanned every procPoll instead.

// procInfo is what matching needs of one process.
type procInfo struct {
	pid, ppid int
	comm      string
	// argv is /proc/PID/cmdline split at NUL (read only when a tracker
	// matches the full command).
	argv []string
}

// procMatcher is a TrackProcess compiled for matching.
type procMatcher struct {
	name   string
	cfg    TrackProcess
	full   bool
	params []string
	match  string // "", "exact", "partial" or "initial"
	min    int
	max    int // -1: no bound
}

func newProcMatcher(tp TrackProcess) *procMatcher {
	m := &procMatcher{name: tp.Name, cfg: tp, full: tp.FullCommand, params: tp.Params, match: tp.ParamMatch,
		min: tp.Quorum, max: -1}
	if len(tp.Params) > 0 {
		// keepalived: parameters make it a full-command, exact match
		// unless param_match says otherwise.
		m.full = true
		if m.match == "" {
			m.match = "exact"
		}
	}
	if m.match != "" {
		m.full = true
	}
	if m.min == 0 {
		m.min = 1
	}
	if tp.QuorumMax != nil {
		m.max = *tp.QuorumMax
		if m.max == 0 {
			// keepalived: quorum_max 0 means "fail if running at all".
			m.min = 0
		}
	}
	return m
}

// matches reports whether p is one of the tracker's processes.
func (m *procMatcher) matches(p *procInfo) bool {
	if !m.full {
		return p.comm == m.cfg.Process
	}
	if len(p.argv) == 0 || p.argv[0] != m.cfg.Process {
		return false
	}
	if m.match == "" {
		return true
	}
	return paramsMatch(m.match, m.params, p.argv[1:])
}

// paramsMatch is keepalived's check_params over words: exact, partial
// (the configured words are the first ones) or initial (as partial, but the
// last configured word may be a prefix of the process's).
func paramsMatch(how string, want, got []string) bool {
	switch how {
	case "exact":
		return slices.Equal(want, got)
	case "partial":
		return len(got) >= len(want) && slices.Equal(want, got[:len(want)])
	case "initial":
		if len(want) == 0 {
			return true
		}
		n := len(want)
		return len(got) >= n && slices.Equal(want[:n-1], got[:n-1]) && strings.HasPrefix(got[n-1], want[n-1])
	}
	return false
}

// quorum reports whether count is within the tracker's bounds.
func (m *procMatcher) quorum(count int) bool {
	return count >= m.min && (m.max < 0 || count <= m.max)
}

// readProc reads one process from a proc root. ok is false for a process
// that is gone or a zombie (keepalived does not count zombies).
func readProc(root string, pid int, argv bool) (procInfo, bool) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procInfo{}, false
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses, so
	// it ends at the last ')'.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procInfo{}, false
	}
	rest := strings.Fields(string(b[end+1:]))
	if len(rest) < 2 || rest[0] == "Z" || rest[0] == "X" {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, comm: string(b[open+1 : end])}
	p.ppid, _ = strconv.Atoi(rest[1])
	if argv {
		c, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			return procInfo{}, false
		}
		c = bytes.TrimRight(c, "\x00")
		if len(c) > 0 {
			p.argv = strings.Split(string(c), "\x00")
		}
	}
	return p, true
}

// listPids lists the processes of a proc root.
func listPids(root string) []int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// procCounter counts the matching processes of every tracker and applies
// keepalived's delays: a quorum gained by a fork counts after fork_delay, a
// quorum lost counts after terminate_delay, and either timer is cancelled
// when the count crosses back before it fires. It is owned by one
// goroutine.
type procCounter struct {
	root     string
	ms       []*procMatcher
	needArgv bool
	// pids maps each counted process to the trackers it counts for.
	pids  map[int][]int
	count []int
	// up is each tracker's reported status; timer its pending change
	// (zero: none).
	up    []bool
	timer []time.Time
}

func newProcCounter(root string, tps []TrackProcess) *procCounter {
	c := &procCounter{root: root, pids: map[int][]int{}}
	for _, tp := range tps {
		m := newProcMatcher(tp)
		c.ms = append(c.ms, m)
		c.needArgv = c.needArgv || m.full
	}
	c.count = make([]int, len(c.ms))
	c.up = make([]bool, len(c.ms))
	c.timer = make([]time.Time, len(c.ms))
	for i, m := range c.ms {
		c.up[i] = m.quorum(0) // quorum_max 0: up while none runs
	}
	return c
}

// matchesOf returns the trackers p counts for.
func (c *procCounter) matchesOf(p *procInfo) []int {
	var out []int
	for i, m := range c.ms {
		if m.matches(p) {
			out = append(out, i)
		}
	}
	return out
}

// set records that pid now counts for trackers (nil: none). forked says a
// process that appeared is a fork of one that was counted (its gain waits
// for fork_delay).
func (c *procCounter) set(now time.Time, pid int, trackers []int, forked bool) {
	old := c.pids[pid]
	if slices.Equal(old, trackers) {
		return
	}
	if len(trackers) == 0 {
		delete(c.pids, pid)
	} else {
		c.pids[pid] = trackers
	}
	for _, i := range old {
		if !slices.Contains(trackers, i) {
			c.count[i]--
			c.changed(now, i, false)
		}
	}
	for _, i := range trackers {
		if !slices.Contains(old, i) {
			c.count[i]++
			c.changed(now, i, forked)
		}
	}
}

// changed applies a new count of tracker i.
func (c *procCounter) changed(now time.Time, i int, forked bool) {
	m := c.ms[i]
	have := m.quorum(c.count[i])
	switch {
	case have == c.up[i]:
		// Back where the status is: a pending change is off (keepalived
		// cancels its terminate or fork timer, and the status stays).
		c.timer[i] = time.Time{}
	case !c.timer[i].IsZero():
		// This very change is pending already.
	case have && forked && m.cfg.ForkDelay > 0:
		c.timer[i] = now.Add(m.cfg.ForkDelay)
	case !have && m.cfg.TerminateDelay > 0:
		c.timer[i] = now.Add(m.cfg.TerminateDelay)
	default:
		c.up[i] = have
	}
}

// fire applies the delays that expired by now.
func (c *procCounter) fire(now time.Time) {
	for i, t := range c.timer {
		if !t.IsZero() && !t.After(now) {
			c.timer[i] = time.Time{}
			c.up[i] = c.ms[i].quorum(c.count[i])
		}
	}
}

// deadline is the earliest pending delay (zero: none).
func (c *procCounter) deadline() time.Time {
	var d time.Time
	for _, t := range c.timer {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// check reads one process again (after an exec or a name change) and
// counts it for the trackers it matches now.
func (c *procCounter) check(now time.Time, pid int) {
	p, ok := readProc(c.root, pid, c.needArgv)
	if !ok {
		c.set(now, pid, nil, false)
		return
	}
	c.set(now, pid, c.matchesOf(&p), false)
}

// fork counts a new child for the trackers its parent counts for (it runs
// the parent's program until it execs).
func (c *procCounter) fork(now time.Time, parent, child int) {
	if ts, ok := c.pids[parent]; ok {
		c.set(now, child, slices.Clone(ts), true)
	}
}

// exit forgets a process.
func (c *procCounter) exit(now time.Time, pid int) { c.set(now, pid, nil, false) }

// scan reads every process, as at start and whenever events were lost or
// are not available. A process that appeared whose parent was counted for
// the same tracker is taken for a fork.
func (c *procCounter) scan(now time.Time) {
	seen := map[int]bool{}
	type found struct {
		p  procInfo
		ts []int
	}
	var news []found
	for _, pid := range listPids(c.root) {
		p, ok := readProc(c.root, pid, c.needArgv)
		if !ok {
			continue
		}
		seen[pid] = true
		ts := c.matchesOf(&p)
		if _, had := c.pids[pid]; had || len(ts) == 0 {
			c.set(now, pid, ts, false)
			continue
		}
		news = append(news, found{p, ts})
	}
	for pid := range c.pids {
		if !seen[pid] {
			c.set(now, pid, nil, false)
		}
	}
	for _, f := range news {
		parent := c.pids[f.p.ppid]
		forked := len(parent) > 0
		for _, i := range f.ts {
			forked = forked && slices.Contains(parent, i)
		}
		c.set(now, f.p.pid, f.ts, forked)
	}
}

// snapshot is the trackers' reported state.
func (c *procCounter) snapshot() []procState {
	out := make([]procState, len(c.ms))
	for i, m := range c.ms {
		out[i] = procState{name: m.name, up: c.up[i], count: c.count[i]}
	}
	return out
}

// procState is one tracker's reported state.
type procState struct {
	name  string
	up    bool
	count int
}

// procEvents is a source of process events: fork, exec, comm change and
// exit of processes (not threads).
type procEvents interface {
	// Read blocks for the next batch of events; lost reports that events
	// were dropped (a rescan is due). It returns an error once closed.
	Read() (evs []procEvent, lost bool, err error)
	Close() error
}

type procEventKind uint8

const (
	procFork procEventKind = iota + 1
	procExec
	procComm
	procExit
)

type procEvent struct {
	kind      procEventKind
	pid, ppid int
}

// openProcEvents opens the kernel's process events connector; nil with an
// error where it is not available. It is replaced in tests.
var openProcEvents = func() (procEvents, error) { return openProcConnector() }

// procWatch runs the counter until ctx ends and reports every change of a
// tracker's status or count through report (which returns false once ctx
// ended). The first scan has been done by the caller.
func procWatch(ctx context.Context, c *procCounter, poll time.Duration, src procEvents, report func([]procState) bool) {
	evc := make(chan procBatch, 16)
	if src != nil {
		go func() {
			for {
				evs, lost, err := src.Read()
				if err != nil {
					close(evc)
					return
				}
				select {
				case evc <- procBatch{evs, lost}:
				case <-ctx.Done():
					return
				}
			}
		}()
		defer src.Close()
	}
	var tick <-chan time.Time
	if src == nil {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	last := c.snapshot()
	for {
		var tc <-chan time.Time
		if d := c.deadline(); !d.IsZero() {
			timer.Reset(time.Until(d))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
			c.scan(time.Now())
		case b, ok := <-evc:
			if !ok {
				// The connector failed: fall back to scanning.
				evc = nil
				t := time.NewTicker(poll)
				defer t.Stop()
				tick = t.C
				c.scan(time.Now())
				break
			}
			now := time.Now()
			if b.lost {
				c.scan(now)
				break
			}
			for _, e := range b.evs {
				switch e.kind {
				case procFork:
					c.fork(now, e.ppid, e.pid)
				case procExec, procComm:
					c.check(now, e.pid)
				case procExit:
					c.exit(now, e.pid)
				}
			}
		case <-tc:
		}
		timer.Stop()
		c.fire(time.Now())
		if s := c.snapshot(); !slices.Equal(s, last) {
			last = s
			if !report(s) {
				return
			}
		}
	}
}

type procBatch struct {
	evs  []procEvent
	lost bool
}
