package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/internal/ctl"
)

// Bounds the chaos run holds the lab to. The lab's VRRP runs advert_int 1
// with priorities 100 and 90: a backup declares the master dead after
// 3 x 1 s + (256-90)/256 s.
const (
	// chaosFailover: the longest the VIP may have no live master (a
	// crashed master is noticed after 3.65 s; one more second for a
	// loaded machine).
	chaosFailover = 5 * time.Second
	// chaosDual: the longest two live, connected directors may both hold
	// the VIP (one advert interval and its skew).
	chaosDual = 2 * time.Second
	// Resources after each phase, against the director's baseline.
	rssMarginKiB  = 48 << 10
	fdMargin      = 16
	routineMargin = 25
)

// runChaos is `ulvslab chaos`.
func runChaos(g *globals, args []string, out *printer) error {
	fs := flags("chaos")
	dur := fs.Duration("duration", 10*time.Minute, "how long the scripted mix runs (under 3m: the short mix)")
	dir := fs.String("out", "", "where to write the timeline and counts (default bench/results/chaos-DATE)")
	seed := fs.Uint64("seed", 0, "seed of the random choices (default: from the clock)")
	keep := fs.Bool("keep", false, "leave the lab up at the end, for a look")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := needRoot(); err != nil {
		return err
	}
	for _, tool := range []string{"nginx", "nft", "trafgen", "setpriv", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil && !(tool == "nginx" && fileExists("/usr/sbin/nginx")) {
			return fmt.Errorf("ulvslab chaos: %s is not installed (make deps)", tool)
		}
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	if g.prefix == defaultPrefix {
		// Beside a lab `ulvslab up` made, not instead of it.
		g.prefix = "ulvschaos-"
	}
	if *dir == "" {
		*dir = filepath.Join("bench", "results", "chaos-"+time.Now().UTC().Format("2006-01-02T1504Z"))
	}
	c := &chaos{g: g, out: out, dur: *dur, outDir: *dir, seed: *seed, rnd: rand.New(rand.NewPCG(*seed, 15)),
		short: *dur < 3*time.Minute}
	runErr := c.run()
	if c.holdDir != "" {
		os.RemoveAll(c.holdDir)
	}
	if !*keep && c.l != nil {
		if err := teardown(c.l.st, out); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	if err := c.report(args); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		return runErr
	}
	if n := len(c.violations); n > 0 {
		return fmt.Errorf("ulvslab chaos: %d invariant(s) broken (see %s/summary.md):\n  %s", n, c.outDir,
			strings.Join(c.violations, "\n  "))
	}
	out.line("chaos: every invariant held; timeline and counts in %s", c.outDir)
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// chaos is one run: the lab, what happened to it, and what was seen.
type chaos struct {
	g      *globals
	out    *printer
	dur    time.Duration
	outDir string
	seed   uint64
	rnd    *rand.Rand
	short  bool

	l     *lab
	start time.Time
	ready time.Time
	end   time.Time

	mu         sync.Mutex
	events     []chaosEvent
	windows    []window
	violations []string
	secs       map[int]*second
	dls        []*download
	failures   []failure
	// stalls are the spans the observer itself was not running (a shared
	// machine's CPU taken by others): its clocks' timeouts fire there
	// whatever the VIP did.
	stalls []span
	dirs   []*dirWatch
	phases []phaseResult
	counts map[string]int

	httpc *http.Client
	// holdDir holds a copy of this executable that user nobody may run.
	holdDir string
}

// chaosEvent is something chaos did, over [At, End] (End == At for a
// moment).
type chaosEvent struct {
	At, End time.Time
	Kind    string // reload, graceful, crash, linkcut, rsflap, hostile-vrrp, metrics-flood, ctl-flood, synflood
	Target  string
	Text    string
}

// window tolerates failed requests over [From, To] (at most Max of them
// when Max > 0), for the stated reason.
type window struct {
	From, To time.Time
	Max      int
	Why      string
	seen     int
}

// second is one second of the timeline.
type second struct {
	OK, Failed int
	Owner      string
	// CPU: the whole machine's busy share, Lab: the directors' ulvsd
	// and the observer's, in percent of all CPUs (-1: not read).
	CPU, Lab int
	RSS      map[string]int // KiB per director
	FDs      map[string]int
	Routines map[string]int
}

// download is one paced download of /big.
type download struct {
	Start, End time.Time
	Bytes      int64
	Err        string
}

func (c *chaos) logf(format string, args ...any) {
	c.out.line("[%6.1fs] %s", time.Since(c.start).Seconds(), fmt.Sprintf(format, args...))
}

func (c *chaos) violate(format string, args ...any) {
	msg := fmt.Sprintf("t=%.1fs ", time.Since(c.start).Seconds()) + fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.violations = append(c.violations, msg)
	c.mu.Unlock()
	c.out.line("  ✗ %s", msg)
}

func (c *chaos) count(key string, n int) {
	c.mu.Lock()
	c.counts[key] += n
	c.mu.Unlock()
}

// event records something chaos does; done closes it.
func (c *chaos) event(kind, target, format string, args ...any) (done func()) {
	i := -1
	c.mu.Lock()
	c.events = append(c.events, chaosEvent{At: time.Now(), End: time.Now(), Kind: kind, Target: target, Text: fmt.Sprintf(format, args...)})
	i = len(c.events) - 1
	c.mu.Unlock()
	c.logf("%s %s: %s", kind, target, fmt.Sprintf(format, args...))
	return func() {
		c.mu.Lock()
		c.events[i].End = time.Now()
		c.mu.Unlock()
	}
}

// open adds a window in which requests may fail and returns its index.
func (c *chaos) open(w window) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.windows = append(c.windows, w)
	return len(c.windows) - 1
}

// tolerate lets requests fail over the next d (at most max of them when
// max > 0).
func (c *chaos) tolerate(d time.Duration, max int, why string) {
	c.open(window{From: time.Now(), To: time.Now().Add(d), Max: max, Why: why})
}

// tolerateUntil opens a window in which requests may fail, and returns
// the function that closes it (grace later: a request started before then
// may still fail).
func (c *chaos) tolerateUntil(grace time.Duration, why string) (end func()) {
	i := c.open(window{From: time.Now(), To: time.Now().Add(24 * time.Hour), Why: why})
	return func() {
		c.mu.Lock()
		c.windows[i].To = time.Now().Add(grace)
		c.mu.Unlock()
	}
}

// run builds the lab, starts the observers, plays the phases and stops.
func (c *chaos) run() error {
	c.start = time.Now()
	c.secs, c.counts = map[int]*second{}, map[string]int{}
	c.out.step("chaos: a DR lab (two directors, three nginx real servers, lvs_sync_daemon) for %v, seed %d", c.dur, c.seed)
	l, err := up(c.g, upOptions{mode: modeDR, directors: 2, servers: 3, http: "nginx", paced: true,
		ulvsdArgs: []string{"--metrics", "127.0.0.1:9650", "--max-conns", "65536"}}, modeDR, true, c.out)
	if err != nil {
		return err
	}
	c.l = l
	c.httpc = nsHTTP(l.st.node("client").NS, 2*time.Second)
	for _, d := range l.st.byRole(roleDirector) {
		w, err := newDirWatch(c, d)
		if err != nil {
			return err
		}
		c.dirs = append(c.dirs, w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, fn := range []func(context.Context){c.watchSelf, c.requests, c.downloads, c.watchVIP, c.sample} {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx) }()
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, w := range c.dirs {
			w.vip.close()
		}
	}()
	// Warm up, then take each director's baseline.
	time.Sleep(5 * time.Second)
	c.ready = time.Now()
	for _, w := range c.dirs {
		w.takeBaseline()
	}
	deadline := c.start.Add(c.dur)
	for i := 0; ; i++ {
		ph := c.plan(i)
		// The short mix plays once through; the full one until its time
		// is up.
		if ph.name == "" || !c.short && time.Until(deadline) < ph.takes {
			break
		}
		c.play(ph)
	}
	c.logf("the mix is over; letting the last downloads finish")
	time.Sleep(9 * time.Second)
	c.end = time.Now()
	cancel()
	wg.Wait()
	c.checkDownloads()
	c.checkRequests()
	c.checkLogs()
	c.saveLogs()
	return nil
}

// saveLogs copies every ulvsd log of the lab under outDir/logs (the lab's
// directory goes with it).
func (c *chaos) saveLogs() {
	dir := filepath.Join(c.outDir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	for _, d := range c.l.st.byRole(roleDirector) {
		if p := d.Procs[procUlvsd]; p != nil {
			if b, err := os.ReadFile(p.Log); err == nil {
				_ = os.WriteFile(filepath.Join(dir, d.Name+"-ulvsd.log"), b, 0o644)
			}
		}
	}
}

// phase is one act of the mix, and how long it takes with its settling.
type phase struct {
	name  string
	takes time.Duration
	act   func() error
}

type phaseResult struct {
	Name       string
	From, To   time.Time
	Err        string
	Resources  string
	Violations int
}

// plan returns the i-th phase of the mix: the short mix once through, the
// full one over and over.
func (c *chaos) plan(i int) phase {
	full := []phase{
		{"reload storm", 25 * time.Second, func() error { return c.reloadStorm(30) }},
		{"hostile VRRP", 15 * time.Second, func() error { return c.hostile(500) }},
		{"metrics flood", 30 * time.Second, func() error { return c.metricsFlood(3000, 12*time.Second) }},
		{"control socket flood", 25 * time.Second, func() error { return c.ctlFlood(200, 10*time.Second) }},
		{"real server flap", 30 * time.Second, c.rsFlap},
		{"SYN flood", 30 * time.Second, func() error { return c.synFlood(100000) }},
		{"graceful failover", 45 * time.Second, c.graceful},
		{"crash failover", 45 * time.Second, c.crash},
		{"link cut", 45 * time.Second, c.linkCut},
	}
	if c.short {
		short := []phase{
			{"reload storm", 12 * time.Second, func() error { return c.reloadStorm(10) }},
			{"hostile VRRP", 6 * time.Second, func() error { return c.hostile(150) }},
			{"metrics and control socket flood", 15 * time.Second, func() error {
				return errors.Join(c.metricsFlood(2000, 6*time.Second), c.ctlFlood(100, 4*time.Second))
			}},
			{"graceful failover", 20 * time.Second, c.graceful},
			{"crash failover", 20 * time.Second, c.crash},
		}
		if i < len(short) {
			return short[i]
		}
		return phase{}
	}
	return full[i%len(full)]
}

// play runs a phase, waits until the lab is whole, and checks that every
// director's resources are back within their margins.
func (c *chaos) play(ph phase) {
	c.out.step("phase: %s", ph.name)
	before := len(c.violations)
	r := phaseResult{Name: ph.name, From: time.Now()}
	if err := ph.act(); err != nil {
		c.violate("%s: %v", ph.name, err)
		r.Err = err.Error()
	}
	if err := c.whole(); err != nil {
		c.violate("after %s the lab is not whole: %v", ph.name, err)
	}
	r.Resources = c.checkResources(ph.name)
	r.To = time.Now()
	r.Violations = len(c.violations) - before
	c.mu.Lock()
	c.phases = append(c.phases, r)
	c.mu.Unlock()
}

// whole waits until both directors run, one holds the VIP, and the
// masters' tables list every real server.
func (c *chaos) whole() error {
	for _, w := range c.dirs {
		if !c.l.alive(w.d, procUlvsd) {
			return fmt.Errorf("%s's ulvsd is not running", w.d.Name)
		}
	}
	if err := c.l.waitReady(30 * time.Second); err != nil {
		return err
	}
	return waitFor(30*time.Second, "every real server in the master's table", func() (bool, error) {
		m := c.l.master("VI_1")
		if m == nil {
			return false, nil
		}
		for _, r := range c.l.st.byRole(roleReal) {
			if !c.l.inTable(m, r.addr4()) {
				return false, nil
			}
		}
		return true, nil
	})
}

// master returns the watch of the director whose ulvsd says MASTER.
func (c *chaos) master() *dirWatch {
	m := c.l.master("VI_1")
	for _, w := range c.dirs {
		if m != nil && w.d == m {
			return w
		}
	}
	return nil
}

func (c *chaos) other(w *dirWatch) *dirWatch {
	for _, x := range c.dirs {
		if x != w {
			return x
		}
	}
	return nil
}

// stopGracefully sends SIGTERM to a director's ulvsd and waits for it.
func (c *chaos) stopGracefully(w *dirWatch) error {
	p := w.d.Procs[procUlvsd]
	if err := syscall.Kill(p.Pid, syscall.SIGTERM); err != nil {
		return err
	}
	return waitFor(15*time.Second, "ulvsd on "+w.d.Name+" to stop after SIGTERM", func() (bool, error) {
		return !c.l.alive(w.d, procUlvsd), nil
	})
}

// restart starts a director's ulvsd again; its baseline is retaken once
// it settled.
func (c *chaos) restart(w *dirWatch) error {
	if err := c.l.startUlvsd(w.d); err != nil {
		return err
	}
	w.restarted()
	return c.l.st.save()
}

// ctlCallTimeout asks a director with a deadline.
func ctlCallTimeout(socket, op string, d time.Duration) (*ctl.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return ctl.Call(ctx, socket, &ctl.Request{Op: op})
}
