package health

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Options are the runner's collaborators.
type Options struct {
	// Logger receives transitions at Info and failures at Debug (nil: none).
	Logger *zap.Logger
	// Dialer opens checker connections (nil: NetDialer).
	Dialer Dialer
	// Notifier runs scripts and writes FIFO lines and mails (nil: drop).
	Notifier Notifier
	// OnEvent, when set, is called from the runner's goroutine with every
	// state change; it must not block.
	OnEvent func(Event)
	// Rand draws the random warmup delays (nil: a random source).
	Rand *rand.Rand
}

// Runner runs the checkers of a configuration and drives the Sink. All of
// its state is owned by the goroutine of Run; the other methods send it
// operations.
type Runner struct {
	log      *zap.Logger
	sink     Sink
	notifier Notifier
	dialer   Dialer
	onEvent  func(Event)
	rnd      *rand.Rand

	ops     chan func()
	results chan result
	running atomic.Bool

	// Owned by the Run goroutine (or by New before Run starts).
	cfg      *Config
	services []*vsState
	vips     map[netip.Addr]bool
	ctx      context.Context
	wg       sync.WaitGroup
}

// checker is one running checker.
type checker struct {
	name  string
	kind  Kind
	vs    *vsState
	rs    *rsState
	alpha bool
	spec  checkSpec
	st    ckState

	// fileStatus is FILE_CHECK's current status (see fileStatus).
	fileStatus int64

	cancel    context.CancelFunc
	reply     chan nextCmd
	suspended atomic.Bool
	removed   bool

	runs, failures uint64
	consecutive    int
	target         string
	last           outcome
	lastTime       time.Time
}

// checkSpec is a checker's configuration, resolved.
type checkSpec struct {
	t       timing
	prober  prober
	cmpKey  string
	fast    bool
	logAll  bool
	file    *FileCheck
	dynamic bool
}

// nextCmd tells a checker goroutine what to do next.
type nextCmd struct {
	delay     time.Duration
	delayLoop time.Duration
	step      int
	prober    prober
}

type result struct {
	c     *checker
	o     outcome
	start time.Time
}

// New validates cfg and prepares a Runner for it; Run starts the checks.
func New(cfg *Config, sink Sink, opts Options) (*Runner, error) {
	if sink == nil {
		return nil, errors.New("health: nil Sink")
	}
	if cfg == nil {
		cfg = &Config{}
	}
	r := &Runner{
		log:      opts.Logger,
		sink:     sink,
		notifier: opts.Notifier,
		dialer:   opts.Dialer,
		onEvent:  opts.OnEvent,
		rnd:      opts.Rand,
		ops:      make(chan func()),
		results:  make(chan result, 64),
		vips:     map[netip.Addr]bool{},
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	if r.notifier == nil {
		r.notifier = nopNotifier{}
	}
	if r.dialer == nil {
		r.dialer = NetDialer{}
	}
	if r.rnd == nil {
		r.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	services, err := r.build(cfg)
	if err != nil {
		return nil, err
	}
	for _, vs := range services {
		for _, rs := range vs.reals {
			alphaDown(rs)
		}
	}
	r.cfg = cfg
	r.services = services
	return r, nil
}

// Run starts every checker, puts the initial real servers in the pools and
// serves until ctx ends. Then it stops the checkers and takes the
// services down as keepalived does on exit: destinations removed, and with
// omega the notify_down, quorum_down, FIFO lines and mails of a shutdown.
// It returns after that teardown. Run may be called once.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("health: Run called twice")
	}
	r.ctx = ctx
	for _, vs := range r.services {
		r.updateSuspend(vs)
		r.initServiceVS(vs)
	}
	for _, vs := range r.services {
		for _, rs := range vs.reals {
			for _, c := range rs.checkers {
				r.start(c)
			}
		}
	}
	r.log.Info("health checks started", zap.Int("services", len(r.services)))
	for {
		select {
		case <-ctx.Done():
			r.stop()
			return nil
		case res := <-r.results:
			r.handle(res)
		case op := <-r.ops:
			op()
		}
	}
}

