package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/ipvs"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/canserve"
	"github.com/ulvs/ulvs/internal/lvs"
	"github.com/ulvs/ulvs/internal/plan"
	"github.com/ulvs/ulvs/vrrp"
)

// daemon is ulvsd's composition root: it builds VRRP, the checkers and the
// data path from one translated configuration (a plan.Plan), wires their
// events, and applies reloads as differences.
type daemon struct {
	o   *options
	log *zap.Logger

	// Subsystems; nil when -P or -C leaves one out.
	be   forward.Backend
	lvs  *lvs.Reconciler
	hr   *health.Runner
	node *vrrp.Node
	disp *health.Dispatcher
	// syncer is the backend's connection synchronisation; sync is
	// lvs_sync_daemon (nil when not running): VRRP's event goroutine reads
	// it while a reload may replace it.
	syncer lvs.Syncer
	sync   atomic.Pointer[lvs.Sync]
	// canServe watches whether this director can serve (--cannot-serve);
	// serveInstances are the instances its condition applies to.
	canServe       *canserve.Monitor
	serveInstances atomic.Pointer[[]string]
	serveWeight    int

	hcancel, vcancel context.CancelFunc
	hdone, vdone     chan error

	// opMu orders a reload's apply and stop; stopping is set by stop.
	opMu     sync.Mutex
	stopping bool

	mu         sync.Mutex
	cfg        *conf.Config
	started    time.Time
	reloads    int
	lastReload time.Time
	lastErr    string
	// vrrpBase holds VRRP counters at the last stats clear.
	vrrpBase map[string]vrrp.Stats

	// bgp is the BGP speaker and its policy loop (nil without --bgp);
	// ecmp is set when several directors announce a prefix.
	bgp  *bgpState
	ecmp bool
}

// subsystems says which parts run, from -P and -C.
func (o *options) runVRRP() bool   { return !o.checkOnly }
func (o *options) runChecks() bool { return !o.vrrpOnly }

// planOptions is what of a configuration runs here.
func (o *options) planOptions() plan.Options {
	return plan.Options{VRRP: o.runVRRP(), Checks: o.runChecks()}
}

// start builds and starts every subsystem from p.
func (d *daemon) start(ctx context.Context, p *plan.Plan) error {
	d.cfg, d.started = p.Config, time.Now()
	d.vrrpBase = map[string]vrrp.Stats{}
	if d.o.runChecks() {
		if err := d.startForwarding(p); err != nil {
			return err
		}
		if err := d.startHealth(ctx, p); err != nil {
			return err
		}
	}
	if d.ecmp && d.o.runChecks() {
		d.startSync(p) // every director sends and receives: VRRP does not decide
	}
	if d.o.runVRRP() && len(p.Config.Instances) > 0 {
		if !d.ecmp {
			d.startSync(p)
		}
		if err := d.startVRRP(ctx, p); err != nil {
			return err
		}
		d.startCanServe(ctx, p)
	}
	return nil
}

func (d *daemon) startForwarding(p *plan.Plan) error {
	if len(p.Config.VirtualServers) == 0 {
		return nil
	}
	be, syncer, size, err := newBackend(d.o, p.Config.Global.LVSFlush, d.log)
	if err != nil {
		return err
	}
	d.be, d.syncer = be, syncer
	d.lvs = lvs.New(be, &lvs.Config{Size: size, FollowVRRP: d.o.backend == forward.BackendUserspace,
		Logger: d.log.Named("lvs")})
	if p.Timeouts != (forward.Timeouts{}) {
		if err := be.SetTimeouts(p.Timeouts); err != nil {
			d.log.Error("lvs_timeouts not applied", zap.Error(err))
		}
	}
	// Services on an address a VRRP instance owns start disabled: they
	// follow the instance and forward only while it is master.
	if d.o.runVRRP() {
		d.lvs.Own(p.Owners)
	}
	for _, err := range d.lvs.Apply(p.Services) {
		d.log.Error("virtual server not forwarded", zap.Error(err))
	}
	return nil
}

