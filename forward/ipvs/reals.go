package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

func (b *Backend) realOp(k forward.ServiceKey, r forward.RealConfig, add bool) error {
	if err := validReal(r); err != nil {
		return fmt.Errorf("forward/ipvs: service %v: %w", k, err)
	}
	r.Addr = r.Addr.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.serviceLocked(normKey(k))
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
	s, err := b.serviceLocked(normKey(k))
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