// do runs op in the Run goroutine and waits for it.
func (r *Runner) do(ctx context.Context, op func()) error {
	done := make(chan struct{})
	select {
	case r.ops <- func() { op(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Apply applies a reloaded configuration as a difference (SIGHUP): services,
// real servers and checkers that did not change keep their state and their
// place in the pool; new ones start as at start-up; removed ones are taken
// out. A configuration that does not validate changes nothing. Like
// SetVIP and Status, it is served by Run and waits for it (or for ctx).
func (r *Runner) Apply(ctx context.Context, cfg *Config) error {
	var err error
	if derr := r.do(ctx, func() { err = r.apply(cfg) }); derr != nil {
		return derr
	}
	return err
}

// SetVIP tells the runner whether this node holds addr. Checkers of
// services with ha_suspend whose address is addr run only while it does.
func (r *Runner) SetVIP(ctx context.Context, addr netip.Addr, present bool) error {
	return r.do(ctx, func() {
		r.vips[addr.Unmap()] = present
		for _, vs := range r.services {
			r.updateSuspend(vs)
		}
	})
}

func (r *Runner) updateSuspend(vs *vsState) {
	susp := vs.cfg.HASuspend && vs.cfg.Addr.IsValid() && !r.vips[vs.cfg.Addr.Addr().Unmap()]
	if susp != vs.suspended {
		if susp {
			vs.log.Info("suspending health checkers")
		} else {
			vs.log.Info("activating health checkers")
		}
	}
	vs.suspended = susp
	for _, rs := range vs.reals {
		for _, c := range rs.checkers {
			c.suspended.Store(susp)
		}
	}
}

// start launches a checker's goroutine after its random warmup.
func (r *Runner) start(c *checker) {
	ctx, cancel := context.WithCancel(r.ctx)
	c.cancel = cancel
	c.reply = make(chan nextCmd, 1)
	c.suspended.Store(c.vs.suspended)
	first := time.Duration(0)
	if w := c.spec.t.warmup; w > 0 {
		first = time.Duration(r.rnd.Int64N(int64(w) + 1))
	}
	cmd := r.next(c, 0)
	r.wg.Add(1)
	go r.loop(ctx, c, first, cmd)
}

func (r *Runner) next(c *checker, delay time.Duration) nextCmd {
	return nextCmd{delay: delay, delayLoop: c.spec.t.delayLoop, step: c.st.urlIt, prober: c.spec.prober}
}

// loop is a checker's goroutine: wait, probe, report, repeat. The probe
// runs here, so a slow checker delays nobody else.
func (r *Runner) loop(ctx context.Context, c *checker, first time.Duration, cmd nextCmd) {
	defer r.wg.Done()
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.suspended.Load() {
			t.Reset(cmd.delayLoop)
			continue
		}
		start := time.Now()
		o := cmd.prober.probe(ctx, cmd.step)
		o.latency = time.Since(start)
		select {
		case r.results <- result{c: c, o: o, start: start}:
		case <-ctx.Done():
			return
		}
		select {
		case cmd = <-c.reply:
		case <-ctx.Done():
			return
		}
		t.Reset(cmd.delay)
	}
}

// handle applies one attempt's outcome to the checker's state machine
// and tells its goroutine when to go again.
func (r *Runner) handle(res result) {
	c := res.c
	if c.removed {
		return
	}
	o := res.o
	c.runs++
	if o.ok {
		c.consecutive = 0
	} else {
		c.failures++
		c.consecutive++
	}
	c.last, c.lastTime = o, res.start.Add(o.latency)
	if !o.ok {
		if c.spec.logAll || r.cfg.LogAllFailures {
			c.vs.log.Info("check failed", zap.String("checker", c.name), zap.String("reason", o.reason))
		} else {
			c.vs.log.Debug("check failed", zap.String("checker", c.name), zap.String("reason", o.reason))
		}
	}
	report := func(alive bool) { r.report(c, alive, o.reason) }
	var delay time.Duration
	switch c.kind {
	case KindHTTP, KindSSL:
		delay = c.st.stepHTTP(o.ok, c.spec.prober.steps(), c.spec.fast, &c.spec.t, report)
	case KindMisc:
		if o.ok && o.hasWeight {
			r.updateSvrWgt(o.weight, c.vs, c.rs, true, o.reason)
		}
		delay = c.st.stepMisc(o.ok, &c.spec.t, report)
		// MISC_CHECK schedules from the start of the run.
		delay = max(time.Until(res.start.Add(delay)), 0)
	case KindFile:
		r.fileUpdate(c, o.value, o.reason)
		delay = c.spec.file.Interval
	default:
		delay = c.st.stepGeneric(o.ok, &c.spec.t, report)
	}
	c.reply <- r.next(c, delay)
}

// report is a checker's verdict: update the pool, then log, publish and
// mail the change as keepalived's checkers do.
func (r *Runner) report(c *checker, alive bool, reason string) {
	wasUp, rsWasAlive := c.st.up, c.rs.alive
	r.updateSvrCheckerState(alive, c, reason)
	if c.st.up == wasUp {
		return
	}
	kind := CheckerDown
	if c.st.up {
		kind = CheckerUp
	}
	c.vs.log.Info("checker "+upDown(c.st.up), zap.String("checker", c.name), zap.String("reason", reason))
	r.event(Event{Kind: kind, Service: c.vs.key, Real: c.rs.addr, Checker: c.name, Weight: c.rs.effWeight, Reason: reason})
	if c.rs.smtpAlert && (rsWasAlive != c.rs.alive || !r.cfg.NoCheckerEmails) {
		verb := "failed"
		if c.st.up {
			verb = "succeed"
		}
		r.mail("Realserver "+c.rs.key+" of virtual server "+c.vs.key+" - "+upDown(c.rs.alive),
			"=> "+c.kind.String()+" CHECK "+verb+" on service <=")
	}
}

// fileUpdate applies a tracked file's new value (track_file.c
// process_update_checker_track_file_status).
func (r *Runner) fileUpdate(c *checker, value int64, reason string) {
	f := c.spec.file
	status := fileStatus(value, f.Weight, f.Reverse)
	prev := c.fileStatus
	if status == prev {
		return
	}
	c.fileStatus = status
	switch {
	case status == fileFault && c.st.up:
		r.report(c, false, reason)
	case prev == fileFault && !c.st.up:
		r.report(c, true, reason)
	}
	if f.Weight != 0 {
		r.updateSvrWgt(c.rs.effWeight+status-prev, c.vs, c.rs, true, reason)
	}
}

// stopChecker ends a checker's goroutine.
func (r *Runner) stopChecker(c *checker) {
	c.removed = true
	if c.cancel != nil {
		c.cancel()
	}
}

// stop ends every checker and takes the services down (omega).
func (r *Runner) stop() {
	for _, vs := range r.services {
		for _, rs := range vs.reals {
			for _, c := range rs.checkers {
				r.stopChecker(c)
			}
		}
	}
	r.wg.Wait()
	for _, vs := range r.services {
		r.clearServiceVS(vs, true)
	}
	r.log.Info("health checks stopped")
}
