package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

// Config configures the IPVS backend. A nil *Config means the defaults.
type Config struct {
	// Flush empties the kernel's IPVS table at start (keepalived's
	// lvs_flush), removing services this backend did not add.
	Flush bool
	// KeepOnClose leaves the services in the kernel when the backend
	// closes (keepalived's --dont-release-ipvs).
	KeepOnClose bool
	// Logger receives the backend's logs (nil: none).
	Logger *zap.Logger
}

// maxWeight is the largest weight the backend accepts: moby/ipvs reads a
// destination's weight back as 16 bits.
const maxWeight = 65535

// procConn is the kernel's connection table.
const procConn = "/proc/net/ip_vs_conn"

// Backend is the kernel IPVS backend. It keeps the configuration it was
// given (what the daemon wants) and makes the kernel's table match it. Its
// methods are safe for concurrent use.
type Backend struct {
	mu       sync.Mutex
	k        kernel
	log      *zap.Logger
	cfg      Config
	svcs     map[forward.ServiceKey]*service
	disabled map[netip.Addr]bool
	connFile string
	closed   bool
	// syncRole and syncCfg are the kernel sync daemon this backend started.
	syncRole forward.SyncRole
	syncCfg  forward.SyncConfig
	syncAt   time.Time
}

// daemonSettle is how long a kernel sync daemon runs before it is stopped.
const daemonSettle = time.Second

// daemoner is a kernel that runs IPVS's own sync daemon (netlink; the
// in-memory model of the tests has none).
type daemoner interface {
	startDaemon(forward.SyncRole, forward.SyncConfig) error
	stopDaemon(forward.SyncRole) error
}

var _ forward.Backend = (*Backend)(nil)

// service is one virtual service as configured, and what of it is in the
// kernel.
type service struct {
	cfg   forward.ServiceConfig
	reals []forward.RealConfig // in the order they were added
	// inKernel: the service is in the kernel table (false while its VIP
	// is disabled).
	inKernel bool
	// sorryIn: the sorry server is one of the kernel's destinations.
	sorryIn bool
}

func newBackend(k kernel, cfg *Config) (*Backend, error) {
	b := &Backend{k: k, svcs: map[forward.ServiceKey]*service{}, disabled: map[netip.Addr]bool{}, connFile: procConn}
	if cfg != nil {
		b.cfg = *cfg
	}
	b.log = b.cfg.Logger
	if b.log == nil {
		b.log = zap.NewNop()
	}
	if b.cfg.Flush {
		if err := k.Flush(); err != nil {
			k.Close()
			return nil, fmt.Errorf("forward/ipvs: flush: %w", err)
		}
	}
	return b, nil
}

func (b *Backend) checkLocked() error {
	if b.closed {
		return errors.New("forward/ipvs: backend is closed")
	}
	return nil
}

func validService(c *forward.ServiceConfig) error {
	k := c.Key
	switch {
	case !k.Addr.IsValid():
		return fmt.Errorf("forward/ipvs: service %v: no address (a fwmark service needs one of its family)", k)
	case k.FWMark == 0 && k.Proto != forward.TCP && k.Proto != forward.UDP && k.Proto != forward.SCTP:
		return fmt.Errorf("forward/ipvs: service %v: protocol %d is not TCP, UDP or SCTP", k, k.Proto)
	case c.OnePacket && k.FWMark == 0 && k.Proto != forward.UDP:
		return fmt.Errorf("forward/ipvs: service %v: ops applies to UDP only", k)
	case c.Granularity < 0 || c.Granularity > k.Addr.Unmap().BitLen():
		return fmt.Errorf("forward/ipvs: service %v: persistence granularity /%d", k, c.Granularity)
	case c.Persistence < 0 || c.Persistence%time.Second != 0:
		return fmt.Errorf("forward/ipvs: service %v: persistence timeout %v is not whole seconds", k, c.Persistence)
	case c.SchedFlags&^schedFlags != 0:
		return fmt.Errorf("forward/ipvs: service %v: scheduler flags %#x are not SCHED1..3", k, c.SchedFlags)
	}
	if err := validMethod(c.Method); err != nil {
		return fmt.Errorf("forward/ipvs: service %v: %w", k, err)
	}
	if c.Sorry != nil {
		if err := validReal(*c.Sorry); err != nil {
			return fmt.Errorf("forward/ipvs: service %v: sorry server: %w", k, err)
		}
	}
	return nil
}

