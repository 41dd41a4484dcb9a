package health

import (
	"context"
	"net/netip"
	"time"
)

// ServiceStatus is a virtual service as the runner sees it.
type ServiceStatus struct {
	// Service is VirtualServer.Key.
	Service string
	// QuorumUp reports whether the alive weight meets the quorum.
	QuorumUp bool
	// AliveWeight is the sum of the alive real servers' weights.
	AliveWeight int64
	// SorryServer is the sorry server (invalid: none); SorryActive
	// reports whether it holds the service now.
	SorryServer netip.AddrPort
	SorryActive bool
	// Suspended reports checkers paused by ha_suspend.
	Suspended bool
	Reals     []RealStatus
}

// RealStatus is a real server.
type RealStatus struct {
	Addr netip.AddrPort
	// Alive: all checkers up. InPool: in the data path (alive, or at
	// weight 0 with inhibit_on_failure).
	Alive, InPool bool
	// Weight is the effective weight; ConfigWeight the configured one.
	Weight, ConfigWeight int64
	// FailedCheckers counts the checkers that are down.
	FailedCheckers int
	Checkers       []CheckerStatus
}

// CheckerStatus is one checker, for ulvsadm and metrics.
type CheckerStatus struct {
	// Name is "KIND target", e.g. "HTTP_GET [198.18.0.11]:80".
	Name string
	Kind Kind
	// Target is what is checked: "[IP]:PORT", an address (PING_CHECK),
	// the script (MISC_CHECK) or the file (FILE_CHECK).
	Target string
	// Up is the checker's state; HasRun is false until its first verdict.
	Up, HasRun bool
	// Retries is how many retries are spent on the current failure.
	Retries int
	// Runs and Failures count attempts since start; Consecutive counts
	// the failed attempts since the last success.
	Runs, Failures uint64
	Consecutive    int
	// LastTime, LastOK, LastLatency and LastReason describe the last
	// attempt.
	LastTime    time.Time
	LastOK      bool
	LastLatency time.Duration
	LastReason  string
}

// Status returns a snapshot of every service, real server and checker.
func (r *Runner) Status(ctx context.Context) ([]ServiceStatus, error) {
	var out []ServiceStatus
	err := r.do(ctx, func() { out = r.status() })
	return out, err
}

func (r *Runner) status() []ServiceStatus {
	out := make([]ServiceStatus, 0, len(r.services))
	for _, vs := range r.services {
		s := ServiceStatus{Service: vs.key, QuorumUp: vs.quorumUp, AliveWeight: weighLive(vs), Suspended: vs.suspended}
		if vs.sorry != nil {
			s.SorryServer, s.SorryActive = vs.sorry.addr, vs.sorry.alive
		}
		for _, rs := range vs.reals {
			rst := RealStatus{Addr: rs.addr, Alive: rs.alive, InPool: rs.set, Weight: rs.effWeight,
				ConfigWeight: rs.iweight, FailedCheckers: rs.numFailed}
			for _, c := range rs.checkers {
				rst.Checkers = append(rst.Checkers, CheckerStatus{
					Name: c.name, Kind: c.kind, Target: c.target, Up: c.st.up, HasRun: c.st.hasRun, Retries: c.st.retryIt,
					Runs: c.runs, Failures: c.failures, Consecutive: c.consecutive, LastTime: c.lastTime, LastOK: c.last.ok,
					LastLatency: c.last.latency, LastReason: c.last.reason,
				})
			}
			s.Reals = append(s.Reals, rst)
		}
		out = append(out, s)
	}
	return out
}
