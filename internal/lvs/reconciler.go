package lvs

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
)

// Service is one virtual_server as the reconciler drives it: its health
// name, the backend services it expands to (a virtual_server_group gives
// several), and what the backend needs of its real servers that health does
// not carry.
type Service struct {
	// Name is the virtual server's name in health (health.VirtualServer.Key,
	// keepalived's FMT_VS): health's Sink calls name it.
	Name string
	// Where is its place in the configuration ("FILE:LINE"), for messages.
	Where string
	// Configs are the backend services, one per address of a group.
	Configs []forward.ServiceConfig
	// Reals maps a real (or the sorry) server to its backend settings; the
	// weight comes from health.
	Reals map[netip.AddrPort]forward.RealConfig
}

// Config configures a Reconciler.
type Config struct {
	// Size is the connection table size ulvsadm shows as ipvsadm's
	// "(size=N)".
	Size int
	// FollowVRRP makes the services of addresses VRRP instances own follow
	// their instance (the userspace backend); see Own and Follow.
	FollowVRRP bool
	// Logger receives the reconciler's logs (nil: none).
	Logger *zap.Logger
}

// Reconciler connects the configuration, health's pool decisions, VRRP and
// ulvsadm's edits to a forward.Backend. It owns which real servers health
// put in each service, so that a reload replaces runtime edits made with
// ulvsadm (as a keepalived reload does to ipvsadm's). Its methods are safe
// for concurrent use.
type Reconciler struct {
	mu   sync.Mutex
	be   forward.Backend
	log  *zap.Logger
	size int

	byName map[string]*Service
	// managed[name][addr] is the weight health last gave a destination.
	managed map[string]map[netip.AddrPort]int32
	// followVRRP: see Config.FollowVRRP.
	followVRRP bool
	// vips are the addresses whose services follow VRRP, with their state.
	vips map[netip.Addr]bool
	// base holds counters at the last -Z, subtracted from what is shown.
	base map[forward.ServiceKey]baseline
}

var _ health.Sink = (*Reconciler)(nil)

// New returns a Reconciler driving be. A nil cfg means the defaults.
func New(be forward.Backend, cfg *Config) *Reconciler {
	if cfg == nil {
		cfg = &Config{}
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Reconciler{be: be, size: cfg.Size, log: log, followVRRP: cfg.FollowVRRP, byName: map[string]*Service{},
		managed: map[string]map[netip.AddrPort]int32{}, vips: map[netip.Addr]bool{},
		base: map[forward.ServiceKey]baseline{}}
}

// Apply makes the backend's services those of svcs: new services are added,
// changed ones updated (keeping connections), and services no longer
// configured (or added at runtime by ulvsadm) deleted. Real servers are
// health's business and come through the Sink; runtime ones not put there
// by health are removed, and those health put there get back the settings
// it gave them. Problems with one service are returned and do not stop the
// others.
func (r *Reconciler) Apply(svcs []*Service) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	want := map[forward.ServiceKey]forward.ServiceConfig{}
	owner := map[forward.ServiceKey]*Service{}
	byName := map[string]*Service{}
	for _, s := range svcs {
		byName[s.Name] = s
		for _, c := range s.Configs {
			want[c.Key] = c
			owner[c.Key] = s
		}
	}
	have := map[forward.ServiceKey]forward.ServiceStatus{}
	for _, st := range r.be.Services() {
		have[st.Config.Key] = st
	}
	for k, c := range want {
		old, ok := have[k]
		switch {
		case !ok:
			if err := r.be.AddService(c); err != nil {
				errs = append(errs, fmt.Errorf("%s: virtual_server %s: %w", owner[k].Where, k, err))
				continue
			}
			if enabled, follows := r.vips[k.Addr]; follows {
				if err := r.be.SetVIP(k.Addr, enabled); err != nil {
					errs = append(errs, err)
				}
			}
		case !sameService(old.Config, c):
			if err := r.be.UpdateService(c); err != nil {
				errs = append(errs, fmt.Errorf("%s: virtual_server %s: %w", owner[k].Where, k, err))
			}
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			if err := r.be.DeleteService(k); err != nil && !errors.Is(err, forward.ErrNotFound) {
				errs = append(errs, fmt.Errorf("delete virtual service %s: %w", k, err))
			}
			delete(r.base, k)
		}
	}
	for name := range r.managed {
		if byName[name] == nil {
			delete(r.managed, name)
		}
	}
	r.byName = byName
	// Real servers health did not put there (ulvsadm -a) go; those it did
	// get back the weight and settings health gave them (ulvsadm -e).
	for _, st := range r.be.Services() {
		s := owner[st.Config.Key]
		if s == nil {
			continue
		}
		for _, rs := range st.Reals {
			ap := netip.AddrPortFrom(rs.Config.Addr, rs.Config.Port)
			w, ok := r.managed[s.Name][ap]
			if !ok {
				if err := r.be.DeleteReal(st.Config.Key, ap); err != nil && !errors.Is(err, forward.ErrNotFound) {
					errs = append(errs, err)
				}
				continue
			}
			want := s.realConfig(health.Dest{Addr: ap, Weight: int64(w)})
			if !sameReal(rs.Config, want) {
				if err := r.be.UpdateReal(st.Config.Key, want); err != nil {
					errs = append(errs, fmt.Errorf("%s %s: %w", st.Config.Key, ap, err))
				}
			}
		}
	}
	return errs
}

// sameReal: the backend's real server already has the settings want gives
// (a method only when want sets one).
func sameReal(a, b forward.RealConfig) bool {
	return a.Weight == b.Weight && a.UThreshold == b.UThreshold && a.LThreshold == b.LThreshold &&
		(!b.MethodSet || a.Method == b.Method)
}

// sameService: the backend's service already has every setting c gives,
// the sorry server's included (its address, port, weight and method, not
// only whether there is one).
func sameService(a, b forward.ServiceConfig) bool {
	if (a.Sorry == nil) != (b.Sorry == nil) || a.Sorry != nil && *a.Sorry != *b.Sorry {
		return false
	}
	a.Sorry, b.Sorry = nil, nil
	return a == b
}

// realConfig is what the backend gets for a destination health adds.
func (s *Service) realConfig(d health.Dest) forward.RealConfig {
	rc, ok := s.Reals[d.Addr]
	if !ok {
		rc = forward.RealConfig{Addr: d.Addr.Addr(), Port: d.Addr.Port()}
	}
	rc.Weight = ClampWeight(d.Weight)
	return rc
}

// ClampWeight fits a keepalived weight (health's int64) into the backend's
// range: negative weights are 0.
func ClampWeight(w int64) int32 {
	switch {
	case w < 0:
		return 0
	case w > 1<<31-1:
		return 1<<31 - 1
	}
	return int32(w)
}