// newBackend opens the data path: the userspace forwarder on the
// interfaces given (or every interface that is up), or kernel IPVS; size is
// its connection table's, as ulvsadm shows it.
func newBackend(o *options, flush bool, log *zap.Logger) (be forward.Backend, s lvs.Syncer, size int, err error) {
	switch o.backend {
	case forward.BackendUserspace:
		ifaces := o.interfaces
		if len(ifaces) == 0 {
			if ifaces, err = upInterfaces(); err != nil {
				return nil, nil, 0, err
			}
		}
		u, err := forward.NewUserspace(&forward.Config{Interfaces: ifaces, MaxConns: o.maxConns,
			SloppyTCP: o.sloppyTCP, IO: o.io, XDPFastPath: o.xdpFast, RingVersion: o.ringVersion, Logger: log.Named("forward")})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("userspace forwarder: %w", err)
		}
		log.Info("forwarding", zap.String("backend", forward.BackendUserspace), zap.Strings("interfaces", ifaces))
		return u, u, o.maxConns, nil
	case forward.BackendIPVS:
		// On a kernel without ip_vs this fails at once, saying so: never
		// forwarding nothing in silence.
		k, err := ipvs.New(&ipvs.Config{Flush: flush, KeepOnClose: o.dontRelIPVS, Logger: log.Named("ipvs")})
		if err != nil {
			return nil, nil, 0, err
		}
		return k, k, k.TableSize(), nil
	}
	return nil, nil, 0, fmt.Errorf("unknown backend %q (%s or %s)", o.backend, forward.BackendUserspace, forward.BackendIPVS)
}

// upInterfaces lists the interfaces that are up, except loopback.
func upInterfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 && len(i.HardwareAddr) == 6 {
			out = append(out, i.Name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no interface is up to forward on (give --interfaces)")
	}
	return out, nil
}

func (d *daemon) startHealth(ctx context.Context, p *plan.Plan) error {
	dc := p.Dispatcher
	dc.Logger = d.log.Named("notify")
	disp, err := health.NewDispatcher(dc)
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	d.disp = disp
	var sink health.Sink = lvs.Discard{}
	if d.lvs != nil {
		sink = d.lvs
	}
	hr, err := health.New(p.Health, sink, health.Options{Logger: d.log.Named("health"), Notifier: disp, OnEvent: d.healthEvent})
	if err != nil {
		return fmt.Errorf("checkers: %w", err)
	}
	d.hr = hr
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.hcancel, d.hdone = cancel, make(chan error, 1)
	go func() { d.hdone <- hr.Run(hctx) }()
	return nil
}

func (d *daemon) healthEvent(e health.Event) {
	fields := []zap.Field{zap.String("event", e.Kind.String()), zap.String("service", e.Service)}
	if e.Real.IsValid() {
		fields = append(fields, zap.String("real_server", e.Real.String()))
	}
	if e.Checker != "" {
		fields = append(fields, zap.String("checker", e.Checker))
	}
	fields = append(fields, zap.Int64("weight", e.Weight), zap.String("reason", e.Reason))
	d.log.Info("health transition", fields...)
}

// vrrpConfig completes the plan's VRRP configuration with what the daemon
// gives it: logger, flags and the VIP hook.
func (d *daemon) vrrpConfig(p *plan.Plan) *vrrp.Config {
	vc := p.VRRP
	vc.Logger = d.log.Named("vrrp")
	vc.KeepAddresses, vc.ReleaseVIPs = d.o.dontRelVRRP, d.o.releaseVIPs
	vc.VIPHook = d.vipHook
	return vc
}

func (d *daemon) startVRRP(ctx context.Context, p *plan.Plan) error {
	node, err := vrrp.New(d.vrrpConfig(p))
	if err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	d.node = node
	events := node.Events()
	vctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.vcancel, d.vdone = cancel, make(chan error, 1)
	go d.vrrpEvents(events)
	go func() { d.vdone <- node.Run(vctx) }()
	return nil
}

