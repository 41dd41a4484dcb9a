package lvs

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ulvs/ulvs/forward"
)

// recBackend is an in-memory forward.Backend with the semantics the real
// ones share (ErrExists, ErrNotFound, SetVIP remembered for services added
// later), recording every call. render prints its state as sorted text.
type recBackend struct {
	svcs     map[forward.ServiceKey]*recService
	disabled map[netip.Addr]bool
	timeouts forward.Timeouts
	calls    []string
	// fail makes a call fail: its key is the call as recorded.
	fail map[string]error
}

type recService struct {
	cfg   forward.ServiceConfig
	reals map[netip.AddrPort]forward.RealConfig
}

var _ forward.Backend = (*recBackend)(nil)

func newRecBackend() *recBackend {
	return &recBackend{svcs: map[forward.ServiceKey]*recService{}, disabled: map[netip.Addr]bool{},
		fail: map[string]error{}}
}

func (b *recBackend) record(format string, args ...any) error {
	c := fmt.Sprintf(format, args...)
	b.calls = append(b.calls, c)
	return b.fail[c]
}

// takeCalls returns the calls since the last take.
func (b *recBackend) takeCalls() []string {
	c := b.calls
	b.calls = nil
	return c
}

func (b *recBackend) AddService(c forward.ServiceConfig) error {
	if err := b.record("AddService %s", c.Key); err != nil {
		return err
	}
	if b.svcs[c.Key] != nil {
		return fmt.Errorf("service %s: %w", c.Key, forward.ErrExists)
	}
	b.svcs[c.Key] = &recService{cfg: c, reals: map[netip.AddrPort]forward.RealConfig{}}
	return nil
}

func (b *recBackend) UpdateService(c forward.ServiceConfig) error {
	if err := b.record("UpdateService %s", c.Key); err != nil {
		return err
	}
	s := b.svcs[c.Key]
	if s == nil {
		return fmt.Errorf("service %s: %w", c.Key, forward.ErrNotFound)
	}
	s.cfg = c
	return nil
}

func (b *recBackend) DeleteService(k forward.ServiceKey) error {
	if err := b.record("DeleteService %s", k); err != nil {
		return err
	}
	if b.svcs[k] == nil {
		return fmt.Errorf("service %s: %w", k, forward.ErrNotFound)
	}
	delete(b.svcs, k)
	return nil
}

func (b *recBackend) realOp(op string, k forward.ServiceKey, r forward.RealConfig) error {
	ap := netip.AddrPortFrom(r.Addr, r.Port)
	if err := b.record("%s %s %s weight %d", op, k, ap, r.Weight); err != nil {
		return err
	}
	s := b.svcs[k]
	if s == nil {
		return fmt.Errorf("service %s: %w", k, forward.ErrNotFound)
	}
	_, ok := s.reals[ap]
	switch {
	case op == "AddReal" && ok:
		return fmt.Errorf("%s %s: %w", k, ap, forward.ErrExists)
	case op == "UpdateReal" && !ok:
		return fmt.Errorf("%s %s: %w", k, ap, forward.ErrNotFound)
	}
	s.reals[ap] = r
	return nil
}

func (b *recBackend) AddReal(k forward.ServiceKey, r forward.RealConfig) error {
	return b.realOp("AddReal", k, r)
}

func (b *recBackend) UpdateReal(k forward.ServiceKey, r forward.RealConfig) error {
	return b.realOp("UpdateReal", k, r)
}

func (b *recBackend) DeleteReal(k forward.ServiceKey, ap netip.AddrPort) error {
	if err := b.record("DeleteReal %s %s", k, ap); err != nil {
		return err
	}
	s := b.svcs[k]
	if s == nil {
		return fmt.Errorf("service %s: %w", k, forward.ErrNotFound)
	}
	if _, ok := s.reals[ap]; !ok {
		return fmt.Errorf("%s %s: %w", k, ap, forward.ErrNotFound)
	}
	delete(s.reals, ap)
	return nil
}

func (b *recBackend) SetVIP(addr netip.Addr, enabled bool) error {
	if err := b.record("SetVIP %s %t", addr, enabled); err != nil {
		return err
	}
	if enabled {
		delete(b.disabled, addr)
	} else {
		b.disabled[addr] = true
	}
	return nil
}

func (b *recBackend) SetTimeouts(t forward.Timeouts) error {
	if err := b.record("SetTimeouts %v %v %v", t.TCP, t.TCPFin, t.UDP); err != nil {
		return err
	}
	b.timeouts = t
	return nil
}

func (b *recBackend) Services() []forward.ServiceStatus {
	var out []forward.ServiceStatus
	for _, s := range b.svcs {
		st := forward.ServiceStatus{Config: s.cfg, Enabled: s.cfg.Key.FWMark != 0 || !b.disabled[s.cfg.Key.Addr]}
		for _, r := range s.reals {
			m := s.cfg.Method
			if r.MethodSet {
				m = r.Method
			}
			st.Reals = append(st.Reals, forward.RealStatus{Config: r, Method: m})
		}
		out = append(out, st)
	}
	return out
}

func (b *recBackend) Conns() []forward.Conn { return nil }

func (b *recBackend) Close() error { return b.record("Close") }

// render prints the backend's services and real servers as sorted lines.
func (b *recBackend) render() string {
	var lines []string
	for _, st := range b.Services() {
		c := st.Config
		l := fmt.Sprintf("%s %s flags=%#x persist=%v /%d ops=%t %s", c.Key, c.Scheduler, c.SchedFlags,
			c.Persistence, c.Granularity, c.OnePacket, c.Method)
		if c.Sorry != nil {
			l += fmt.Sprintf(" sorry=%s", realWords(*c.Sorry))
		}
		if !st.Enabled {
			l += " disabled"
		}
		lines = append(lines, l)
		for _, r := range st.Reals {
			lines = append(lines, fmt.Sprintf("%s -> %s", c.Key, realWords(r.Config)))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func realWords(r forward.RealConfig) string {
	s := fmt.Sprintf("%s w=%d", netip.AddrPortFrom(r.Addr, r.Port), r.Weight)
	if r.UThreshold != 0 || r.LThreshold != 0 {
		s += fmt.Sprintf(" u=%d l=%d", r.UThreshold, r.LThreshold)
	}
	if r.MethodSet {
		s += " " + r.Method.String()
	}
	return s
}
