package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/ipvs"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/lvs"
)

// tableSize is the connection table size ulvsadm shows while no data path
// runs: the one the backend would have.
func (o *options) tableSize() int {
	if o.backend == forward.BackendIPVS {
		return ipvs.DefaultTableSize
	}
	return o.maxConns
}

// Handle answers the control socket.
func (d *daemon) Handle(ctx context.Context, req *ctl.Request) *ctl.Response {
	switch req.Op {
	case ctl.OpIPVS:
		if d.lvs == nil {
			return &ctl.Response{IPVS: &ctl.IPVS{Version: lvs.IPVSVersion, Size: d.o.tableSize(), Backend: d.o.backend}}
		}
		return &ctl.Response{IPVS: d.lvs.View(d.o.backend)}
	case ctl.OpConns:
		if d.lvs == nil {
			return &ctl.Response{}
		}
		return &ctl.Response{Conns: d.lvs.Conns()}
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
		if err := d.lvs.Edit(req.Edit); err != nil {
			return &ctl.Response{Error: err.Error()}
		}
		d.log.Info("runtime edit (until the next reload)", zap.String("cmd", req.Edit.Cmd))
		return &ctl.Response{}
	case ctl.OpStatus:
		return &ctl.Response{Status: d.status()}
	case ctl.OpBGP:
		v := d.bgpView()
		if v == nil {
			return &ctl.Response{Error: "bgp: not running (start ulvsd with --bgp FILE)"}
		}
		return &ctl.Response{BGP: v}
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
	s.Sync = d.sync.Load().Status()
	s.CannotServe = d.cannotServe()
	if r, ok := d.be.(forward.IOReporter); ok {
		for _, x := range r.IO() {
			line := fmt.Sprintf("%s: %s (%s, %d workers)", x.Interface, x.IO, x.Mode, x.Workers)
			if x.Reason != "" {
				line += "; AF_XDP not available: " + x.Reason
			}
			s.IO = append(s.IO, line)
		}
	}
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
			AdvertInt: in.AdverInt.Seconds(), Stats: in.Stats.Sub(d.vrrpBase[in.Name])}
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
