package health

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/script"
)

// keepalived's defaults (check_data.c alloc_vs, check_api.c).
const (
	defaultDelayLoop      = 60 * time.Second
	defaultConnectTimeout = 5 * time.Second
)

// build validates cfg and turns it into services with their real servers
// and (not yet started) checkers. It changes nothing in the runner.
func (r *Runner) build(cfg *Config) ([]*vsState, error) {
	seen := map[string]bool{}
	var out []*vsState
	for i := range cfg.Services {
		v := &cfg.Services[i]
		vs, err := r.buildVS(cfg, v)
		if err != nil {
			return nil, err
		}
		if seen[vs.key] {
			return nil, fmt.Errorf("health: virtual server %s defined twice", vs.key)
		}
		seen[vs.key] = true
		out = append(out, vs)
	}
	return out, nil
}

func (r *Runner) buildVS(cfg *Config, v *VirtualServer) (*vsState, error) {
	if !v.Addr.IsValid() && v.FWMark == 0 && v.Group == "" {
		return nil, errors.New("health: virtual server without address, fwmark or group")
	}
	switch v.Protocol {
	case "", TCP, UDP, SCTP:
	default:
		return nil, fmt.Errorf("health: virtual server %s: unknown protocol %q", v.Key(), v.Protocol)
	}
	key := v.Key()
	vs := &vsState{
		key:        key,
		cfg:        v,
		quorum:     v.Quorum,
		hysteresis: v.Hysteresis,
		omega:      v.Omega,
		smtpAlert:  boolOr(true, v.SMTPAlert, cfg.SMTPAlert),
		log:        r.log.With(zap.String("service", key)),
	}
	if vs.quorum <= 0 {
		vs.quorum = 1
	}
	if vs.hysteresis < 0 {
		return nil, fmt.Errorf("health: virtual server %s: negative hysteresis", key)
	}
	var err error
	if vs.quorumUpScript, err = r.prepare(cfg, v.QuorumUp, key, "quorum_up"); err != nil {
		return nil, err
	}
	if vs.quorumDownScript, err = r.prepare(cfg, v.QuorumDown, key, "quorum_down"); err != nil {
		return nil, err
	}
	seen := map[netip.AddrPort]bool{}
	for i := range v.Reals {
		rs, err := r.buildRS(cfg, v, &v.Reals[i], vs)
		if err != nil {
			return nil, err
		}
		if seen[rs.addr] {
			return nil, fmt.Errorf("health: virtual server %s: real server %s defined twice", key, rs.key)
		}
		seen[rs.addr] = true
		vs.reals = append(vs.reals, rs)
	}
	if v.SorryServer.IsValid() {
		vs.sorry = &rsState{addr: v.SorryServer, key: RSKey(v.SorryServer), iweight: 1, effWeight: 1,
			inhibit: v.SorryServerInhibit, sorry: true}
		vs.sorryIsRS = seen[v.SorryServer]
	}
	return vs, nil
}

// prepare resolves a notify script against the script policy. A script
// that cannot run stays configured but disabled, as in keepalived.
func (r *Runner) prepare(cfg *Config, spec script.Spec, where, what string) (*script.Script, error) {
	if len(spec.Argv) == 0 {
		return nil, nil
	}
	s, err := cfg.Scripts.Prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("health: %s: %s: %w", where, what, err)
	}
	if s.Insecure != "" {
		r.log.Warn(s.Insecure, zap.String("where", where), zap.String("script", what))
	}
	if s.Disabled != nil {
		r.log.Warn("script disabled", zap.String("where", where), zap.String("script", what), zap.Error(s.Disabled))
	}
	return s, nil
}

func (r *Runner) buildRS(cfg *Config, v *VirtualServer, rc *RealServer, vs *vsState) (*rsState, error) {
	if !rc.Addr.Addr().IsValid() {
		return nil, fmt.Errorf("health: virtual server %s: real server without address", vs.key)
	}
	rs := &rsState{
		addr:      rc.Addr,
		key:       RSKey(rc.Addr),
		iweight:   rc.Weight,
		effWeight: rc.Weight,
		inhibit:   boolOr(v.InhibitOnFailure, rc.InhibitOnFailure),
		smtpAlert: boolOr(true, rc.SMTPAlert, v.SMTPAlert, cfg.SMTPAlert),
	}
	where := vs.key + " " + rs.key
	var err error
	if rs.notifyUp, err = r.prepare(cfg, rc.NotifyUp, where, "notify_up"); err != nil {
		return nil, err
	}
	if rs.notifyDown, err = r.prepare(cfg, rc.NotifyDown, where, "notify_down"); err != nil {
		return nil, err
	}
	for i := range rc.Checks {
		chk := &rc.Checks[i]
		spec, ok := kinds[chk.Kind]
		if !ok {
			return nil, fmt.Errorf("health: %s: checker #%d: unknown checker kind %d", where, i+1, chk.Kind)
		}
		conns := []ConnOpts{chk.Conn}
		if spec.conns != nil {
			conns = spec.conns(chk)
		}
		for _, co := range conns {
			c, err := r.buildChecker(cfg, v, rc, chk, spec, co)
			if err != nil {
				return nil, fmt.Errorf("health: %s: %s #%d: %w", where, chk.Kind, i+1, err)
			}
			c.vs, c.rs = vs, rs
			if c.spec.file != nil {
				c.fileStatus = fileStatus(c.last.value, c.spec.file.Weight, c.spec.file.Reverse)
				c.st.hasRun = true
				if c.fileStatus == fileFault {
					setCheckerState(c, false)
				}
				if c.spec.file.Weight != 0 {
					rs.effWeight += c.fileStatus
				}
			}
			rs.checkers = append(rs.checkers, c)
		}
	}
	return rs, nil
}

func (r *Runner) buildChecker(cfg *Config, v *VirtualServer, rc *RealServer, chk *Check, spec kindSpec, co ConnOpts) (*checker, error) {
	t := resolveTiming(spec, &chk.Timing, &rc.Timing, &v.Timing)
	conn := Conn{
		Dst:   netip.AddrPortFrom(rc.Addr.Addr(), rc.Addr.Port()),
		Src:   netip.AddrPortFrom(co.BindAddr, co.BindPort),
		Iface: co.BindIface,
		Mark:  co.Mark,
	}
	if co.Addr.IsValid() {
		conn.Dst = netip.AddrPortFrom(co.Addr, conn.Dst.Port())
	}
	if co.Port != 0 {
		conn.Dst = netip.AddrPortFrom(conn.Dst.Addr(), co.Port)
	}
	if conn.Dst.Port() == 0 {
		if spec.needPort {
			return nil, errors.New("no port to check: set connect_port")
		}
		conn.Dst = netip.AddrPortFrom(conn.Dst.Addr(), spec.port)
	}
	c := &checker{
		kind:  chk.Kind,
		alpha: boolOr(v.Alpha, rc.Alpha, chk.Alpha),
		spec:  checkSpec{t: t, logAll: boolOr(false, chk.LogAllFailures)},
		st:    newCkState(false),
		name:  chk.Kind.String() + " " + RSKey(conn.Dst),
	}
	p, err := spec.build(&probeArgs{kind: spec.name, r: r, cfg: cfg, v: v, rc: rc, chk: chk, conn: conn, t: t, c: c})
	if err != nil {
		return nil, err
	}
	c.spec.prober = p
	c.target = strings.TrimPrefix(c.name, chk.Kind.String()+" ")
	c.spec.cmpKey = compareKey(chk, spec, conn)
	return c, nil
}

// compareKey identifies a checker across a reload: same kind, same
// connection and same kind-specific settings (timers may change).
func compareKey(chk *Check, spec kindSpec, conn Conn) string {
	var extra any
	if spec.settings != nil {
		extra = spec.settings(chk)
	}
	return fmt.Sprintf("%v|%v|%+v", chk.Kind, conn, extra)
}

// resolveTiming applies inheritance (checker, real server, virtual server)
// and the per-kind defaults.
func resolveTiming(k kindSpec, levels ...*Timing) timing {
	var t timing
	for _, l := range levels {
		if t.delayLoop == 0 {
			t.delayLoop = l.DelayLoop
		}
		if t.connectTimeout == 0 {
			t.connectTimeout = l.ConnectTimeout
		}
		if t.delayBeforeRetry == 0 {
			t.delayBeforeRetry = l.DelayBeforeRetry
		}
	}
	if t.delayLoop == 0 {
		t.delayLoop = defaultDelayLoop
	}
	if t.connectTimeout == 0 {
		t.connectTimeout = defaultConnectTimeout
	}
	if t.delayBeforeRetry == 0 {
		t.delayBeforeRetry = time.Second
		if k.delayBeforeRetry != nil {
			t.delayBeforeRetry = k.delayBeforeRetry(t.delayLoop)
		}
	}
	t.retry = -1
	t.warmup = -1
	for _, l := range levels {
		if t.retry < 0 && l.Retry != nil {
			t.retry = max(*l.Retry, 0)
		}
		if t.warmup < 0 && l.Warmup != nil {
			t.warmup = max(*l.Warmup, 0)
		}
	}
	if t.retry < 0 {
		t.retry = k.retry
	}
	if t.warmup < 0 {
		t.warmup = t.delayLoop
	}
	return t
}

// boolOr returns the first set value, else def.
func boolOr(def bool, vals ...*bool) bool {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	return def
}
