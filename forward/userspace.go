package forward

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/sched"
)

// Config configures the userspace backend.
type Config struct {
	// Interfaces are the director's interfaces that carry virtual-service
	// traffic and reach the real servers (required).
	Interfaces []string
	// Workers is the number of forwarding workers per interface (default:
	// the number of CPUs).
	Workers int
	// RingVersion is the AF_PACKET receive ring: 2 (TPACKET_V2, the
	// default: every frame wakes its worker at once) or 3 (TPACKET_V3: the
	// kernel fills blocks of frames and wakes a worker once per block,
	// retired when full or after a millisecond, so a worker wakes at most
	// about a thousand times a second whatever the rate). Measured with
	// lbbench: at 50k pkt/s V3 costs a fraction of V2's CPU per packet
	// (bench/results/2026-12-07b.md), but on a quiet link every frame waits
	// for the block's retire timer: 1 ms here, a whole tick (4 ms at
	// HZ=250) on the Linux 6.1 guest, where V3 halved keep-alive
	// throughput (bench/results/2026-12-07c-vm.md). A forwarder must not
	// add milliseconds at low rates (suricata refuses V3 in IPS mode for
	// the same reason), so V3 is for directors whose CPU matters more.
	RingVersion int
	// RingFrames is the number of frames each worker's TPACKET_V2 receive
	// ring holds (default 8192, about 16 MiB at an MTU of 1500): the burst
	// a worker absorbs while it is busy or descheduled. A TPACKET_V3 ring
	// holds 128 blocks of 128 KiB, each retired when full or after 1 ms.
	RingFrames int
	// MaxConns bounds the connection table (default 1<<20); templates get a
	// table of their own of the same size.
	MaxConns int
	// SloppyTCP schedules TCP connections on any packet, not only a SYN
	// (sysctl sloppy_tcp), so connections survive a director failover.
	SloppyTCP bool
	// NoQdiscBypass keeps transmitted frames going through the qdisc (and
	// visible to packet captures on the director).
	NoQdiscBypass bool
	// GuardTable names the nftables table of the kernel guard (default
	// "ulvs"); two forwarders in one network namespace need two names.
	GuardTable string
	// LocalDevice names the TUN device through which packets for a real
	// server on the director itself reach its own stack (default
	// "ulvs-local"; created when the first such real server appears); two
	// forwarders in one network namespace need two names.
	LocalDevice string
	// XDPFastPath forwards established DR and NAT connections in the XDP
	// program of the interface they arrive on (IOXDP or IOAuto interfaces;
	// see forward/xsk/xdp.c): TCP without SYN, FIN or RST and UDP leave by
	// XDP_TX with the real server's MACs (NAT: rewritten both ways, as user
	// space rewrites them), counted per real server, while
	// every packet that can change a connection's state, and every
	// connection whose real server leaves by another interface, still
	// takes the socket. A veth delivers XDP_TX frames promptly only while
	// its peer runs a native XDP program itself (xsk.AttachPass is one);
	// physical NICs need nothing.
	XDPFastPath bool
	// IO is the frame I/O: IOAFPacket (the default), IOXDP (AF_XDP on
	// every interface; starting fails where native XDP does not attach)
	// or IOAuto (AF_XDP where it attaches, AF_PACKET elsewhere, with the
	// reason logged and reported by IO).
	IO string
	// Logger receives the backend's logs (nil: none).
	Logger *zap.Logger
}

// Frame I/O layers (Config.IO).
const (
	IOAFPacket = "afpacket"
	IOXDP      = "xdp"
	IOAuto     = "auto"
)

// IOStatus is how one interface's frames come and go.
type IOStatus struct {
	Interface string
	// IO is IOAFPacket or IOXDP.
	IO string
	// Mode is the AF_XDP socket mode ("zero-copy" or "copy") or the
	// AF_PACKET ring ("TPACKET_V3" or "TPACKET_V2").
	Mode string
	// Workers is the number of workers (for AF_XDP: receive queues, one
	// socket each).
	Workers int
	// Reason says why an interface runs AF_PACKET when AF_XDP was asked
	// for where possible (Config.IO IOAuto).
	Reason string
}

// IOReporter is implemented by backends that report their frame I/O per
// interface (the userspace backend).
type IOReporter interface {
	IO() []IOStatus
	FastPath() FastPathStats
}

