package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/notify"
	"github.com/ulvs/ulvs/vrrp"
)

// daemon is ulvsd's composition root: it builds VRRP, the checkers and the
// data path from one keepalived.conf, wires their events, and applies
// reloads as differences.
type daemon struct {
	o   *options
	log *zap.Logger

	// Subsystems; nil when -P or -C leaves one out.
	be   forward.Backend
	lvs  *lvs
	hr   *health.Runner
	node *vrrp.Node
	disp *health.Dispatcher
	// sync is lvs_sync_daemon (nil when not running); VRRP's event
	// goroutine reads it while a reload may replace it.
	sync atomic.Pointer[lvsSync]

	hcancel, vcancel context.CancelFunc
	hdone, vdone     chan error

	mu         sync.Mutex
	cfg        *conf.Config
	started    time.Time
	reloads    int
	lastReload time.Time
	lastErr    string
	// vrrpBase holds VRRP counters at the last stats clear.
	vrrpBase map[string]vrrp.Stats
}

// subsystems says which parts run, from -P and -C.
func (o *options) runVRRP() bool   { return !o.checkOnly }
func (o *options) runChecks() bool { return !o.vrrpOnly }

// start builds and starts every subsystem from cfg.
func (d *daemon) start(ctx context.Context, cfg *conf.Config) error {
	d.cfg, d.started = cfg, time.Now()
	d.vrrpBase = map[string]vrrp.Stats{}
	if d.o.runChecks() {
		if err := d.startForwarding(cfg); err != nil {
			return err
		}
		if err := d.startHealth(ctx, cfg); err != nil {
			return err
		}
	}
	if d.o.runVRRP() && len(cfg.Instances) > 0 {
		d.startSync(cfg)
		if err := d.startVRRP(ctx, cfg); err != nil {
			return err
		}
	}
	return nil
}

func (d *daemon) startForwarding(cfg *conf.Config) error {
	svcs, errs := lvsServices(cfg)
	for _, err := range errs {
		d.log.Error("virtual server not forwarded", zap.Error(err))
	}
	if len(cfg.VirtualServers) == 0 {
		return nil
	}
	be, size, err := newBackend(d.o, cfg.Global.LVSFlush, d.log)
	if err != nil {
		return err
	}
	d.be = be
	d.lvs = newLVS(be, size, d.o.backend == "userspace", d.log)
	if t := cfg.Global.LVSTimeouts; t != (conf.LVSTimeouts{}) {
		if err := be.SetTimeouts(forward.Timeouts{TCP: t.TCP, TCPFin: t.TCPFin, UDP: t.UDP}); err != nil {
			d.log.Error("lvs_timeouts not applied", zap.Error(err))
		}
	}
	// Services on an address a VRRP instance owns start disabled: they
	// follow the instance and forward only while it is master.
	if d.o.runVRRP() {
		d.lvs.own(vipOwners(cfg))
	}
	for _, err := range d.lvs.apply(svcs) {
		d.log.Error("virtual server not forwarded", zap.Error(err))
	}
	return nil
}

