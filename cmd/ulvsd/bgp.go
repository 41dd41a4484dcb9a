package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/plan"
	"github.com/ulvs/ulvs/route"
)

// BGP: with --bgp FILE, ulvsd announces the prefixes the file names while
// this director can serve them (route.Decide), so that N directors can be
// active behind an ECMP router. This file wires conf's BGP file, route's
// speaker and the policy's inputs (forwarder, checkers, VRRP).

// bgpPolicyPeriod is how often the announce policy is evaluated.
const bgpPolicyPeriod = 100 * time.Millisecond

// loadBGP reads and checks the BGP file against cfg; it returns the file,
// each prefix's virtual servers, and every message.
func loadBGP(o *options, cfg *conf.Config) (*conf.BGP, [][]*conf.VirtualServer, conf.Diagnostics, error) {
	b, diags, err := conf.LoadBGP(o.bgpFile, loadOptions(o))
	if b == nil {
		return nil, nil, diags, err
	}
	vss, cd := conf.CheckBGP(b, cfg)
	diags = append(diags, cd...)
	if err == nil && cd.HasErrors() {
		err = &conf.ConfigError{Diags: diags}
	}
	return b, vss, diags, err
}

// kernelIPVS reports whether kernel IPVS forwards (--backend ipvs).
func (o *options) kernelIPVS() bool { return o.backend == forward.BackendIPVS }

// bgpState is the running BGP side of the daemon.
type bgpState struct {
	sp  *route.Speaker
	log *zap.Logger

	mu       sync.Mutex
	cfg      *conf.BGP
	vss      [][]*conf.VirtualServer
	stopping bool
	// last decision per prefix, to log only changes.
	last map[netip.Prefix]string

	cancel context.CancelFunc
	done   chan struct{}
}

// startBGP starts the speaker and the policy loop.
func (d *daemon) startBGP(b *conf.BGP, vss [][]*conf.VirtualServer) error {
	sp, err := route.Start(&route.Config{RouterID: b.RouterID, LocalAS: b.LocalAS, ListenPort: b.ListenPort,
		Logger: d.log.Named("bgp")})
	if err != nil {
		return err
	}
	if err := sp.SetNeighbors(plan.Neighbors(b)); err != nil {
		sp.Stop()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	bs := &bgpState{sp: sp, log: d.log.Named("bgp"), cfg: b, vss: vss, last: map[netip.Prefix]string{},
		cancel: cancel, done: make(chan struct{})}
	d.bgp = bs
	go func() {
		defer close(bs.done)
		t := time.NewTicker(bgpPolicyPeriod)
		defer t.Stop()
		for {
			d.evaluateBGP(ctx)
			select {
			case <-ctx.Done():
				return
			case <-sp.Events():
				// The speaker logs its events; a change is a reason to
				// look again at once.
			case <-t.C:
			}
		}
	}()
	return nil
}

// policyInputs gathers what route.Decide looks at for prefix i.
func (d *daemon) policyInputs(ctx context.Context, bs *bgpState, i int, hs map[string]health.ServiceStatus) route.Inputs {
	p := bs.cfg.Prefixes[i]
	in := route.Inputs{Stopping: bs.stopping, Forwarding: d.be != nil}
	if f := bs.cfg.MaintenanceFile; f != "" {
		if _, err := os.Stat(f); err == nil {
			in.Maintenance = "maintenance file " + f + " exists"
		}
	}
	in.Services, in.HealthReady = plan.PrefixHealth(p, bs.vss[i], hs)
	if p.TrackInstance != "" {
		in.Track = p.TrackInstance
		if d.node != nil {
			if s, ok := d.instanceStatus()[p.TrackInstance]; ok {
				in.TrackState = s.State.String()
			}
		}
	}
	return in
}

// evaluateBGP runs the policy over every prefix and announces or withdraws.
func (d *daemon) evaluateBGP(ctx context.Context) {
	bs := d.bgp
	hs := map[string]health.ServiceStatus{}
	bs.mu.Lock()
	stopping := bs.stopping
	bs.mu.Unlock()
	if d.hr != nil && !stopping {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := d.hr.Status(hctx)
		cancel()
		if err != nil {
			// No news from the checkers is no reason to withdraw (nor to
			// announce): decide again next round.
			d.bgp.log.Debug("bgp policy: checkers' status not read", zap.Error(err))
			return
		}
		for _, s := range st {
			hs[s.Service] = s
		}
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for i, p := range bs.cfg.Prefixes {
		announce, reason := route.Decide(d.policyInputs(ctx, bs, i, hs))
		var err error
		if announce {
			err = bs.sp.Announce(route.Announcement{Prefix: p.Prefix, MED: p.MED, MEDSet: p.MEDSet, Communities: p.Communities}, reason)
		} else {
			err = bs.sp.Withdraw(p.Prefix, reason)
		}
		if err != nil && bs.last[p.Prefix] != "error" {
			bs.log.Error("bgp policy not applied", zap.Stringer("prefix", p.Prefix), zap.Error(err))
			bs.last[p.Prefix] = "error"
		} else if err == nil {
			bs.last[p.Prefix] = reason
		}
	}
}

// reloadBGP applies a reloaded BGP file: neighbours as a difference, and
// prefixes no longer configured withdrawn.
func (d *daemon) reloadBGP(b *conf.BGP, vss [][]*conf.VirtualServer) error {
	bs := d.bgp
	if bs == nil {
		return fmt.Errorf("the BGP speaker starts with the daemon: restart ulvsd to announce")
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b.RouterID != bs.cfg.RouterID || b.LocalAS != bs.cfg.LocalAS || b.ListenPort != bs.cfg.ListenPort {
		d.log.Warn("reload: bgp router_id, local_as and listen_port take effect at the next start; the rest is applied",
			zap.String("at", b.Pos.String()))
		b.RouterID, b.LocalAS, b.ListenPort = bs.cfg.RouterID, bs.cfg.LocalAS, bs.cfg.ListenPort
	}
	if err := bs.sp.SetNeighbors(plan.Neighbors(b)); err != nil {
		return err
	}
	keep := map[netip.Prefix]bool{}
	for _, p := range b.Prefixes {
		keep[p.Prefix] = true
	}
	for _, p := range bs.cfg.Prefixes {
		if !keep[p.Prefix] {
			if err := bs.sp.Forget(p.Prefix); err != nil {
				return err
			}
			delete(bs.last, p.Prefix)
		}
	}
	bs.cfg, bs.vss = b, vss
	return nil
}

// shutdownBGP withdraws every prefix, keeps forwarding for the grace period
// so routers move flows away first, then closes the sessions.
func (d *daemon) shutdownBGP() {
	bs := d.bgp
	if bs == nil {
		return
	}
	bs.mu.Lock()
	bs.stopping = true
	grace := bs.cfg.Grace
	bs.mu.Unlock()
	d.evaluateBGP(context.Background())
	bs.log.Info("prefixes withdrawn; forwarding goes on for the grace period", zap.Duration("grace", grace))
	time.Sleep(grace)
	bs.cancel()
	<-bs.done
	bs.sp.Stop()
}

// bgpView is what ulvsadm bgp shows.
func (d *daemon) bgpView() *ctl.BGP {
	bs := d.bgp
	if bs == nil {
		return nil
	}
	st := bs.sp.Status()
	v := &ctl.BGP{RouterID: st.RouterID.String(), LocalAS: st.LocalAS}
	for _, n := range st.Neighbors {
		cn := ctl.BGPNeighbor{Addr: n.Addr.String(), RemoteAS: n.RemoteAS, State: n.State, Since: stamp(n.Since),
			LastDown: n.LastDown, Flaps: n.Flaps, HoldTime: n.HoldTime.Seconds(), BFD: n.BFD, BFDSince: stamp(n.BFDSince),
			BFDFailures: n.BFDFailures}
		if n.BFDInterval > 0 {
			cn.BFDDetect = fmt.Sprintf("%v × %d", n.BFDInterval, n.BFDMult)
		}
		v.Neighbors = append(v.Neighbors, cn)
	}
	bs.mu.Lock()
	vsOf := map[netip.Prefix][]string{}
	single := map[netip.Prefix]bool{}
	for i, p := range bs.cfg.Prefixes {
		for _, vs := range bs.vss[i] {
			vsOf[p.Prefix] = append(vsOf[p.Prefix], plan.BGPServiceName(vs))
		}
		single[p.Prefix] = p.Single
	}
	bs.mu.Unlock()
	for _, p := range st.Prefixes {
		cp := ctl.BGPPrefix{Prefix: p.Prefix.String(), Announced: p.Announced, Since: stamp(p.Since), Reason: p.Reason,
			VirtualServers: vsOf[p.Prefix], Directors: "multi", Announces: p.Announces, Withdraws: p.Withdraws}
		if single[p.Prefix] {
			cp.Directors = "single"
		}
		if p.MED != nil {
			cp.MED = *p.MED
		}
		v.Prefixes = append(v.Prefixes, cp)
	}
	return v
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}