// Userspace is the userspace backend: AF_PACKET workers forwarding with
// IPVS's tables. Its methods are safe for concurrent use.
type Userspace struct {
	e       *engine
	workers int
	// changed is called after every configuration change, with the control
	// lock held (the I/O side re-syncs its guard and filters).
	changed func()
	// pollIO folds the kernel's own counters of the I/O (receive ring
	// drops) into the drop counters; nil without I/O.
	pollIO func()

	closeOnce sync.Once
	closeFn   func() error

	// ioStatus is the frame I/O of every interface, fixed at start.
	ioStatus []IOStatus
	// fastStats reads the XDP fast path's counts (nil: no fast path).
	fastStats func() FastPathStats

	// syncMu guards syncD, the running lvs_sync_daemon side.
	syncMu sync.Mutex
	syncD  *syncDaemon

	// failed is why a worker stopped on its own (Err).
	failed atomic.Pointer[error]
	// syncHeld are synced connections waiting for their real server
	// (registry lock).
	syncHeld []heldSync
}

var (
	_ Backend    = (*Userspace)(nil)
	_ IOReporter = (*Userspace)(nil)
)

// FastPathStats counts the XDP fast path (Config.XDPFastPath) since the
// backend started.
type FastPathStats struct {
	// On is set when the fast path runs on at least one interface.
	On bool
	// Packets were forwarded by the XDP programs themselves; they are in
	// the services' and real servers' statistics too.
	Packets uint64
	// Failed counts map updates that failed: their connections took the
	// socket path.
	Failed uint64
}

// FastPath returns the XDP fast path's counts.
func (u *Userspace) FastPath() FastPathStats {
	if u.fastStats == nil {
		return FastPathStats{}
	}
	return u.fastStats()
}

// IO returns each interface's frame I/O.
func (u *Userspace) IO() []IOStatus { return slices.Clone(u.ioStatus) }

func newEngine(cfg *Config, workers int) *engine {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	e := &engine{sloppy: cfg.SloppyTCP, log: log}
	to := conntab.DefaultTimeouts()
	e.timeouts.Store(&to)
	e.reg.svcs = map[ServiceKey]*service{}
	e.reg.disabled = map[netip.Addr]bool{}
	e.conns = conntab.New(conntab.Config{Max: cfg.MaxConns, OnExpire: e.connGone, Refresh: e.fastRefresh})
	e.tpls = conntab.New(conntab.Config{Max: cfg.MaxConns, OnExpire: e.tplGone,
		Evictable: func(*conntab.Entry) bool { return false }})
	e.reg.publishLocked()
	return e
}

// connGone is OnExpire of the connection table: unbind the real server and
// release the template.
func (e *engine) connGone(c *conntab.Entry) {
	if c.Flags&conntab.FlagFast != 0 && e.fast != nil {
		e.fast.del(c)
	}
	if r := e.reg.load().real(c.Dest); r != nil {
		if c.Flags&conntab.FlagInactive != 0 {
			r.dest.Unbind(sched.ConnInactive)
		} else {
			r.dest.Unbind(sched.ConnActive)
		}
	}
	e.tpls.Release(c.Ctl)
}

func (e *engine) tplGone(t *conntab.Entry) {
	if r := e.reg.load().real(t.Dest); r != nil {
		r.dest.Unbind(sched.ConnTemplate)
	}
}

// AddService adds a virtual service with no real servers.
func (u *Userspace) AddService(c ServiceConfig) error {
	if c.Scheduler == "" {
		c.Scheduler = sched.Default
	}
	if err := c.validate(); err != nil {
		return err
	}
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	k := normKey(c.Key)
	if g.svcs[k] != nil {
		return fmt.Errorf("%w: service %v", ErrExists, k)
	}
	ss, err := sched.New(sched.Config{Scheduler: c.Scheduler, Flags: c.SchedFlags})
	if err != nil {
		return fmt.Errorf("forward: service %v: %w", k, err)
	}
	s := &service{cfg: c, sched: ss, reals: map[netip.AddrPort]*real{}, vaddr: put16(k.Addr),
		vb: wire(k.Addr), stats: newCounterSet(u.workers)}
	s.cfg.Key = k
	s.setPersistence()
	if len(g.freeIDs) > 0 {
		s.id, g.freeIDs = g.freeIDs[len(g.freeIDs)-1], g.freeIDs[:len(g.freeIDs)-1]
	} else {
		s.id = g.nextID
		g.nextID++
	}
	if err := u.setSorryLocked(s, c.Sorry); err != nil {
		return err
	}
	g.svcs[k] = s
	u.publishLocked()
	u.e.log.Info("service added", zap.Stringer("service", k), zap.String("scheduler", c.Scheduler),
		zap.Stringer("method", c.Method))
	return nil
}