// newBackend opens the data path: the userspace forwarder on the
// interfaces given (or every interface that is up), or kernel IPVS.
func newBackend(o *options, flush bool, log *zap.Logger) (forward.Backend, int, error) {
	switch o.backend {
	case forward.BackendUserspace, "":
		ifaces := o.interfaces
		if len(ifaces) == 0 {
			var err error
			if ifaces, err = upInterfaces(); err != nil {
				return nil, 0, err
			}
		}
		size := o.maxConns
		be, err := forward.New(forward.BackendUserspace, &forward.Config{Interfaces: ifaces, MaxConns: size,
			SloppyTCP: o.sloppyTCP, Logger: log.Named("forward")})
		if err != nil {
			return nil, 0, fmt.Errorf("userspace forwarder: %w", err)
		}
		log.Info("forwarding", zap.String("backend", forward.BackendUserspace), zap.Strings("interfaces", ifaces))
		return be, size, nil
	case forward.BackendIPVS:
		be, err := newIPVSBackend(o, flush, log.Named("ipvs"))
		if err != nil {
			return nil, 0, err
		}
		return be, 4096, nil
	}
	return nil, 0, fmt.Errorf("unknown backend %q (userspace or ipvs)", o.backend)
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

// vipOwners maps every virtual_ipaddress to the instance that owns it.
func vipOwners(cfg *conf.Config) map[netip.Addr]string {
	m := map[netip.Addr]string{}
	for _, in := range cfg.Instances {
		for _, a := range in.VIPs {
			m[a.Prefix.Addr()] = in.Name
		}
		for _, a := range in.ExcludedVIPs {
			m[a.Prefix.Addr()] = in.Name
		}
	}
	return m
}

func (d *daemon) startHealth(ctx context.Context, cfg *conf.Config) error {
	hc, err := healthConfig(cfg)
	if err != nil {
		return err
	}
	disp, err := health.NewDispatcher(dispatcherConfig(cfg, d.log))
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	d.disp = disp
	var sink health.Sink = discardSink{}
	if d.lvs != nil {
		sink = d.lvs
	}
	hr, err := health.New(hc, sink, health.Options{Logger: d.log.Named("health"), Notifier: disp, OnEvent: d.healthEvent})
	if err != nil {
		return fmt.Errorf("checkers: %w", err)
	}
	d.hr = hr
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.hcancel, d.hdone = cancel, make(chan error, 1)
	go func() { d.hdone <- hr.Run(hctx) }()
	return nil
}

// discardSink stands in for the data path when no virtual server has one.
type discardSink struct{}

func (discardSink) AddDest(string, health.Dest) error    { return nil }
func (discardSink) UpdateDest(string, health.Dest) error { return nil }
func (discardSink) RemoveDest(string, health.Dest) error { return nil }

func dispatcherConfig(cfg *conf.Config, log *zap.Logger) health.DispatcherConfig {
	g := cfg.Global
	dc := health.DispatcherConfig{Logger: log.Named("notify")}
	for i, f := range []*conf.Fifo{g.NotifyFifo, g.LVSNotifyFifo} {
		if f == nil || f.Path == "" || i == 1 && g.NotifyFifo != nil && g.NotifyFifo.Path == f.Path {
			continue // keepalived: the same FIFO named twice is written once
		}
		dc.FIFOs = append(dc.FIFOs, notify.FIFOSpec{Path: f.Path, User: f.User, Group: f.Group})
	}
	dc.Mail = mailOf(&g)
	return dc
}

// mailOf is global_defs' smtp_alert mail settings, for VRRP and the
// checkers alike; nil without smtp_server or notification_email.
func mailOf(g *conf.GlobalDefs) *notify.Mail {
	if g.SMTPServer == "" || len(g.NotificationEmail) == 0 {
		return nil
	}
	return &notify.Mail{Server: net.JoinHostPort(strings.Trim(g.SMTPServer, "[]"), strconv.Itoa(int(g.SMTPPort))),
		Helo: g.SMTPHeloName, From: g.NotificationEmailFrom, To: g.NotificationEmail, Timeout: g.SMTPConnectTimeout}
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

func (d *daemon) startVRRP(ctx context.Context, cfg *conf.Config) error {
	vc, err := vrrpConfig(cfg)
	if err != nil {
		return err
	}
	vc.Logger = d.log.Named("vrrp")
	vc.KeepAddresses, vc.ReleaseVIPs = d.o.dontRelVRRP, d.o.releaseVIPs
	vc.VIPHook = d.vipHook
	node, err := vrrp.New(vc)
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

// vipHook enables an instance's services just before VRRP adds its VIPs,
// and disables them just after it removes them: the director's kernel
// never owns a VIP whose services are not forwarded (it would refuse the
// first connections of a new master with RST).
func (d *daemon) vipHook(instance string, vips []netip.Prefix, held bool) {
	if d.lvs == nil {
		return
	}
	for _, p := range vips {
		if err := d.lvs.follow(p.Addr(), held); err != nil {
			d.log.Error("forwarding did not follow the VIP", zap.String("instance", instance),
				zap.String("vip", p.Addr().String()), zap.Error(err))
		}
	}
}

// vrrpEvents logs transitions and makes ha_suspend follow the VIPs: an
// instance's checkers run only while it is master (forwarding follows
// earlier, in vipHook).
func (d *daemon) vrrpEvents(events <-chan vrrp.Event) {
	for ev := range events {
		kind := "instance"
		if ev.Group {
			kind = "group"
		}
		d.log.Info("vrrp transition", zap.String("kind", kind), zap.String("name", ev.Name),
			zap.String("from", ev.Prev.String()), zap.String("to", ev.State.String()),
			zap.Int("priority", ev.Priority), zap.String("interface", ev.Interface), zap.Int("vrid", ev.VRID))
		d.sync.Load().follow(ev)
		if ev.Group {
			continue
		}
		master := ev.State == vrrp.StateMaster
		for _, p := range ev.VIPs {
			addr := p.Addr()
			if d.hr != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := d.hr.SetVIP(ctx, addr, master); err != nil {
					d.log.Warn("ha_suspend not updated", zap.String("vip", addr.String()), zap.Error(err))
				}
				cancel()
			}
		}
	}
}

// reload loads the configuration file again and applies the difference. A
// file that does not load changes nothing: its errors are logged with their
// file:line and the running configuration stays.
func (d *daemon) reload() error {
	res, err := conf.Read(d.o.configFile, loadOptions(d.o))
	fail := func(err error) error {
		d.mu.Lock()
		d.lastErr = err.Error()
		d.mu.Unlock()
		return err
	}
	if err != nil {
		// The status says so before the log does: whoever reads the log
		// line finds the error in ulvsadm status too.
		err = fail(fmt.Errorf("reload refused, the running configuration stays: %w", err))
		if res != nil {
			for _, diag := range res.Diags.Errors() {
				d.log.Error("reload refused: configuration error", zap.String("at", diag.Pos.String()),
					zap.String("error", diag.Msg))
			}
		}
		return err
	}
	cfg := res.Config
	for _, diag := range res.Diags {
		d.log.Warn("configuration warning", zap.String("at", diag.Pos.String()), zap.String("warning", diag.Msg))
	}
	// Translate everything first, so a configuration that cannot run is
	// refused before anything changes.
	var hc *health.Config
	var vc *vrrp.Config
	var svcs []*lvsService
	if d.o.runChecks() {
		if hc, err = healthConfig(cfg); err != nil {
			return fail(fmt.Errorf("reload refused: %w", err))
		}
		var errs []error
		svcs, errs = lvsServices(cfg)
		for _, err := range errs {
			d.log.Error("virtual server not forwarded", zap.Error(err))
		}
	}
	if d.o.runVRRP() {
		if vc, err = vrrpConfig(cfg); err != nil {
			return fail(fmt.Errorf("reload refused: %w", err))
		}
		vc.Logger = d.log.Named("vrrp")
		vc.KeepAddresses, vc.ReleaseVIPs = d.o.dontRelVRRP, d.o.releaseVIPs
		vc.VIPHook = d.vipHook
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d.lvs != nil {
		if vc != nil {
			// Before the services: one on an address an instance now owns
			// starts disabled, until its master enables it (VIP hook).
			d.lvs.own(vipOwners(cfg))
		}
		for _, err := range d.lvs.apply(svcs) {
			d.log.Error("reload: virtual server", zap.Error(err))
		}
	} else if hc != nil && len(cfg.VirtualServers) > 0 {
		d.log.Warn("reload: virtual servers appeared; the data path starts with the daemon, restart ulvsd to forward them")
	}
	if d.hr != nil && hc != nil {
		if err := d.hr.Apply(ctx, hc); err != nil {
			return fail(fmt.Errorf("reload: checkers: %w", err))
		}
	}
	if d.node != nil && vc != nil {
		if err := d.node.Apply(vc); err != nil {
			return fail(fmt.Errorf("reload: vrrp: %w", err))
		}
		switch ls, sd := d.sync.Load(), cfg.Global.LVSSyncDaemon; {
		case ls != nil && sd == nil:
			ls.set(forward.SyncOff)
			d.sync.Store(nil)
		case ls != nil:
			ls.reload(sd)
		case sd != nil:
			// Added by this reload: a backup, or the master if its
			// instance is master now.
			d.startSync(cfg)
			if ls := d.sync.Load(); ls != nil && d.instanceStatus()[ls.instance].State == vrrp.StateMaster {
				ls.set(forward.SyncMaster)
			}
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

// stop shuts down in keepalived's order: VRRP first (priority 0 adverts,
// VIPs, routes and rules removed, notify_stop), then the checkers (omega
// notifies), then the data path and its kernel guard.
func (d *daemon) stop() {
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

// Handle answers the control socket.
func (d *daemon) Handle(ctx context.Context, req *ctl.Request) *ctl.Response {
	switch req.Op {
	case ctl.OpIPVS:
		if d.lvs == nil {
			return &ctl.Response{IPVS: &ctl.IPVS{Version: "1.2.1", Size: 4096, Backend: d.o.backend}}
		}
		return &ctl.Response{IPVS: d.lvs.view(d.o.backend)}
	case ctl.OpConns:
		if d.lvs == nil {
			return &ctl.Response{}
		}
		return &ctl.Response{Conns: d.lvs.conns()}
	case ctl.OpVRRP:
		return &ctl.Response{VRRP: d.vrrpView()}
	case ctl.OpCheckers:
		cs, err := d.checkerView(ctx)
		if err != nil {
			return &ctl.Response{Error: err.Error()}
		}
		return &ctl.Response{Checkers: cs}
	case ctl.OpEdit:
		if req.Edit == nil {
			return &ctl.Response{Error: "edit: nothing to do"}
		}
		if d.lvs == nil {
			return &ctl.Response{Error: "no data path is running (no virtual_server, or -P)"}
		}
		if err := d.lvs.edit(req.Edit); err != nil {
			return &ctl.Response{Error: err.Error()}
		}
		d.log.Info("runtime edit (until the next reload)", zap.String("cmd", req.Edit.Cmd))
		return &ctl.Response{}
	case ctl.OpStatus:
		return &ctl.Response{Status: d.status()}
	}
	return &ctl.Response{Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

func (d *daemon) status() *ctl.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &ctl.Status{Version: version, ConfigFile: d.o.configFile, Started: d.started.Format(time.RFC3339),
		Reloads: d.reloads, LastError: d.lastErr}
	if !d.lastReload.IsZero() {
		s.LastReload = d.lastReload.Format(time.RFC3339)
	}
	if d.node != nil {
		s.Subsystems = append(s.Subsystems, "vrrp")
	}
	if d.hr != nil {
		s.Subsystems = append(s.Subsystems, "checkers")
	}
	if d.be != nil {
		s.Subsystems = append(s.Subsystems, "forwarding:"+d.o.backend)
	}
	s.Sync = d.sync.Load().status()
	return s
}

func (d *daemon) vrrpView() []ctl.Instance {
	if d.node == nil {
		return nil
	}
	st := d.node.Status()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []ctl.Instance
	for _, in := range st.Instances {
		ci := ctl.Instance{Name: in.Name, Group: in.Group, State: in.State.String(), Interface: in.Interface,
			VRID: in.VRID, Version: in.Version, Priority: in.BasePriority, EffectivePriority: in.EffectivePriority,
			AdvertInt: in.AdverInt.Seconds(), Stats: subStats(in.Stats, d.vrrpBase[in.Name])}
		if in.MasterAddr.IsValid() {
			ci.MasterAddr = in.MasterAddr.String()
		}
		if !in.LastTransition.IsZero() {
			ci.LastTransition = in.LastTransition.Format(time.RFC3339Nano)
		}
		for _, v := range in.VIPs {
			ci.VIPs = append(ci.VIPs, v.String())
		}
		out = append(out, ci)
	}
	return out
}

// subStats removes the counters at the last stats clear. Only the fields
// keepalived's stats dump shows are kept.
func subStats(a, b vrrp.Stats) ctl.VRRPStats {
	return ctl.VRRPStats{
		AdvertRcvd: a.AdvertRcvd - b.AdvertRcvd, AdvertSent: a.AdvertSent - b.AdvertSent,
		BecomeMaster: a.BecomeMaster - b.BecomeMaster, ReleaseMaster: a.ReleaseMaster - b.ReleaseMaster,
		PacketLenErr: a.PacketLenErr - b.PacketLenErr, AdvertIntervalErr: a.AdvertIntervalErr - b.AdvertIntervalErr,
		IPTTLErr: a.IPTTLErr - b.IPTTLErr, InvalidTypeRcvd: a.InvalidTypeRcvd - b.InvalidTypeRcvd,
		AddrListErr: a.AddrListErr - b.AddrListErr, InvalidAuthType: a.InvalidAuthType - b.InvalidAuthType,
		AuthTypeMismatch: a.AuthTypeMismatch - b.AuthTypeMismatch, AuthFailure: a.AuthFailure - b.AuthFailure,
		PriZeroRcvd: a.PriZeroRcvd - b.PriZeroRcvd, PriZeroSent: a.PriZeroSent - b.PriZeroSent,
	}
}

func (d *daemon) checkerView(ctx context.Context) ([]ctl.Checker, error) {
	if d.hr == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := d.hr.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []ctl.Checker
	for _, s := range st {
		for _, r := range s.Reals {
			for _, c := range r.Checkers {
				cc := ctl.Checker{Service: s.Service, Real: health.RSKey(r.Addr), Type: c.Kind.String(), Target: c.Target,
					Up: c.Up, Failures: c.Consecutive, LatencyMS: float64(c.LastLatency.Microseconds()) / 1000,
					Suspended: s.Suspended}
				if !c.LastOK {
					cc.LastError = c.LastReason
				}
				out = append(out, cc)
			}
		}
	}
	return out, nil
}

// clearVRRPStats is SIGRTMAX-1 (keepalived's STATS_CLEAR): the counters
// shown restart from zero.
func (d *daemon) clearVRRPStats() {
	if d.node == nil {
		return
	}
	st := d.node.Status()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, in := range st.Instances {
		d.vrrpBase[in.Name] = in.Stats
	}
}
