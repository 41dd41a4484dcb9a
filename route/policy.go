package route

import (
	"fmt"
	"strings"
)

// ServiceHealth is one virtual server of a prefix, as the health checkers
// see it.
type ServiceHealth struct {
	// Name is how messages name it, e.g. "TCP 198.18.0.100:80".
	Name string
	// Alive is the weight of its alive real servers; Quorum the weight it
	// needs (keepalived's quorum, or the prefix's own).
	Alive, Quorum int
}

// Inputs is everything Decide looks at for one prefix.
type Inputs struct {
	// Stopping: ulvsd got SIGTERM and withdraws before it stops.
	Stopping bool
	// Maintenance, when not empty, says why the director is in
	// maintenance (e.g. "maintenance file /etc/ulvs/maintenance exists").
	Maintenance string
	// Forwarding: the forwarder runs.
	Forwarding bool
	// HealthReady: every checker of the prefix's virtual servers has
	// finished its first round, so Alive counts are real.
	HealthReady bool
	// Services are the prefix's virtual servers.
	Services []ServiceHealth
	// Track names a VRRP instance that must be MASTER ("" for none), and
	// TrackState is its state.
	Track, TrackState string
}

// Decide says whether a prefix is announced and why: the first reason not
// to serve withdraws it, in the order of Inputs' fields; with none, it is
// announced, and the reason sums up what holds.
func Decide(in Inputs) (announce bool, reason string) {
	switch {
	case in.Stopping:
		return false, "shutting down (SIGTERM): withdrawn before forwarding stops"
	case in.Maintenance != "":
		return false, "maintenance: " + in.Maintenance
	case !in.Forwarding:
		return false, "the forwarder is not running"
	case len(in.Services) == 0:
		return false, "no virtual server serves this prefix"
	case !in.HealthReady:
		return false, "waiting for the first round of health checks"
	}
	var ok []string
	for _, s := range in.Services {
		if s.Alive < s.Quorum || s.Alive <= 0 {
			return false, fmt.Sprintf("%s: alive weight %d below quorum %d", s.Name, s.Alive, max(s.Quorum, 1))
		}
		ok = append(ok, fmt.Sprintf("%s alive weight %d, quorum %d", s.Name, s.Alive, s.Quorum))
	}
	if in.Track != "" {
		if in.TrackState != "MASTER" {
			st := in.TrackState
			if st == "" {
				st = "not running"
			}
			return false, fmt.Sprintf("vrrp_instance %s is %s, not MASTER", in.Track, st)
		}
		ok = append(ok, "vrrp_instance "+in.Track+" MASTER")
	}
	return true, "serving: " + strings.Join(ok, "; ")
}
