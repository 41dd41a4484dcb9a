package main

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/ipvsfmt"
)

// lvs connects health's pool decisions and ulvsadm's edits to a forward
// Backend, as keepalived's checker process drives IPVS. It owns which real
// servers health put in each service, so that a reload replaces runtime
// edits made with ulvsadm (as a keepalived reload does to ipvsadm's).
type lvs struct {
	mu  sync.Mutex
	be  forward.Backend
	log *zap.Logger
	// size is shown by ulvsadm as ipvsadm's "(size=N)".
	size int

	byName map[string]*lvsService
	// managed[name][addr] is the weight health last gave a destination.
	managed map[string]map[netip.AddrPort]int32
	// followVRRP is set for the userspace data path: its tap sees frames
	// whatever the kernel owns, so a backup must not forward. Kernel IPVS
	// only sees packets to local addresses, and keepalived leaves a
	// backup's services in place; so does ulvs with --backend ipvs.
	followVRRP bool
	// vips are the addresses whose services follow VRRP, with their state.
	vips map[netip.Addr]bool
	// base holds counters at the last -Z, subtracted from what is shown.
	base map[forward.ServiceKey]baseline
}

type baseline struct {
	svc   forward.Stats
	reals map[netip.AddrPort]forward.Stats
}

var _ health.Sink = (*lvs)(nil)

func newLVS(be forward.Backend, size int, followVRRP bool, log *zap.Logger) *lvs {
	return &lvs{be: be, size: size, log: log, followVRRP: followVRRP, byName: map[string]*lvsService{},
		managed: map[string]map[netip.AddrPort]int32{}, vips: map[netip.Addr]bool{},
		base: map[forward.ServiceKey]baseline{}}
}

// apply makes the backend's services those of svcs: new services are added,
// changed ones updated (keeping connections), and services no longer
// configured (or added at runtime by ulvsadm) deleted. Real servers are
// health's business and come through the Sink; runtime ones not put there
// by health are removed.
func (l *lvs) apply(svcs []*lvsService) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	want := map[forward.ServiceKey]forward.ServiceConfig{}
	owner := map[forward.ServiceKey]*lvsService{}
	byName := map[string]*lvsService{}
	for _, s := range svcs {
		byName[s.name] = s
		for _, c := range s.cfgs {
			want[c.Key] = c
			owner[c.Key] = s
		}
	}
	have := map[forward.ServiceKey]forward.ServiceStatus{}
	for _, st := range l.be.Services() {
		have[st.Config.Key] = st
	}
	for k, c := range want {
		old, ok := have[k]
		switch {
		case !ok:
			if err := l.be.AddService(c); err != nil {
				errs = append(errs, fmt.Errorf("%s: virtual_server %s: %w", owner[k].vs.Pos, k, err))
				continue
			}
			if enabled, follows := l.vips[k.Addr]; follows {
				if err := l.be.SetVIP(k.Addr, enabled); err != nil {
					errs = append(errs, err)
				}
			}
		case !sameService(old.Config, c):
			if err := l.be.UpdateService(c); err != nil {
				errs = append(errs, fmt.Errorf("%s: virtual_server %s: %w", owner[k].vs.Pos, k, err))
			}
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			if err := l.be.DeleteService(k); err != nil && !errors.Is(err, forward.ErrNotFound) {
				errs = append(errs, fmt.Errorf("delete virtual service %s: %w", k, err))
			}
			delete(l.base, k)
		}
	}
	for name := range l.managed {
		if byName[name] == nil {
			delete(l.managed, name)
		}
	}
	l.byName = byName
	// Real servers health did not put there (ulvsadm -a) go; those it did
	// get back the weight and settings health gave them (ulvsadm -e).
	for _, st := range l.be.Services() {
		s := owner[st.Config.Key]
		if s == nil {
			continue
		}
		for _, r := range st.Reals {
			ap := netip.AddrPortFrom(r.Config.Addr, r.Config.Port)
			w, ok := l.managed[s.name][ap]
			if !ok {
				if err := l.be.DeleteReal(st.Config.Key, ap); err != nil && !errors.Is(err, forward.ErrNotFound) {
					errs = append(errs, err)
				}
				continue
			}
			want := s.realConfig(health.Dest{Addr: ap, Weight: int64(w)})
			if !sameReal(r.Config, want) {
				if err := l.be.UpdateReal(st.Config.Key, want); err != nil {
					errs = append(errs, fmt.Errorf("%s %s: %w", st.Config.Key, ap, err))
				}
			}
		}
	}
	return errs
}

func sameReal(a, b forward.RealConfig) bool {
	return a.Weight == b.Weight && a.UThreshold == b.UThreshold && a.LThreshold == b.LThreshold &&
		(!b.MethodSet || a.Method == b.Method)
}

