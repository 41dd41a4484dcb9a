package health

import (
	"net/netip"
	"time"
)

// Sink is how the runner changes the data path: it adds, updates and
// removes the destinations of virtual services, as keepalived's checker
// process does to IPVS. cmd/ulvsd implements it over package forward.
//
// Services are named by VirtualServer.Key. The methods are called from the
// runner's goroutine, in order, and must not block for long. An error
// leaves the runner's view unchanged for that operation where keepalived's
// does (a real server that could not be added stays down and is added at
// its next successful check).
type Sink interface {
	// AddDest puts a destination into the service's pool.
	AddDest(service string, d Dest) error
	// UpdateDest changes the weight of a destination in the pool
	// (inhibit_on_failure sets weight 0 instead of removing).
	UpdateDest(service string, d Dest) error
	// RemoveDest takes a destination out of the pool.
	RemoveDest(service string, d Dest) error
}

// Dest is a destination of a virtual service.
type Dest struct {
	// Addr is the real (or sorry) server.
	Addr netip.AddrPort
	// Weight is the scheduling weight; 0 means quiesced.
	Weight int64
	// Sorry marks the service's sorry_server.
	Sorry bool
}

// EventKind says what an Event reports.
type EventKind uint8

// The event kinds.
const (
	// CheckerUp and CheckerDown: one checker changed state.
	CheckerUp EventKind = iota + 1
	CheckerDown
	// RealServerUp and RealServerDown: a real server entered or left the
	// pool (or was enabled/disabled with inhibit_on_failure).
	RealServerUp
	RealServerDown
	// WeightChanged: a real server's effective weight changed (MISC_CHECK
	// misc_dynamic, FILE_CHECK, reload).
	WeightChanged
	// QuorumUp and QuorumDown: the service gained or lost quorum; with a
	// sorry_server, QuorumDown switched traffic to it and QuorumUp back.
	QuorumUp
	QuorumDown
)

var eventNames = [...]string{
	CheckerUp: "checker_up", CheckerDown: "checker_down", RealServerUp: "real_server_up",
	RealServerDown: "real_server_down", WeightChanged: "weight_changed", QuorumUp: "quorum_up",
	QuorumDown: "quorum_down",
}

// String returns the kind in snake_case, as logs and the control socket
// show it.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event is a state change, with the reason, for logs, the control socket
// and metrics.
type Event struct {
	Time time.Time
	Kind EventKind
	// Service is the virtual service (VirtualServer.Key).
	Service string
	// Real is the real server (invalid for quorum events).
	Real netip.AddrPort
	// Checker names the checker for checker events ("HTTP_GET [IP]:port").
	Checker string
	// Weight is the real server's effective weight, or for quorum events
	// the alive weight sum.
	Weight int64
	// Reason says why, in keepalived's words where it has some.
	Reason string
}
