package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

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

// serviceLocked is the configured service k, on a backend not closed.
func (b *Backend) serviceLocked(k forward.ServiceKey) (*service, error) {
	if err := b.checkLocked(); err != nil {
		return nil, err
	}
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
	s, err := b.serviceLocked(c.Key)
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
	s, err := b.serviceLocked(k)
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