func sameService(a, b forward.ServiceConfig) bool {
	return a.Key == b.Key && a.Scheduler == b.Scheduler && a.SchedFlags == b.SchedFlags &&
		a.Persistence == b.Persistence && a.Granularity == b.Granularity && a.OnePacket == b.OnePacket &&
		a.Method == b.Method && (a.Sorry == nil) == (b.Sorry == nil)
}

// realConfig is what the data path gets for a destination health adds.
func (s *lvsService) realConfig(d health.Dest) forward.RealConfig {
	rc, ok := s.reals[d.Addr]
	if !ok {
		rc = forward.RealConfig{Addr: d.Addr.Addr(), Port: d.Addr.Port()}
	}
	rc.Weight = clampWeight(d.Weight)
	return rc
}

func (l *lvs) sinkOp(service string, d health.Dest, op string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.byName[service]
	if s == nil {
		return fmt.Errorf("ulvsd: health named an unknown service %s", service)
	}
	rc := s.realConfig(d)
	var errs []error
	for _, c := range s.cfgs {
		var err error
		switch op {
		case "add":
			err = l.be.AddReal(c.Key, rc)
			if errors.Is(err, forward.ErrExists) {
				err = l.be.UpdateReal(c.Key, rc)
			}
		case "update":
			err = l.be.UpdateReal(c.Key, rc)
			if errors.Is(err, forward.ErrNotFound) {
				err = l.be.AddReal(c.Key, rc)
			}
		case "remove":
			err = l.be.DeleteReal(c.Key, d.Addr)
			if errors.Is(err, forward.ErrNotFound) {
				err = nil
			}
		}
		if err != nil && !errors.Is(err, forward.ErrUnsupported) {
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Key, d.Addr, err))
		}
	}
	m := l.managed[service]
	if m == nil {
		m = map[netip.AddrPort]int32{}
		l.managed[service] = m
	}
	if op == "remove" {
		delete(m, d.Addr)
	} else {
		m[d.Addr] = rc.Weight
	}
	return errors.Join(errs...)
}

// AddDest implements health.Sink.
func (l *lvs) AddDest(service string, d health.Dest) error { return l.sinkOp(service, d, "add") }

// UpdateDest implements health.Sink.
func (l *lvs) UpdateDest(service string, d health.Dest) error { return l.sinkOp(service, d, "update") }

// RemoveDest implements health.Sink.
func (l *lvs) RemoveDest(service string, d health.Dest) error { return l.sinkOp(service, d, "remove") }

// follow makes the services on addr follow a VRRP instance: enabled only
// while it is master. Addresses no instance owns stay enabled, and so does
// everything when the backend does not follow VRRP.
func (l *lvs) follow(addr netip.Addr, enabled bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.followVRRP {
		return nil
	}
	l.vips[addr] = enabled
	return l.be.SetVIP(addr, enabled)
}

// own makes the services of the addresses VRRP instances own follow them
// (at start and on reload): an address newly owned starts disabled — its
// instance enables it through follow when it is, or becomes, master — and
// an address no instance owns any more forwards again.
func (l *lvs) own(owned map[netip.Addr]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.followVRRP {
		return
	}
	for a := range l.vips {
		if _, ok := owned[a]; !ok {
			delete(l.vips, a)
			_ = l.be.SetVIP(a, true)
		}
	}
	for a := range owned {
		if _, ok := l.vips[a]; !ok {
			l.vips[a] = false
			_ = l.be.SetVIP(a, false)
		}
	}
}

// zero is ipvsadm -Z: counters restart from zero in every view.
func (l *lvs) zero() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range l.be.Services() {
		b := baseline{svc: st.Stats, reals: map[netip.AddrPort]forward.Stats{}}
		for _, r := range st.Reals {
			b.reals[netip.AddrPortFrom(r.Config.Addr, r.Config.Port)] = r.Stats
		}
		l.base[st.Config.Key] = b
	}
}

func minus(a, b forward.Stats) ctl.Stats {
	sub := func(x, y uint64) uint64 {
		if x < y {
			return x
		}
		return x - y
	}
	return ctl.Stats{Conns: sub(a.Conns, b.Conns), InPkts: sub(a.InPkts, b.InPkts), OutPkts: sub(a.OutPkts, b.OutPkts),
		InBytes: sub(a.InBytes, b.InBytes), OutBytes: sub(a.OutBytes, b.OutBytes)}
}