func normKey(k ServiceKey) ServiceKey {
	k.Addr = k.Addr.Unmap()
	return k
}

func (s *service) setPersistence() {
	s.persist = uint32(s.cfg.Persistence / (time.Second / conntab.TicksPerSecond))
	s.mask = maskFor(s.cfg.Key.Addr, s.cfg.Granularity)
}

// UpdateService changes a service's scheduler, persistence, OPS, default
// method and sorry server, keeping its real servers and connections.
func (u *Userspace) UpdateService(c ServiceConfig) error {
	if c.Scheduler == "" {
		c.Scheduler = sched.Default
	}
	if err := c.validate(); err != nil {
		return err
	}
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	k, s, err := g.serviceLocked(c.Key)
	if err != nil {
		return err
	}
	if c.Scheduler != s.cfg.Scheduler || c.SchedFlags != s.cfg.SchedFlags {
		if err := s.sched.SetScheduler(c.Scheduler, c.SchedFlags); err != nil {
			return fmt.Errorf("forward: service %v: %w", k, err)
		}
	}
	// A new service struct, so that workers reading the old snapshot never
	// see a half-updated one.
	ns := *s
	ns.cfg = c
	ns.cfg.Key = k
	ns.setPersistence()
	if err := u.setSorryLocked(&ns, c.Sorry); err != nil {
		return err
	}
	for ap, r := range ns.reals {
		ns.reals[ap] = u.replaceLocked(r, &ns, r.cfg, r.cfg.methodIn(c.Method))
	}
	g.svcs[k] = &ns
	u.publishLocked()
	return nil
}

func (u *Userspace) setSorryLocked(s *service, c *RealConfig) error {
	if c != nil {
		cc := *c
		cc.Addr = cc.Addr.Unmap()
		c = &cc
	}
	if s.sorry != nil && c != nil && s.sorry.cfg.Addr == c.Addr && s.sorry.cfg.Port == c.Port {
		if err := c.validate(); err != nil {
			return err
		}
		s.sorry = u.replaceLocked(s.sorry, s, *c, c.methodIn(s.cfg.Method))
		return nil
	}
	if s.sorry != nil {
		u.retireLocked(s.sorry)
		s.sorry, s.sorryS = nil, nil
	}
	if c == nil {
		return nil
	}
	if err := c.validate(); err != nil {
		return err
	}
	ss, err := sched.New(sched.Config{Scheduler: "rr"})
	if err != nil {
		return err
	}
	w := c.Weight
	if w == 0 {
		w = 1
	}
	d, err := ss.AddDest(sched.DestConfig{Addr: c.Addr.Unmap(), Port: c.Port, Weight: w})
	if err != nil {
		return fmt.Errorf("forward: sorry server %v: %w", c.Addr, err)
	}
	r := u.newReal(s, *c, d)
	s.sorry, s.sorryS = r, ss
	return nil
}

func (u *Userspace) newReal(s *service, c RealConfig, d *sched.Dest) *real {
	c.Addr = c.Addr.Unmap()
	r := &real{cfg: c, method: c.methodIn(s.cfg.Method), dest: d, svc: s, addr: put16(c.Addr), ab: wire(c.Addr),
		stats: newCounterSet(u.workers)}
	u.e.reg.newRealLocked(r)
	if u.e.resolve != nil {
		u.e.resolve(r)
	}
	return r
}

// replaceLocked puts a copy of r with cfg, method and svc in its place and
// returns it. Workers read a real server's fields without a lock, so a
// change is a new struct that the next snapshot publishes, never a write
// to the one they may be reading. The copy keeps the handle, the
// scheduler's destination, the next hop and the counters.
func (u *Userspace) replaceLocked(r *real, svc *service, cfg RealConfig, method Method) *real {
	nr := &real{cfg: cfg, method: method, dest: r.dest, handle: r.handle, svc: svc, addr: r.addr, ab: r.ab,
		stats: r.stats, est: r.est, removed: r.removed}
	nr.hop.Store(r.hop.Load())
	u.e.reg.reals[r.handle] = nr
	return nr
}

// retireLocked marks a real server removed; its connections' packets are
// dropped until their entries expire (expire_nodest_conn=0), and its handle
// is recycled after.
func (u *Userspace) retireLocked(r *real) {
	r.removed = true
	if u.e.fast != nil {
		u.e.fast.retire(r)
	}
}

