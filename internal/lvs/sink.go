package lvs

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
)

// destOp is what health asks of a destination.
type destOp uint8

const (
	opAdd destOp = iota
	opUpdate
	opRemove
)

// destLocked applies one of health's pool decisions to every backend
// service of the virtual server. An add of a destination that exists
// updates it and an update of one that is missing adds it: health and the
// backend agree again whatever a runtime edit did in between.
func (r *Reconciler) destLocked(service string, d health.Dest, op destOp) error {
	s := r.byName[service]
	switch {
	case s == nil && op == opRemove:
		// A reload removed the service, with its destinations, before
		// health (applied after) took them out of its pool.
		return nil
	case s == nil:
		return fmt.Errorf("lvs: health named an unknown service %s", service)
	}
	rc := s.realConfig(d)
	var errs []error
	for _, c := range s.Configs {
		var err error
		switch op {
		case opAdd:
			err = r.be.AddReal(c.Key, rc)
			if errors.Is(err, forward.ErrExists) {
				err = r.be.UpdateReal(c.Key, rc)
			}
		case opUpdate:
			err = r.be.UpdateReal(c.Key, rc)
			if errors.Is(err, forward.ErrNotFound) {
				err = r.be.AddReal(c.Key, rc)
			}
		case opRemove:
			err = r.be.DeleteReal(c.Key, d.Addr)
			if errors.Is(err, forward.ErrNotFound) {
				err = nil
			}
		}
		if err != nil && !errors.Is(err, forward.ErrUnsupported) {
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Key, d.Addr, err))
		}
	}
	m := r.managed[service]
	if m == nil {
		m = map[netip.AddrPort]int32{}
		r.managed[service] = m
	}
	if op == opRemove {
		delete(m, d.Addr)
	} else {
		m[d.Addr] = rc.Weight
	}
	return errors.Join(errs...)
}

func (r *Reconciler) dest(service string, d health.Dest, op destOp) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.destLocked(service, d, op)
}

// AddDest implements health.Sink.
func (r *Reconciler) AddDest(service string, d health.Dest) error { return r.dest(service, d, opAdd) }

// UpdateDest implements health.Sink.
func (r *Reconciler) UpdateDest(service string, d health.Dest) error {
	return r.dest(service, d, opUpdate)
}

// RemoveDest implements health.Sink.
func (r *Reconciler) RemoveDest(service string, d health.Dest) error {
	return r.dest(service, d, opRemove)
}

// Discard is the health.Sink of a daemon without a data path (no
// virtual_server): health's decisions go nowhere.
type Discard struct{}

// AddDest implements health.Sink.
func (Discard) AddDest(string, health.Dest) error { return nil }

// UpdateDest implements health.Sink.
func (Discard) UpdateDest(string, health.Dest) error { return nil }

// RemoveDest implements health.Sink.
func (Discard) RemoveDest(string, health.Dest) error { return nil }