// view is the table as ulvsadm -Ln reads it, counters counted from the
// last -Z.
func (l *lvs) view(backend string) *ctl.IPVS {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := &ctl.IPVS{Version: "1.2.1", Size: l.size, Backend: backend}
	for _, st := range l.be.Services() {
		s := ipvsfmt.Service(st)
		b := l.base[st.Config.Key]
		s.Stats = minus(st.Stats, b.svc)
		for i, r := range st.Reals {
			s.Dests[i].Stats = minus(r.Stats, b.reals[netip.AddrPortFrom(r.Config.Addr, r.Config.Port)])
		}
		t.Services = append(t.Services, s)
	}
	return t
}

// conns is the connection table as ulvsadm -Lnc reads it.
func (l *lvs) conns() []ctl.Conn {
	var out []ctl.Conn
	for _, c := range l.be.Conns() {
		p := ipvsfmt.ProtoWords[c.Proto]
		if p == "" {
			p = "IP"
		}
		out = append(out, ctl.Conn{Proto: p, Expires: int(c.Expires.Seconds()), State: c.State,
			Source: c.Client, Virtual: c.Virtual, Dest: c.Real})
	}
	return out
}

// edit applies an ipvsadm-style runtime edit. It lasts until the next
// reload, as ipvsadm edits under keepalived do.
func (l *lvs) edit(e *ctl.Edit) error {
	if e.Cmd == ctl.EditZero {
		l.zero()
		return nil
	}
	if e.Cmd == ctl.EditTimeout {
		if e.Timeouts == nil {
			return errors.New("set: no timeouts")
		}
		t := e.Timeouts
		return l.be.SetTimeouts(forward.Timeouts{TCP: seconds(t.TCP), TCPFin: seconds(t.TCPFin), UDP: seconds(t.UDP)})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Cmd == ctl.EditClear {
		var errs []error
		for _, st := range l.be.Services() {
			errs = append(errs, l.be.DeleteService(st.Config.Key))
		}
		return errors.Join(errs...)
	}
	if e.Service == nil {
		return fmt.Errorf("-%s needs a virtual service (-t, -u or -f)", e.Cmd)
	}
	key, cfg, err := serviceFromSpec(e.Service)
	if err != nil {
		return err
	}
	switch e.Cmd {
	case ctl.EditAddService:
		return l.be.AddService(cfg)
	case ctl.EditEditService:
		return l.be.UpdateService(cfg)
	case ctl.EditDelService:
		return l.be.DeleteService(key)
	}
	if e.Dest == nil {
		return fmt.Errorf("-%s needs a real server (-r)", e.Cmd)
	}
	rc, err := realFromSpec(e.Dest)
	if err != nil {
		return err
	}
	switch e.Cmd {
	case ctl.EditAddDest:
		return l.be.AddReal(key, rc)
	case ctl.EditEditDest:
		return l.be.UpdateReal(key, rc)
	case ctl.EditDelDest:
		return l.be.DeleteReal(key, netip.AddrPortFrom(rc.Addr, rc.Port))
	}
	return fmt.Errorf("unknown edit -%s", e.Cmd)
}

func serviceFromSpec(s *ctl.ServiceSpec) (forward.ServiceKey, forward.ServiceConfig, error) {
	var k forward.ServiceKey
	if s.FWMark != 0 {
		k = forward.ServiceKey{FWMark: s.FWMark, Addr: familyAddr(map[bool]string{true: "inet6"}[s.IPv6])}
	} else {
		p, ok := protoNums[s.Proto]
		if !ok || !s.Addr.IsValid() {
			return k, forward.ServiceConfig{}, fmt.Errorf("bad virtual service %s %s:%d", s.Proto, s.Addr, s.Port)
		}
		k = forward.ServiceKey{Addr: s.Addr, Port: s.Port, Proto: p}
	}
	sched := s.Sched
	if sched == "" {
		sched = "wlc"
	}
	c := forward.ServiceConfig{Key: k, Scheduler: sched, SchedFlags: s.Flags &^ (ctl.FlagPersistent | ctl.FlagOnePacket | ctl.FlagHashed),
		Granularity: s.Netmask, OnePacket: s.Flags&ctl.FlagOnePacket != 0, Method: forward.NAT}
	if s.Flags&ctl.FlagPersistent != 0 {
		c.Persistence = seconds(int(s.Timeout))
	}
	return k, c, nil
}

func realFromSpec(d *ctl.DestSpec) (forward.RealConfig, error) {
	rc := forward.RealConfig{Addr: d.Addr, Port: d.Port, Weight: clampWeight(int64(d.Weight)),
		UThreshold: d.UThreshold, LThreshold: d.LThreshold}
	if d.Method != "" {
		for m, w := range ipvsfmt.MethodWords {
			if w == d.Method && m != forward.Local {
				rc.Method, rc.MethodSet = m, true
			}
		}
		if !rc.MethodSet {
			return rc, fmt.Errorf("unknown forwarding method %q", d.Method)
		}
	}
	return rc, nil
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }
