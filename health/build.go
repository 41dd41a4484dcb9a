package health

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/script"
)

// keepalived's defaults (check_data.c alloc_vs, check_api.c).
const (
	defaultDelayLoop      = 60 * time.Second
	defaultConnectTimeout = 5 * time.Second
	defaultFileInterval   = time.Second
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
		conns := []ConnOpts{chk.Conn}
		if chk.Kind == KindSMTP && len(chk.SMTP.Hosts) > 0 {
			conns = chk.SMTP.Hosts
		}
		for _, co := range conns {
			c, err := r.buildChecker(cfg, v, rc, chk, co)
			if err != nil {
				return nil, fmt.Errorf("health: %s: %s #%d: %w", where, chk.Kind, i+1, err)
			}
			c.vs, c.rs = vs, rs
			if c.kind == KindFile {
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

func (r *Runner) buildChecker(cfg *Config, v *VirtualServer, rc *RealServer, chk *Check, co ConnOpts) (*checker, error) {
	t := resolveTiming(chk.Kind, &chk.Timing, &rc.Timing, &v.Timing)
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
		switch chk.Kind {
		case KindSMTP:
			conn.Dst = netip.AddrPortFrom(conn.Dst.Addr(), 25)
		case KindDNS:
			conn.Dst = netip.AddrPortFrom(conn.Dst.Addr(), 53)
		case KindTCP, KindHTTP, KindSSL, KindUDP:
			return nil, errors.New("no port to check: set connect_port")
		}
	}
	c := &checker{
		kind:  chk.Kind,
		alpha: boolOr(v.Alpha, rc.Alpha, chk.Alpha),
		spec:  checkSpec{t: t, logAll: boolOr(false, chk.LogAllFailures)},
		st:    newCkState(false),
		name:  chk.Kind.String() + " " + RSKey(conn.Dst),
	}
	var err error
	switch chk.Kind {
	case KindTCP:
		c.spec.prober = &tcpProber{d: r.dialer, conn: conn, timeout: t.connectTimeout}
	case KindHTTP, KindSSL:
		c.spec.fast = chk.HTTP.FastRecovery
		c.spec.prober, err = newHTTPProber(r.dialer, conn, t.connectTimeout, &chk.HTTP, chk.Kind == KindSSL,
			rc.Virtualhost, v.Virtualhost)
	case KindSMTP:
		helo := chk.SMTP.HeloName
		if helo == "" {
			helo, _ = os.Hostname()
		}
		c.spec.prober = &smtpProber{d: r.dialer, conn: conn, timeout: t.connectTimeout, helo: helo}
	case KindDNS:
		c.spec.prober, err = newDNSProber(r.dialer, conn, t.connectTimeout, &chk.DNS)
	case KindUDP:
		c.spec.prober, err = newUDPProber(r.dialer, conn, t.connectTimeout, &chk.UDP)
	case KindPing:
		c.name = chk.Kind.String() + " " + conn.Dst.Addr().String()
		c.spec.prober = &pingProber{conn: conn, timeout: t.connectTimeout}
	case KindMisc:
		s, perr := r.prepare(cfg, chk.Misc.Script, RSKey(rc.Addr), "misc_path")
		if perr != nil {
			return nil, perr
		}
		if s == nil {
			return nil, errors.New("MISC_CHECK without misc_path")
		}
		timeout := chk.Misc.Timeout
		if timeout <= 0 {
			timeout = t.delayLoop
		}
		c.name = chk.Kind.String() + " " + s.Argv[0]
		c.spec.dynamic = chk.Misc.Dynamic
		c.spec.prober = &miscProber{s: s, timeout: timeout, dynamic: chk.Misc.Dynamic}
	case KindFile:
		if chk.File.Path == "" {
			return nil, errors.New("FILE_CHECK has no track_file")
		}
		f := chk.File
		if f.Interval <= 0 {
			f.Interval = defaultFileInterval
		}
		c.name = chk.Kind.String() + " " + f.Path
		c.spec.file = &f
		fp := &fileProber{path: f.Path}
		c.spec.prober = fp
		c.spec.t.warmup = 0
		c.last = fp.read()
	default:
		return nil, fmt.Errorf("unknown checker kind %d", chk.Kind)
	}
	if err != nil {
		return nil, err
	}
	c.target = strings.TrimPrefix(c.name, chk.Kind.String()+" ")
	c.spec.cmpKey = compareKey(chk, conn)
	return c, nil
}

// compareKey identifies a checker across a reload: same kind, same
// connection and same kind-specific settings (timers may change).
func compareKey(chk *Check, conn Conn) string {
	h := chk.HTTP
	h.TLS = nil
	var extra any
	switch chk.Kind {
	case KindHTTP, KindSSL:
		extra = h
	case KindSMTP:
		extra = chk.SMTP.HeloName
	case KindMisc:
		extra = chk.Misc
	case KindDNS:
		extra = chk.DNS
	case KindUDP:
		extra = chk.UDP
	case KindFile:
		extra = chk.File
	}
	return fmt.Sprintf("%v|%v|%+v", chk.Kind, conn, extra)
}

// resolveTiming applies inheritance (checker, real server, virtual server)
// and the per-kind defaults.
func resolveTiming(k Kind, levels ...*Timing) timing {
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
		switch k {
		case KindHTTP, KindSSL:
			t.delayBeforeRetry = 3 * time.Second
		case KindDNS:
			t.delayBeforeRetry = t.delayLoop
		default:
			t.delayBeforeRetry = time.Second
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
		switch k {
		case KindDNS:
			t.retry = 3
		case KindMisc:
			t.retry = 0
		default:
			t.retry = 1
		}
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

// fileProber reads a tracked file's number.
type fileProber struct{ path string }

func (p *fileProber) steps() int { return 1 }

func (p *fileProber) probe(context.Context, int) outcome { return p.read() }

func (p *fileProber) read() outcome {
	b, err := os.ReadFile(p.path)
	if err != nil {
		// keepalived takes a missing or unreadable file as 0.
		return outcome{ok: true, reason: "track_file " + p.path + ": " + err.Error()}
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return outcome{ok: true, reason: "track_file " + p.path + " is empty"}
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return outcome{ok: true, reason: "track_file " + p.path + ": not a number: " + f[0]}
	}
	return outcome{ok: true, value: v, reason: "track_file " + p.path + " = " + f[0]}
}