// DeleteService removes a service and its real servers. Existing
// connections are forwarded until they expire, as IPVS keeps them.
func (u *Userspace) DeleteService(k ServiceKey) error {
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	k, s, err := g.serviceLocked(k)
	if err != nil {
		return err
	}
	for _, r := range s.reals {
		u.retireLocked(r)
	}
	if s.sorry != nil {
		u.retireLocked(s.sorry)
	}
	delete(g.svcs, k)
	u.publishLocked()
	u.e.log.Info("service deleted", zap.Stringer("service", k))
	return nil
}

// methodIn is the real server's forwarding method in a service whose
// method is svc: its own lb_kind when it has one.
func (c *RealConfig) methodIn(svc Method) Method {
	if c.MethodSet {
		return c.Method
	}
	return svc
}

// dest is the scheduler's view of the real server.
func (c *RealConfig) dest() sched.DestConfig {
	return sched.DestConfig{Addr: c.Addr, Port: c.Port, Weight: c.Weight, UThreshold: c.UThreshold, LThreshold: c.LThreshold}
}

// AddReal adds a real server to a service (at the head of its list).
func (u *Userspace) AddReal(k ServiceKey, c RealConfig) error {
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	k, s, err := g.serviceLocked(k)
	if err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	c.Addr = c.Addr.Unmap()
	if c.Addr.Is4() != k.Addr.Is4() {
		return fmt.Errorf("forward: service %v: real server %v of another family", k, c.Addr)
	}
	ap := netip.AddrPortFrom(c.Addr, c.Port)
	if s.reals[ap] != nil {
		return fmt.Errorf("%w: real server %v in %v", ErrExists, ap, k)
	}
	d, err := s.sched.AddDest(c.dest())
	if err != nil {
		return fmt.Errorf("forward: service %v: real server %v: %w", k, ap, err)
	}
	s.reals[ap] = u.reviveLocked(s, c, d)
	u.publishLocked()
	u.applyHeldSyncLocked()
	u.e.log.Info("real server added", zap.Stringer("service", k), zap.Stringer("real", ap), zap.Int32("weight", c.Weight))
	return nil
}

// reviveLocked returns the real server for a destination AddDest handed
// out: the removed one whose connections still hold d, back with its
// handle, next hop and counters (IPVS's ip_vs_trash_get_dest: its
// connections go on), or a new one.
func (u *Userspace) reviveLocked(s *service, c RealConfig, d *sched.Dest) *real {
	for _, r := range u.e.reg.reals {
		if r != nil && r.removed && r.dest == d && r.svc == s {
			nr := u.replaceLocked(r, s, c, c.methodIn(s.cfg.Method))
			nr.removed = false
			return nr
		}
	}
	return u.newReal(s, c, d)
}

// UpdateReal changes a real server's weight, thresholds and method.
func (u *Userspace) UpdateReal(k ServiceKey, c RealConfig) error {
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	k, s, err := g.serviceLocked(k)
	if err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	c.Addr = c.Addr.Unmap()
	ap := netip.AddrPortFrom(c.Addr, c.Port)
	r := s.reals[ap]
	if r == nil {
		return fmt.Errorf("%w: real server %v in %v", ErrNotFound, ap, k)
	}
	if _, err := s.sched.UpdateDest(c.dest()); err != nil {
		return fmt.Errorf("forward: service %v: real server %v: %w", k, ap, err)
	}
	s.reals[ap] = u.replaceLocked(r, s, c, c.methodIn(s.cfg.Method))
	u.publishLocked()
	u.e.log.Info("real server updated", zap.Stringer("service", k), zap.Stringer("real", ap), zap.Int32("weight", c.Weight))
	return nil
}