// startSync starts lvs_sync_daemon, as a backup, when the plan has one and
// a data path runs.
func (d *daemon) startSync(p *plan.Plan) {
	if p.Sync == nil || d.syncer == nil {
		return
	}
	ls := lvs.NewSync(d.syncer, *p.Sync, d.log.Named("sync"))
	if d.ecmp {
		ls.Set(forward.SyncBoth)
	}
	d.sync.Store(ls)
}

// vipHook enables an instance's services just before VRRP adds its VIPs,
// and disables them just after it removes them: the director's kernel
// never owns a VIP whose services are not forwarded (it would refuse the
// first connections of a new master with RST).
func (d *daemon) vipHook(instance string, vips []netip.Prefix, held bool) {
	if d.lvs == nil {
		return
	}
	for _, p := range vips {
		if err := d.lvs.Follow(p.Addr(), held); err != nil {
			d.log.Error("forwarding did not follow the VIP", zap.String("instance", instance),
				zap.String("vip", p.Addr().String()), zap.Error(err))
		}
	}
}

// vrrpEvents logs transitions, makes lvs_sync_daemon follow its instance
// and ha_suspend follow the VIPs: an instance's checkers run only while it
// is master (forwarding follows earlier, in vipHook).
func (d *daemon) vrrpEvents(events <-chan vrrp.Event) {
	for ev := range events {
		kind := "instance"
		if ev.Group {
			kind = "group"
		}
		d.log.Info("vrrp transition", zap.String("kind", kind), zap.String("name", ev.Name),
			zap.String("from", ev.Prev.String()), zap.String("to", ev.State.String()),
			zap.Int("priority", ev.Priority), zap.String("interface", ev.Interface), zap.Int("vrid", ev.VRID))
		if !d.ecmp {
			d.sync.Load().Follow(ev)
		}
		if ev.Group || d.hr == nil {
			continue
		}
		master := ev.State == vrrp.StateMaster
		for _, p := range ev.VIPs {
			addr := p.Addr()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := d.hr.SetVIP(ctx, addr, master); err != nil {
				d.log.Warn("ha_suspend not updated", zap.String("vip", addr.String()), zap.Error(err))
			}
			cancel()
		}
	}
}

