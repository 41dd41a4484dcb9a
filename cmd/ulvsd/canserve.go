package main

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/internal/canserve"
	"github.com/ulvs/ulvs/internal/plan"
	"github.com/ulvs/ulvs/vrrp"
)

// canServeCondition names the VRRP condition ulvsd sets while it cannot
// serve (internal/canserve).
const canServeCondition = "ulvs_can_serve"

// startCanServe watches whether this director can serve (its forwarder
// runs, it can open sockets, its connection table takes connections) and
// while it cannot, puts the VRRP instances of its virtual services in FAULT
// (or lowers their priority), so that the backup takes over instead of this
// director holding a VIP that answers nothing. keepalived has no such
// check.
func (d *daemon) startCanServe(ctx context.Context, p *plan.Plan) {
	mode, _ := canserve.ParseMode(d.o.cannotServe) // options checked it
	weight := mode.Weight
	if !mode.On || d.node == nil || d.be == nil {
		return
	}
	probes := []canserve.Probe{canserve.Sockets()}
	if l, ok := d.be.(forward.Liveness); ok {
		probes = append(probes, canserve.Err("forwarder", l.Err))
	}
	if tc, ok := d.be.(forward.TableCounter); ok {
		probes = append(probes, canserve.Table("connection table", func() canserve.TableCounts {
			t := tc.Tables().Conns
			return canserve.TableCounts{Entries: int64(t.Entries), Capacity: int64(t.Capacity), Refused: t.Refused}
		}))
	}
	d.serveWeight = weight
	insts := p.ServiceInstances()
	d.serveInstances.Store(&insts)
	d.canServe = canserve.New(canserve.Config{Probes: probes, OnChange: func(ok bool, reasons []string) {
		action := "FAULT"
		if weight != 0 {
			action = fmt.Sprintf("priority %+d", weight)
		}
		insts := *d.serveInstances.Load()
		if ok {
			d.log.Info("this director can serve again; its VRRP instances leave "+action, zap.Strings("instances", insts))
		} else {
			d.log.Error("this director cannot serve; its VRRP instances go to "+action+" so that a backup takes over (--cannot-serve)",
				zap.String("reason", strings.Join(reasons, "; ")), zap.Strings("instances", insts))
		}
		d.applyCanServe()
	}})
	d.applyCanServe()
	go d.canServe.Run(ctx)
}

// reloadCanServe follows a reload's services and instances.
func (d *daemon) reloadCanServe(p *plan.Plan) {
	if d.canServe == nil {
		return
	}
	insts := p.ServiceInstances()
	d.serveInstances.Store(&insts)
	d.applyCanServe()
}

// applyCanServe sets the VRRP condition from the monitor's verdict.
func (d *daemon) applyCanServe() {
	ok, reasons := d.canServe.Status()
	d.node.SetCondition(vrrp.Condition{Name: canServeCondition, Failed: !ok, Reason: strings.Join(reasons, "; "),
		Weight: d.serveWeight, Instances: *d.serveInstances.Load()})
}

// cannotServe is why this director cannot serve (nil when it can, or when
// nothing watches).
func (d *daemon) cannotServe() []string {
	if d.canServe == nil {
		return nil
	}
	_, reasons := d.canServe.Status()
	return reasons
}