func validMethod(m forward.Method) error {
	if m != forward.NAT && m != forward.DR && m != forward.TUN {
		return fmt.Errorf("bad forwarding method %v", m)
	}
	return nil
}

func validReal(r forward.RealConfig) error {
	switch {
	case !r.Addr.IsValid():
		return errors.New("real server without an address")
	case r.Weight < 0 || r.Weight > maxWeight:
		return fmt.Errorf("%w: real server %v: weight %d is outside 0..%d", forward.ErrUnsupported, r.Addr, r.Weight, maxWeight)
	}
	if r.MethodSet {
		return validMethod(r.Method)
	}
	return nil
}

// kservice translates a service configuration.
func kservice(c forward.ServiceConfig) kService {
	s := kService{Addr: c.Key.Addr.Unmap(), Proto: c.Key.Proto, Port: c.Key.Port, FWMark: c.Key.FWMark,
		Sched: c.Scheduler, Flags: c.SchedFlags, Netmask: c.Granularity}
	if s.FWMark != 0 {
		s.Addr, s.Proto, s.Port = zeroOf(s.Addr), 0, 0
	}
	if s.Sched == "" {
		s.Sched = "wlc"
	}
	if c.Persistence > 0 {
		s.Flags |= flagPersistent
		s.Timeout = uint32(c.Persistence / time.Second)
	}
	if c.OnePacket {
		s.Flags |= flagOnePacket
	}
	if s.Netmask == 0 {
		s.Netmask = s.Addr.BitLen()
	}
	return s
}

// kdest translates a real server of service c.
func kdest(c forward.ServiceConfig, r forward.RealConfig) kDest {
	d := kDest{Addr: r.Addr.Unmap(), Port: r.Port, Weight: r.Weight, Method: c.Method,
		UThresh: r.UThreshold, LThresh: r.LThreshold}
	if r.MethodSet {
		d.Method = r.Method
	}
	return d
}

// sorryDest is the kernel destination of a sorry server: weight 1 unless
// set (a weight-0 destination would never be chosen).
func sorryDest(c forward.ServiceConfig) kDest {
	d := kdest(c, *c.Sorry)
	if d.Weight == 0 {
		d.Weight = 1
	}
	return d
}

func (s *service) findReal(ap netip.AddrPort) int {
	return slices.IndexFunc(s.reals, func(r forward.RealConfig) bool {
		return r.Addr.Unmap() == ap.Addr().Unmap() && r.Port == ap.Port()
	})
}

// wantSorry is keepalived's quorum rule with quorum 1, hysteresis 0: the
// sorry server serves while no real server has a weight.
func (s *service) wantSorry() bool {
	if s.cfg.Sorry == nil {
		return false
	}
	for _, r := range s.reals {
		if r.Weight > 0 {
			return false
		}
	}
	return true
}

func (b *Backend) service(k forward.ServiceKey) (*service, error) {
	s := b.svcs[normKey(k)]
	if s == nil {
		return nil, fmt.Errorf("forward/ipvs: service %v: %w", k, forward.ErrNotFound)
	}
	return s, nil
}

func normKey(k forward.ServiceKey) forward.ServiceKey {
	k.Addr = k.Addr.Unmap()
	if k.FWMark != 0 {
		k.Addr, k.Port, k.Proto = zeroOf(k.Addr), 0, 0
	}
	return k
}

func (b *Backend) enabled(k forward.ServiceKey) bool {
	return k.FWMark != 0 || !b.disabled[k.Addr.Unmap()]
}

// syncSorryLocked puts the sorry server in or takes it out of the kernel
// as the real servers' weights say.
func (b *Backend) syncSorryLocked(s *service) error {
	if !s.inKernel {
		return nil
	}
	want := s.wantSorry()
	if want == s.sorryIn {
		return nil
	}
	ks := kservice(s.cfg)
	if want {
		if err := b.k.AddDest(ks, sorryDest(s.cfg)); err != nil {
			return fmt.Errorf("forward/ipvs: %v: add sorry server: %w", s.cfg.Key, err)
		}
		b.log.Info("sorry server in", zap.Stringer("service", s.cfg.Key), zap.Stringer("sorry", s.cfg.Sorry.Addr))
	} else {
		if err := b.k.DelDest(ks, sorryDest(s.cfg)); err != nil && !errors.Is(err, forward.ErrNotFound) {
			return fmt.Errorf("forward/ipvs: %v: remove sorry server: %w", s.cfg.Key, err)
		}
		b.log.Info("sorry server out", zap.Stringer("service", s.cfg.Key))
	}
	s.sorryIn = want
	return nil
}