// reload loads the configuration file again and applies the difference. A
// file that does not load or translate changes nothing: its errors are
// logged with their file:line and the running configuration stays.
func (d *daemon) reload() error {
	fail := func(err error) error {
		d.mu.Lock()
		d.lastErr = err.Error()
		d.mu.Unlock()
		return err
	}
	res, err := conf.Read(d.o.configFile, loadOptions(d.o))
	var p *plan.Plan
	var bgp *conf.BGP
	var bgpVSS [][]*conf.VirtualServer
	if err == nil && d.o.bgpFile != "" {
		var diags conf.Diagnostics
		if bgp, bgpVSS, diags, err = loadBGP(d.o, res.Config); err != nil {
			res.Diags = append(res.Diags, diags...)
		} else {
			for _, n := range plan.ECMPAdjust(bgp, bgpVSS, d.o.kernelIPVS()) {
				d.log.Info("ecmp", zap.String("note", n))
			}
		}
	}
	if err == nil {
		var diags conf.Diagnostics
		p, diags = plan.Build(res.Config, d.o.planOptions())
		res.Diags = append(res.Diags, diags...)
		if diags.HasErrors() {
			err = errors.New(diags.Errors()[0].String())
		}
	}
	if err != nil {
		// The status says so before the log does: whoever reads the log
		// line finds the error in ulvsadm status too.
		err = fail(fmt.Errorf("reload refused, the running configuration stays: %w", err))
		if res != nil {
			logDiags(d.log, "reload refused: configuration error", res.Diags.Errors())
		}
		return err
	}
	logDiags(d.log, "configuration error", res.Diags)
	// Reading took as long as it took; applying and stopping exclude each
	// other, and nothing is applied once stopping began.
	d.opMu.Lock()
	defer d.opMu.Unlock()
	if d.stopping {
		return errors.New("reload dropped: ulvsd is stopping")
	}
	cfg := p.Config
	if was := d.currentConfig(cfg).Global.NetNamespace; cfg.Global.NetNamespace != was {
		// keepalived: "the namespace cannot be changed on a configuration
		// reload".
		d.log.Warn("net_namespace cannot change on reload; ulvsd stays where it runs",
			zap.String("at", cfg.Global.NetNamespacePos.String()), zap.String("running_in", was))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d.lvs != nil {
		if p.VRRP != nil {
			// Before the services: one on an address an instance now owns
			// starts disabled, until its master enables it (VIP hook).
			d.lvs.Own(p.Owners)
		}
		for _, err := range d.lvs.Apply(p.Services) {
			d.log.Error("reload: virtual server", zap.Error(err))
		}
	} else if p.Health != nil && len(cfg.VirtualServers) > 0 {
		d.log.Warn("reload: virtual servers appeared; the data path starts with the daemon, restart ulvsd to forward them")
	}
	if d.hr != nil && p.Health != nil {
		if err := d.hr.Apply(ctx, p.Health); err != nil {
			return fail(fmt.Errorf("reload: checkers: %w", err))
		}
	}
	if d.node != nil && p.VRRP != nil {
		if err := d.node.Apply(d.vrrpConfig(p)); err != nil {
			return fail(fmt.Errorf("reload: vrrp: %w", err))
		}
		d.reloadSync(p)
		d.reloadCanServe(p)
	}
	if bgp != nil {
		if err := d.reloadBGP(bgp, bgpVSS); err != nil {
			return fail(fmt.Errorf("reload: bgp: %w", err))
		}
	}
	d.mu.Lock()
	d.cfg = cfg
	d.reloads++
	d.lastReload = time.Now()
	d.lastErr = ""
	d.mu.Unlock()
	d.log.Info("configuration reloaded", zap.String("file", d.o.configFile))
	return nil
}

// reloadSync starts, changes or stops lvs_sync_daemon as the reloaded
// configuration says.
func (d *daemon) reloadSync(p *plan.Plan) {
	switch ls := d.sync.Load(); {
	case ls != nil && p.Sync == nil:
		ls.Set(forward.SyncOff)
		d.sync.Store(nil)
	case ls != nil:
		ls.Reload(*p.Sync)
	case p.Sync != nil:
		// Added by this reload: a backup, or the master if its instance is
		// master now.
		d.startSync(p)
		if ls := d.sync.Load(); ls != nil && d.instanceStatus()[ls.Instance()].State == vrrp.StateMaster {
			ls.Set(forward.SyncMaster)
		}
	}
}

// stop shuts down in keepalived's order: VRRP first (priority 0 adverts,
// VIPs, routes and rules removed, notify_stop), then the checkers (omega
// notifies), then the data path and its kernel guard.
func (d *daemon) stop() {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	d.stopping = true
	if d.vcancel != nil {
		d.vcancel()
		if err := waitFor(d.vdone, 10*time.Second); err != nil {
			d.log.Warn("vrrp stopped with an error", zap.Error(err))
		}
	}
	if d.hcancel != nil {
		d.hcancel()
		if err := waitFor(d.hdone, 10*time.Second); err != nil {
			d.log.Warn("checkers stopped with an error", zap.Error(err))
		}
	}
	if d.be != nil {
		// The IPVS backend leaves its services in the kernel under -I.
		if err := d.be.Close(); err != nil {
			d.log.Warn("data path stopped with an error", zap.Error(err))
		}
	}
	if d.disp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		d.disp.Close(ctx)
		cancel()
	}
}

func waitFor(ch <-chan error, d time.Duration) error {
	select {
	case err := <-ch:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

// currentConfig is the configuration in force (the last one a reload
// applied), or fallback before start.
func (d *daemon) currentConfig(fallback *conf.Config) *conf.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg != nil {
		return d.cfg
	}
	return fallback
}
