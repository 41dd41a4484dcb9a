package lvs

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/sched"
)

// Edit applies an ipvsadm-style runtime edit. It lasts until the next
// reload, as ipvsadm edits under keepalived do.
func (r *Reconciler) Edit(e *ctl.Edit) error {
	if e.Cmd == ctl.EditZero {
		r.Zero()
		return nil
	}
	if e.Cmd == ctl.EditTimeout {
		if e.Timeouts == nil {
			return errors.New("set: no timeouts")
		}
		t := e.Timeouts
		return r.be.SetTimeouts(forward.Timeouts{TCP: seconds(t.TCP), TCPFin: seconds(t.TCPFin), UDP: seconds(t.UDP)})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Cmd == ctl.EditClear {
		var errs []error
		for _, st := range r.be.Services() {
			errs = append(errs, r.be.DeleteService(st.Config.Key))
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
		return r.be.AddService(cfg)
	case ctl.EditEditService:
		return r.be.UpdateService(cfg)
	case ctl.EditDelService:
		return r.be.DeleteService(key)
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
		return r.be.AddReal(key, rc)
	case ctl.EditEditDest:
		return r.be.UpdateReal(key, rc)
	case ctl.EditDelDest:
		return r.be.DeleteReal(key, netip.AddrPortFrom(rc.Addr, rc.Port))
	}
	return fmt.Errorf("unknown edit -%s", e.Cmd)
}

// FamilyAddr is the address that names a firewall-mark service's family.
func FamilyAddr(ipv6 bool) netip.Addr {
	if ipv6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func serviceFromSpec(s *ctl.ServiceSpec) (forward.ServiceKey, forward.ServiceConfig, error) {
	var k forward.ServiceKey
	if s.FWMark != 0 {
		k = forward.ServiceKey{FWMark: s.FWMark, Addr: FamilyAddr(s.IPv6)}
	} else {
		p, ok := protoNumber(s.Proto)
		if !ok || !s.Addr.IsValid() {
			return k, forward.ServiceConfig{}, fmt.Errorf("bad virtual service %s %s:%d", s.Proto, s.Addr, s.Port)
		}
		k = forward.ServiceKey{Addr: s.Addr, Port: s.Port, Proto: p}
	}
	name := s.Sched
	if name == "" {
		name = sched.Default
	}
	c := forward.ServiceConfig{Key: k, Scheduler: name, SchedFlags: s.Flags &^ (ctl.FlagPersistent | ctl.FlagOnePacket | ctl.FlagHashed),
		Granularity: s.Netmask, OnePacket: s.Flags&ctl.FlagOnePacket != 0, Method: forward.NAT}
	if s.Flags&ctl.FlagPersistent != 0 {
		c.Persistence = seconds(int(s.Timeout))
	}
	return k, c, nil
}

// protoNumber is the protocol ipvsadm names word (TCP, UDP, SCTP).
func protoNumber(word string) (uint8, bool) {
	for p, w := range ProtoWords {
		if w == word {
			return p, true
		}
	}
	return 0, false
}

func realFromSpec(d *ctl.DestSpec) (forward.RealConfig, error) {
	rc := forward.RealConfig{Addr: d.Addr, Port: d.Port, Weight: ClampWeight(int64(d.Weight)),
		UThreshold: d.UThreshold, LThreshold: d.LThreshold}
	if d.Method != "" {
		for m, w := range MethodWords {
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