// installLocked adds a configured service and its real servers to the
// kernel.
func (b *Backend) installLocked(s *service) error {
	ks := kservice(s.cfg)
	if err := b.k.AddService(ks); err != nil {
		return fmt.Errorf("forward/ipvs: add service %v: %w", s.cfg.Key, err)
	}
	s.inKernel, s.sorryIn = true, false
	for _, r := range s.reals {
		if err := b.k.AddDest(ks, kdest(s.cfg, r)); err != nil {
			return fmt.Errorf("forward/ipvs: %v: add real server %v: %w", s.cfg.Key, r.Addr, err)
		}
	}
	return b.syncSorryLocked(s)
}

// AddService adds a virtual service (with no real servers: its sorry
// server, if it has one, serves until a real server with a weight is
// added).
func (b *Backend) AddService(c forward.ServiceConfig) error {
	if err := validService(&c); err != nil {
		return err
	}
	c.Key = normKey(c.Key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	if _, ok := b.svcs[c.Key]; ok {
		return fmt.Errorf("forward/ipvs: service %v: %w", c.Key, forward.ErrExists)
	}
	s := &service{cfg: c}
	if b.enabled(c.Key) {
		if err := b.installLocked(s); err != nil {
			if s.inKernel {
				_ = b.k.DelService(kservice(c))
			}
			return err
		}
	}
	b.svcs[c.Key] = s
	b.log.Info("service added", zap.Stringer("service", c.Key), zap.String("scheduler", kservice(c).Sched))
	return nil
}

// UpdateService changes a service's scheduler, flags, persistence, default
// method and sorry server, keeping its real servers and connections.
func (b *Backend) UpdateService(c forward.ServiceConfig) error {
	if err := validService(&c); err != nil {
		return err
	}
	c.Key = normKey(c.Key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	s, err := b.service(c.Key)
	if err != nil {
		return err
	}
	old := s.cfg
	if !s.inKernel {
		s.cfg = c
		return nil
	}
	ks := kservice(c)
	if err := b.k.UpdateService(ks); err != nil {
		return fmt.Errorf("forward/ipvs: update service %v: %w", c.Key, err)
	}
	// The sorry server leaves under the old configuration, comes back under
	// the new one.
	if s.sorryIn {
		if err := b.k.DelDest(ks, sorryDest(old)); err != nil && !errors.Is(err, forward.ErrNotFound) {
			return fmt.Errorf("forward/ipvs: %v: remove sorry server: %w", c.Key, err)
		}
		s.sorryIn = false
	}
	s.cfg = c
	if old.Method != c.Method {
		for _, r := range s.reals {
			if r.MethodSet {
				continue
			}
			if err := b.k.UpdateDest(ks, kdest(c, r)); err != nil {
				return fmt.Errorf("forward/ipvs: %v: real server %v: %w", c.Key, r.Addr, err)
			}
		}
	}
	if err := b.syncSorryLocked(s); err != nil {
		return err
	}
	b.log.Info("service updated", zap.Stringer("service", c.Key))
	return nil
}

// DeleteService removes a service and its real servers.
func (b *Backend) DeleteService(k forward.ServiceKey) error {
	k = normKey(k)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	s, err := b.service(k)
	if err != nil {
		return err
	}
	if s.inKernel {
		if err := b.k.DelService(kservice(s.cfg)); err != nil && !errors.Is(err, forward.ErrNotFound) {
			return fmt.Errorf("forward/ipvs: delete service %v: %w", k, err)
		}
	}
	delete(b.svcs, k)
	b.log.Info("service deleted", zap.Stringer("service", k))
	return nil
}

func (b *Backend) realOp(k forward.ServiceKey, r forward.RealConfig, add bool) error {
	if err := validReal(r); err != nil {
		return fmt.Errorf("forward/ipvs: service %v: %w", k, err)
	}
	r.Addr = r.Addr.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	s, err := b.service(normKey(k))
	if err != nil {
		return err
	}
	ap := netip.AddrPortFrom(r.Addr, r.Port)
	i := s.findReal(ap)
	switch {
	case add && i >= 0:
		return fmt.Errorf("forward/ipvs: %v: real server %v: %w", s.cfg.Key, ap, forward.ErrExists)
	case !add && i < 0:
		return fmt.Errorf("forward/ipvs: %v: real server %v: %w", s.cfg.Key, ap, forward.ErrNotFound)
	case add && s.cfg.Sorry != nil && s.cfg.Sorry.Addr.Unmap() == r.Addr && s.cfg.Sorry.Port == r.Port:
		return fmt.Errorf("forward/ipvs: %v: real server %v is also the sorry server", s.cfg.Key, ap)
	}
	if s.inKernel {
		ks := kservice(s.cfg)
		if add {
			err = b.k.AddDest(ks, kdest(s.cfg, r))
		} else {
			err = b.k.UpdateDest(ks, kdest(s.cfg, r))
		}
		if err != nil {
			return fmt.Errorf("forward/ipvs: %v: real server %v: %w", s.cfg.Key, ap, err)
		}
	}
	if add {
		s.reals = append(s.reals, r)
	} else {
		s.reals[i] = r
	}
	b.log.Info("real server set", zap.Stringer("service", s.cfg.Key), zap.Stringer("real", ap),
		zap.Int32("weight", r.Weight), zap.Bool("added", add))
	return b.syncSorryLocked(s)
}

// AddReal adds a real server to a service.
func (b *Backend) AddReal(k forward.ServiceKey, r forward.RealConfig) error {
	return b.realOp(k, r, true)
}

// UpdateReal changes a real server's weight, thresholds and method.
func (b *Backend) UpdateReal(k forward.ServiceKey, r forward.RealConfig) error {
	return b.realOp(k, r, false)
}

// DeleteReal removes a real server. The kernel keeps forwarding its
// established connections until they expire (sysctl expire_nodest_conn
// changes that).
func (b *Backend) DeleteReal(k forward.ServiceKey, ap netip.AddrPort) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	s, err := b.service(normKey(k))
	if err != nil {
		return err
	}
	i := s.findReal(ap)
	if i < 0 {
		return fmt.Errorf("forward/ipvs: %v: real server %v: %w", s.cfg.Key, ap, forward.ErrNotFound)
	}
	if s.inKernel {
		if err := b.k.DelDest(kservice(s.cfg), kdest(s.cfg, s.reals[i])); err != nil && !errors.Is(err, forward.ErrNotFound) {
			return fmt.Errorf("forward/ipvs: %v: real server %v: %w", s.cfg.Key, ap, err)
		}
	}
	s.reals = slices.Delete(s.reals, i, i+1)
	b.log.Info("real server deleted", zap.Stringer("service", s.cfg.Key), zap.Stringer("real", ap))
	return b.syncSorryLocked(s)
}

// SetVIP enables or disables the services on addr: disabled services leave
// the kernel table (their configuration stays here) and come back when
// enabled. Firewall-mark services have no address and are not affected.
func (b *Backend) SetVIP(addr netip.Addr, enabled bool) error {
	addr = addr.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	if enabled {
		delete(b.disabled, addr)
	} else {
		b.disabled[addr] = true
	}
	var errs []error
	for _, s := range b.sortedLocked() {
		if s.cfg.Key.FWMark != 0 || s.cfg.Key.Addr != addr || s.inKernel == enabled {
			continue
		}
		if enabled {
			if err := b.installLocked(s); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := b.k.DelService(kservice(s.cfg)); err != nil && !errors.Is(err, forward.ErrNotFound) {
			errs = append(errs, fmt.Errorf("forward/ipvs: %v: %w", s.cfg.Key, err))
			continue
		}
		s.inKernel, s.sorryIn = false, false
	}
	b.log.Info("vip forwarding", zap.Stringer("vip", addr), zap.Bool("enabled", enabled))
	return errors.Join(errs...)
}

// SetTimeouts applies lvs_timeouts; a zero duration leaves that timeout as
// it is.
func (b *Backend) SetTimeouts(t forward.Timeouts) error {
	secs := func(d time.Duration) (uint32, error) {
		if d < 0 || d%time.Second != 0 || d > 31*24*time.Hour {
			return 0, fmt.Errorf("forward/ipvs: timeout %v is not whole seconds up to 31 days", d)
		}
		return uint32(d / time.Second), nil
	}
	tcp, err1 := secs(t.TCP)
	fin, err2 := secs(t.TCPFin)
	udp, err3 := secs(t.UDP)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	if err := b.k.SetTimeouts(tcp, fin, udp); err != nil {
		return fmt.Errorf("forward/ipvs: set timeouts: %w", err)
	}
	return nil
}

func (b *Backend) sortedLocked() []*service {
	out := make([]*service, 0, len(b.svcs))
	for _, s := range b.svcs {
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y *service) int { return compareKey(x.cfg.Key, y.cfg.Key) })
	return out
}

func compareKey(a, b forward.ServiceKey) int {
	if a.FWMark != b.FWMark {
		return int(int64(a.FWMark) - int64(b.FWMark))
	}
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	if a.Proto != b.Proto {
		return int(a.Proto) - int(b.Proto)
	}
	return int(a.Port) - int(b.Port)
}

// Close removes the backend's services from the kernel (unless
// KeepOnClose) and releases the netlink socket.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	if err := b.setSyncLocked(forward.SyncOff, forward.SyncConfig{}); err != nil {
		errs = append(errs, err)
	}
	if !b.cfg.KeepOnClose {
		for _, s := range b.sortedLocked() {
			if !s.inKernel {
				continue
			}
			if err := b.k.DelService(kservice(s.cfg)); err != nil && !errors.Is(err, forward.ErrNotFound) {
				errs = append(errs, fmt.Errorf("forward/ipvs: delete service %v: %w", s.cfg.Key, err))
			}
		}
	}
	b.k.Close()
	return errors.Join(errs...)
}

