// Command ipvsagent is the guest agent of the kernel IPVS VM tests and of
// the bench's VM scenarios: the built-in operations of package agent plus
// the forward.Backend methods ("ipvs.*") of the IPVS backend (ipvs.new) or
// of ulvs's userspace forwarder (userspace.new), so that the host programs
// the guest through exactly the code ulvsd runs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"sync"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/ipvs"
	"github.com/ulvs/ulvs/internal/vm/agent"
)

// Arguments of the operations that take more than one value.
type (
	// RealArgs: ipvs.add_real, ipvs.update_real.
	RealArgs struct {
		Key  forward.ServiceKey
		Real forward.RealConfig
	}
	// DeleteRealArgs: ipvs.delete_real.
	DeleteRealArgs struct {
		Key  forward.ServiceKey
		Real netip.AddrPort
	}
	// VIPArgs: ipvs.set_vip.
	VIPArgs struct {
		Addr    netip.Addr
		Enabled bool
	}
	// UserspaceArgs: userspace.new.
	// SyncArgs are ipvs.set_sync's: the role and lvs_sync_daemon's settings.
	SyncArgs struct {
		Role forward.SyncRole
		Cfg  forward.SyncConfig
	}
	UserspaceArgs struct {
		Interfaces []string
		Workers    int
		// IO is forward.Config.IO (lbbench's ulvs-over-XDP scenario).
		IO string
		// RingVersion is forward.Config.RingVersion (lbbench's ulvs DR V2
		// scenario; 0: the default).
		RingVersion int
		// XDPFastPath is forward.Config.XDPFastPath (lbbench's ulvs DR XDP
		// fast scenario).
		XDPFastPath bool
	}
)

type server struct {
	mu sync.Mutex
	b  forward.Backend
}

func (s *server) backend() (forward.Backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b == nil {
		return nil, errors.New("ipvsagent: no backend (call ipvs.new)")
	}
	return s.b, nil
}

// op adapts a backend call taking T to an agent handler.
func op[T any](s *server, f func(forward.Backend, T) (any, error)) agent.Handler {
	return func(_ context.Context, raw json.RawMessage) (any, error) {
		var args T
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &args); err != nil {
				return nil, err
			}
		}
		b, err := s.backend()
		if err != nil {
			return nil, err
		}
		return f(b, args)
	}
}

func main() {
	s := &server{}
	a := agent.New()
	a.Handle("ipvs.new", func(_ context.Context, raw json.RawMessage) (any, error) {
		var cfg ipvs.Config
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &cfg); err != nil {
				return nil, err
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.b != nil {
			_ = s.b.Close()
			s.b = nil
		}
		b, err := ipvs.New(&cfg)
		if err != nil {
			return nil, err
		}
		s.b = b
		return nil, nil
	})
	// userspace.new starts ulvs's own userspace forwarder in the guest
	// instead, driven by the same ipvs.* operations (the bench compares
	// the two backends inside one VM).
	a.Handle("userspace.new", func(_ context.Context, raw json.RawMessage) (any, error) {
		var cfg UserspaceArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &cfg); err != nil {
				return nil, err
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.b != nil {
			_ = s.b.Close()
			s.b = nil
		}
		b, err := forward.NewUserspace(&forward.Config{Interfaces: cfg.Interfaces, Workers: cfg.Workers, IO: cfg.IO,
			RingVersion: cfg.RingVersion, XDPFastPath: cfg.XDPFastPath})
		if err != nil {
			return nil, err
		}
		s.b = b
		return nil, nil
	})
	a.Handle("ipvs.add_service", op(s, func(b forward.Backend, c forward.ServiceConfig) (any, error) {
		return nil, b.AddService(c)
	}))
	a.Handle("ipvs.update_service", op(s, func(b forward.Backend, c forward.ServiceConfig) (any, error) {
		return nil, b.UpdateService(c)
	}))
	a.Handle("ipvs.delete_service", op(s, func(b forward.Backend, k forward.ServiceKey) (any, error) {
		return nil, b.DeleteService(k)
	}))
	a.Handle("ipvs.add_real", op(s, func(b forward.Backend, r RealArgs) (any, error) {
		return nil, b.AddReal(r.Key, r.Real)
	}))
	a.Handle("ipvs.update_real", op(s, func(b forward.Backend, r RealArgs) (any, error) {
		return nil, b.UpdateReal(r.Key, r.Real)
	}))
	a.Handle("ipvs.delete_real", op(s, func(b forward.Backend, r DeleteRealArgs) (any, error) {
		return nil, b.DeleteReal(r.Key, r.Real)
	}))
	a.Handle("ipvs.set_vip", op(s, func(b forward.Backend, v VIPArgs) (any, error) {
		return nil, b.SetVIP(v.Addr, v.Enabled)
	}))
	a.Handle("ipvs.set_timeouts", op(s, func(b forward.Backend, t forward.Timeouts) (any, error) {
		return nil, b.SetTimeouts(t)
	}))
	a.Handle("ipvs.set_sync", op(s, func(b forward.Backend, a SyncArgs) (any, error) {
		sb, ok := b.(interface {
			SetSync(forward.SyncRole, forward.SyncConfig) error
		})
		if !ok {
			return nil, forward.ErrUnsupported
		}
		return nil, sb.SetSync(a.Role, a.Cfg)
	}))
	a.Handle("ipvs.services", op(s, func(b forward.Backend, _ struct{}) (any, error) {
		return b.Services(), nil
	}))
	a.Handle("ipvs.conns", op(s, func(b forward.Backend, _ struct{}) (any, error) {
		return b.Conns(), nil
	}))
	a.Handle("ipvs.close", func(context.Context, json.RawMessage) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.b == nil {
			return nil, nil
		}
		err := s.b.Close()
		s.b = nil
		return nil, err
	})
	os.Exit(agent.Main(a))
}