// DeleteReal removes a real server. As in IPVS (expire_nodest_conn=0),
// its connections' packets are dropped from now on, and the entries wait
// for their timers.
func (u *Userspace) DeleteReal(k ServiceKey, ap netip.AddrPort) error {
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	k, s, err := g.serviceLocked(k)
	if err != nil {
		return err
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	r := s.reals[ap]
	if r == nil {
		return fmt.Errorf("%w: real server %v in %v", ErrNotFound, ap, k)
	}
	if err := s.sched.RemoveDest(ap.Addr(), ap.Port()); err != nil {
		return fmt.Errorf("forward: service %v: real server %v: %w", k, ap, err)
	}
	delete(s.reals, ap)
	u.retireLocked(r)
	u.publishLocked()
	u.e.log.Info("real server deleted", zap.Stringer("service", k), zap.Stringer("real", ap))
	return nil
}

// SetVIP enables or disables forwarding for the services on addr.
func (u *Userspace) SetVIP(addr netip.Addr, enabled bool) error {
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	addr = addr.Unmap()
	if g.disabled[addr] == !enabled {
		return nil // already so: VRRP disables at start, and again with -X
	}
	if enabled {
		delete(g.disabled, addr)
	} else {
		g.disabled[addr] = true
	}
	u.publishLocked()
	u.e.log.Info("vip forwarding", zap.Stringer("vip", addr), zap.Bool("enabled", enabled))
	return nil
}

// SetTimeouts applies lvs_timeouts to new state changes.
func (u *Userspace) SetTimeouts(t Timeouts) error {
	for _, d := range []time.Duration{t.TCP, t.TCPFin, t.UDP} {
		if d < 0 || d > 31*24*time.Hour {
			return fmt.Errorf("forward: timeout %v out of range", d)
		}
	}
	to := *u.e.timeouts.Load()
	if t.TCP > 0 {
		to.TCP[conntab.TCPEstablished] = uint32(t.TCP / time.Second)
	}
	if t.TCPFin > 0 {
		to.TCP[conntab.TCPFinWait] = uint32(t.TCPFin / time.Second)
	}
	if t.UDP > 0 {
		to.UDP = uint32(t.UDP / time.Second)
	}
	u.e.timeouts.Store(&to)
	return nil
}

func (u *Userspace) publishLocked() {
	u.e.reg.publishLocked()
	if u.changed != nil {
		u.changed()
	}
}

// Services returns the services, sorted by key, with counters and rates.
func (u *Userspace) Services() []ServiceStatus {
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []ServiceStatus
	for _, s := range g.svcs {
		st := ServiceStatus{Config: s.cfg, Enabled: !g.disabled[s.cfg.Key.Addr], Stats: s.stats.sum(), Rates: s.est.rates()}
		for _, d := range s.sched.Dests() {
			r := s.reals[netip.AddrPortFrom(d.Addr, d.Port)]
			if r == nil {
				continue
			}
			st.Reals = append(st.Reals, realStatus(r))
		}
		if s.sorry != nil && (s.sorry.dest.ActiveConns()+s.sorry.dest.InactiveConns() > 0 || len(st.Reals) == 0) {
			st.Reals = append(st.Reals, realStatus(s.sorry))
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ServiceStatus) int { return compareKey(a.Config.Key, b.Config.Key) })
	return out
}

func realStatus(r *real) RealStatus {
	st := RealStatus{Config: r.cfg, Method: r.method, ActiveConns: r.dest.ActiveConns(),
		InactiveConns: r.dest.InactiveConns(), PersistConns: r.dest.PersistConns(), Stats: r.stats.sum(), Rates: r.est.rates()}
	if h := r.hop.Load(); h != nil {
		st.NextHop = net.HardwareAddr(h.dstMAC[:]).String()
		if h.local {
			st.Method, st.NextHop = Local, "local"
		}
	}
	return st
}

func compareKey(a, b ServiceKey) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	if a.Proto != b.Proto {
		return int(a.Proto) - int(b.Proto)
	}
	return int(a.Port) - int(b.Port)
}

// Conns returns the connections and templates, as ipvsadm -Lnc.
func (u *Userspace) Conns() []Conn {
	now := u.e.tick(time.Now())
	var out []Conn
	walk := func(t *conntab.Table, tpl bool) {
		t.Walk(func(e *conntab.Entry) bool {
			left := time.Duration(int32(e.Expires-now)) * time.Second / conntab.TicksPerSecond
			proto := e.Proto
			c := Conn{Proto: proto, Expires: max(left, 0), State: conntab.StateName(proto, e.State),
				Client: e.Client(), Virtual: e.Virtual(), Real: e.Real(), Template: tpl}
			if tpl {
				c.State = "NONE"
			}
			out = append(out, c)
			return true
		})
	}
	walk(u.e.conns, false)
	walk(u.e.tpls, true)
	return out
}

// housekeep runs once per tick: expiry, scheduler caches, rates every
// 2 s, handle recycling.
func (u *Userspace) housekeep(now time.Time, n uint64) {
	t := u.e.tick(now)
	u.e.conns.Expire(t)
	u.e.tpls.Expire(t)
	if n := u.e.hold.expire(t); n > 0 {
		u.e.drops.fragOrphan.Add(n)
	}
	if n%(2*conntab.TicksPerSecond) != 0 {
		return
	}
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.svcs {
		s.sched.Expire(time.Duration(t) * time.Second / conntab.TicksPerSecond)
		s.est.update(s.stats.sum())
	}
	for _, r := range g.reals {
		if r != nil {
			r.est.update(r.stats.sum())
		}
	}
	if g.recycleLocked() {
		u.publishLocked()
	}
}