// SetSync runs the kernel's own sync daemon (lvs_sync_daemon) in the given
// role, replacing the one this backend started; SyncOff stops it.
func (b *Backend) SetSync(role forward.SyncRole, cfg forward.SyncConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(); err != nil {
		return err
	}
	return b.setSyncLocked(role, cfg)
}

func (b *Backend) setSyncLocked(role forward.SyncRole, cfg forward.SyncConfig) error {
	if role == b.syncRole && (role == forward.SyncOff || cfg == b.syncCfg) {
		return nil
	}
	d, ok := b.k.(daemoner)
	if !ok {
		return fmt.Errorf("forward/ipvs: this kernel model has no sync daemon: %w", forward.ErrUnsupported)
	}
	if b.syncRole != forward.SyncOff {
		// A Linux 6.1 kernel asked to stop a master sync daemon within
		// moments of starting it kept the request waiting 60 s (netlink's
		// receive timeout then gave EAGAIN); a second later it stops at
		// once. Let a new daemon settle first. To see it: daemonSettle = 0,
		// then ULVS_VM=1 go test -run 'TestVMIPVS/lvs_sync_daemon_through'
		// ./forward/ipvs (after make ipvs-vm-test fetched the VM): the
		// subtest fails after 60 s in Close.
		if wait := daemonSettle - time.Since(b.syncAt); wait > 0 {
			time.Sleep(wait)
		}
		if err := d.stopDaemon(b.syncRole); err != nil && !errors.Is(err, forward.ErrNotFound) {
			return err
		}
		b.syncRole = forward.SyncOff
	}
	if role == forward.SyncOff {
		return nil
	}
	if err := d.startDaemon(role, cfg); err != nil {
		return err
	}
	b.syncRole, b.syncCfg, b.syncAt = role, cfg, time.Now()
	b.log.Info("kernel sync daemon started", zap.Stringer("role", role), zap.String("interface", cfg.Interface))
	return nil
}

// SyncStats says which role the kernel's sync daemon has; the kernel keeps
// no counters of it.
func (b *Backend) SyncStats() forward.SyncStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return forward.SyncStats{Role: b.syncRole.String(), Kernel: true}
}

// Conns returns the kernel's connections and persistence templates from
// /proc/net/ip_vs_conn.
func (b *Backend) Conns() []forward.Conn {
	cs, err := b.readConns()
	if err != nil {
		b.log.Warn("reading the connection table", zap.Error(err))
		return nil
	}
	return cs
}

func (b *Backend) readConns() ([]forward.Conn, error) {
	data, err := os.ReadFile(b.connFile)
	if err != nil {
		return nil, fmt.Errorf("forward/ipvs: %w", err)
	}
	return ParseConns(data)
}
