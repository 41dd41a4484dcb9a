package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/lvs"
	"github.com/ulvs/ulvs/vrrp"
)

// Options say what of a configuration runs here.
type Options struct {
	// VRRP and Checks say which subsystems run: -P runs VRRP only, -C the
	// checkers and forwarding only.
	VRRP, Checks bool
}

// Plan is a configuration translated for every subsystem that runs.
type Plan struct {
	Config *conf.Config
	// Health is the checkers' configuration (nil when they do not run).
	Health *health.Config
	// Dispatcher is the notify FIFOs' and smtp_alert's settings for the
	// checkers (without a Logger).
	Dispatcher health.DispatcherConfig
	// Services are the virtual servers to forward: those that translate
	// (the others have a warning). Empty when the checkers do not run.
	Services []*lvs.Service
	// Timeouts are lvs_timeouts (zero: not set).
	Timeouts forward.Timeouts
	// Owners maps every address of a VRRP instance (virtual_ipaddress and
	// virtual_ipaddress_excluded) to the instance.
	Owners map[netip.Addr]string
	// VRRP is the instances' configuration, without Logger, Network,
	// System and hooks (nil when VRRP does not run).
	VRRP *vrrp.Config
	// Sync is lvs_sync_daemon (nil without one, or when it cannot run
	// here: a warning says why).
	Sync *lvs.SyncSpec
}

// Error is a translation problem at a line of the configuration.
type Error struct {
	Pos conf.Pos
	Err error
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

func errAt(pos conf.Pos, format string, args ...any) error {
	return &Error{Pos: pos, Err: fmt.Errorf(format, args...)}
}

// Build translates cfg for the subsystems opts runs. The diagnostics are
// at the configuration's lines; with an error among them the configuration
// must not run, and the Plan is incomplete.
func Build(cfg *conf.Config, opts Options) (*Plan, conf.Diagnostics) {
	p := &Plan{Config: cfg, Owners: owners(cfg)}
	var ds conf.Diagnostics
	add := func(sev conf.Severity, fallback conf.Pos, err error) {
		d := conf.Diagnostic{Pos: fallback, Severity: sev, Msg: err.Error()}
		if pe := (*Error)(nil); errors.As(err, &pe) {
			d.Pos, d.Msg = pe.Pos, pe.Err.Error()
		}
		ds = append(ds, d)
	}
	if opts.Checks {
		hc, errs := healthConfig(cfg)
		for _, err := range errs {
			add(conf.Error, firstPos(cfg), err)
		}
		if len(errs) == 0 {
			if pos, err := checkHealth(cfg, hc); err != nil {
				add(conf.Error, pos, err)
			} else {
				p.Health = hc
			}
		}
		p.Dispatcher = dispatcherConfig(cfg)
		var serrs []error
		p.Services, serrs = services(cfg)
		for _, err := range serrs {
			add(conf.Warning, firstPos(cfg), fmt.Errorf("not forwarded: %w", err))
		}
		if t := cfg.Global.LVSTimeouts; t != (conf.LVSTimeouts{}) {
			p.Timeouts = forward.Timeouts{TCP: t.TCP, TCPFin: t.TCPFin, UDP: t.UDP}
		}
	}
	if opts.VRRP {
		vc, errs := vrrpConfig(cfg)
		for _, err := range errs {
			add(conf.Error, firstPos(cfg), err)
		}
		if len(errs) == 0 {
			if err := vrrp.Validate(vc); err != nil {
				add(conf.Error, instancePos(cfg, err.Error()), err)
			} else {
				p.VRRP = vc
			}
		}
	}
	if sd := cfg.Global.LVSSyncDaemon; sd != nil && opts.Checks {
		switch {
		case !opts.VRRP:
			add(conf.Warning, sd.Pos, errors.New("lvs_sync_daemon: follows a VRRP instance, and VRRP does not run here (-C)"))
		case sd.Instance == "":
			add(conf.Warning, sd.Pos, errors.New("lvs_sync_daemon: no VRRP instance named; not started"))
		default:
			p.Sync = &lvs.SyncSpec{Config: syncConfig(sd), Instance: sd.Instance}
		}
	}
	return p, ds
}

// checkHealth runs health's own checks of hc, as health.New does at
// start-up. A problem is placed at the first virtual server that has it
// on its own.
func checkHealth(cfg *conf.Config, hc *health.Config) (conf.Pos, error) {
	_, err := health.New(hc, lvs.Discard{}, health.Options{})
	if err == nil {
		return conf.Pos{}, nil
	}
	for i, vs := range cfg.VirtualServers {
		one := *hc
		one.Services = hc.Services[i : i+1]
		if _, err := health.New(&one, lvs.Discard{}, health.Options{}); err != nil {
			return vs.Pos, err
		}
	}
	return firstPos(cfg), err
}

// instancePos is the position of the vrrp_instance msg names first (vrrp's
// messages name instances), or of the first instance.
func instancePos(cfg *conf.Config, msg string) conf.Pos {
	best, at := -1, firstPos(cfg)
	for _, in := range cfg.Instances {
		loc := regexp.MustCompile(`\b` + regexp.QuoteMeta(in.Name) + `\b`).FindStringIndex(msg)
		if loc != nil && (best < 0 || loc[0] < best) {
			best, at = loc[0], in.Pos
		}
	}
	if best < 0 && len(cfg.Instances) > 0 {
		at = cfg.Instances[0].Pos
	}
	return at
}

// firstPos is the configuration's first line, for a problem that has no
// line of its own.
func firstPos(cfg *conf.Config) conf.Pos {
	if len(cfg.Files) > 0 {
		return conf.Pos{File: cfg.Files[0], Line: 1}
	}
	return conf.Pos{Line: 1}
}

// owners maps every virtual_ipaddress (and excluded one) to its instance.
func owners(cfg *conf.Config) map[netip.Addr]string {
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

// ServiceInstances are the VRRP instances holding an address of a virtual
// service, sorted: those that must give up mastership while this director
// cannot serve (internal/canserve).
func (p *Plan) ServiceInstances() []string {
	var out []string
	for _, s := range p.Services {
		for _, c := range s.Configs {
			if in, ok := p.Owners[c.Key.Addr]; ok && !slices.Contains(out, in) {
				out = append(out, in)
			}
		}
	}
	slices.Sort(out)
	return out
}
