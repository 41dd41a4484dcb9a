package route

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"go.uber.org/zap"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventPeer: a neighbour's session changed state (State).
	EventPeer EventKind = iota + 1
	// EventBFD: a neighbour's BFD session changed state (State).
	EventBFD
	// EventAnnounced and EventWithdrawn: Prefix, with Reason.
	EventAnnounced
	EventWithdrawn
)

func (k EventKind) String() string {
	switch k {
	case EventPeer:
		return "peer"
	case EventBFD:
		return "bfd"
	case EventAnnounced:
		return "announced"
	case EventWithdrawn:
		return "withdrawn"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one change the speaker reports.
type Event struct {
	Time   time.Time
	Kind   EventKind
	Peer   netip.Addr
	State  string // peer: idle, connect, active, opensent, openconfirm, established; bfd: up, down, init, admin_down
	Prefix netip.Prefix
	Reason string
}

func (e Event) String() string {
	switch e.Kind {
	case EventPeer, EventBFD:
		s := fmt.Sprintf("%s %s %s", e.Kind, e.Peer, e.State)
		if e.Reason != "" {
			s += " (" + e.Reason + ")"
		}
		return s
	}
	return fmt.Sprintf("%s %s: %s", e.Prefix, e.Kind, e.Reason)
}

func fsmName(s bgp.FSMState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "BGP_FSM_"))
}

func (s *Speaker) onPeer(ev *apiutil.WatchEventMessage_PeerEvent, ts time.Time) {
	if ev.Type != apiutil.PEER_EVENT_STATE {
		return
	}
	addr := ev.Peer.State.NeighborAddress
	state := fsmName(ev.Peer.State.SessionState)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[addr]
	if p == nil || p.state == state {
		return
	}
	why := ""
	if p.state == "established" {
		p.flaps++
		why = ev.Peer.State.DisconnectMessage
		if why == "" {
			why = strings.ToLower(strings.TrimPrefix(ev.Peer.State.DisconnectReason.String(), "DISCONNECT_REASON_"))
		}
		p.lastDown = why
	}
	p.state, p.since = state, ts
	lvl := zap.DebugLevel
	if state == "established" || why != "" {
		lvl = zap.InfoLevel
	}
	if ce := s.log.Check(lvl, "bgp session"); ce != nil {
		ce.Write(zap.Stringer("neighbor", addr), zap.String("state", state), zap.String("reason", why))
	}
	s.emitLocked(Event{Time: ts, Kind: EventPeer, Peer: addr, State: state, Reason: why})
}

func bfdName(st api.BfdSessionState) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "BFD_SESSION_STATE_"))
}

// pollBFD turns BFD state changes into events (GoBGP keeps BFD state but
// sends no events for it).
func (s *Speaker) pollBFD() {
	t := time.NewTicker(s.cfg.BFDPoll)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		states := map[netip.Addr]string{}
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		s.s.ListBfdPeer(ctx, func(addr string, st *api.BfdPeerState) {
			if a, err := netip.ParseAddr(addr); err == nil {
				states[a] = bfdName(st.GetSessionState())
			}
		})
		cancel()
		now := time.Now()
		s.mu.Lock()
		for a, st := range states {
			p := s.peers[a]
			if p == nil || p.bfd == st {
				continue
			}
			if p.bfd == "up" {
				p.bfdFailure++
			}
			p.bfd, p.bfdSince = st, now
			s.log.Info("bfd session", zap.Stringer("neighbor", a), zap.String("state", st))
			s.emitLocked(Event{Time: now, Kind: EventBFD, Peer: a, State: st})
		}
		s.mu.Unlock()
	}
}

// NeighborStatus is one neighbour as ulvsadm bgp shows it.
type NeighborStatus struct {
	Addr     netip.Addr `json:"addr"`
	RemoteAS uint32     `json:"remote_as"`
	State    string     `json:"state"`
	Since    time.Time  `json:"since"`
	// LastDown is why the session last left established.
	LastDown string `json:"last_down,omitempty"`
	Flaps    uint64 `json:"flaps"`
	// HoldTime is the negotiated hold time (configured while not up).
	HoldTime time.Duration `json:"hold_time"`
	// BFD is off, down, init, up or admin_down; BFDFailures counts up →
	// not up.
	BFD         string        `json:"bfd"`
	BFDSince    time.Time     `json:"bfd_since,omitzero"`
	BFDInterval time.Duration `json:"bfd_interval,omitempty"`
	BFDMult     int           `json:"bfd_multiplier,omitempty"`
	BFDFailures uint64        `json:"bfd_failures"`
}

// PrefixStatus is one prefix: announced or withdrawn, since when, and why.
type PrefixStatus struct {
	Prefix    netip.Prefix `json:"prefix"`
	Announced bool         `json:"announced"`
	Since     time.Time    `json:"since"`
	Reason    string       `json:"reason"`
	MED       *uint32      `json:"med,omitempty"`
	Announces uint64       `json:"announces"`
	Withdraws uint64       `json:"withdraws"`
}

// Status is the speaker's state.
type Status struct {
	RouterID  netip.Addr       `json:"router_id"`
	LocalAS   uint32           `json:"local_as"`
	Neighbors []NeighborStatus `json:"neighbors"`
	Prefixes  []PrefixStatus   `json:"prefixes"`
	// DroppedEvents counts events no one took in time.
	DroppedEvents uint64 `json:"dropped_events"`
}

// Status returns the neighbours (in address order) and prefixes.
func (s *Speaker) Status() Status {
	held := map[netip.Addr]time.Duration{}
	_ = s.s.ListPeer(s.ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		a, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err == nil && p.GetTimers().GetState().GetNegotiatedHoldTime() > 0 {
			held[a] = time.Duration(p.GetTimers().GetState().GetNegotiatedHoldTime()) * time.Second
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{RouterID: s.cfg.RouterID, LocalAS: s.cfg.LocalAS, DroppedEvents: s.dropped}
	for a, n := range s.neighbors {
		p := s.peers[a]
		ns := NeighborStatus{Addr: a, RemoteAS: n.RemoteAS, State: p.state, Since: p.since, LastDown: p.lastDown,
			Flaps: p.flaps, HoldTime: n.HoldTime, BFD: p.bfd, BFDSince: p.bfdSince, BFDFailures: p.bfdFailure}
		if h, ok := held[a]; ok && p.state == "established" {
			ns.HoldTime = h
		}
		if n.BFD != nil {
			ns.BFDInterval, ns.BFDMult = n.BFD.Interval, n.BFD.Multiplier
		}
		st.Neighbors = append(st.Neighbors, ns)
	}
	slices.SortFunc(st.Neighbors, func(a, b NeighborStatus) int { return a.Addr.Compare(b.Addr) })
	for pf, p := range s.prefixes {
		ps := PrefixStatus{Prefix: pf, Announced: p.announced, Since: p.since, Reason: p.reason,
			Announces: p.announces, Withdraws: p.withdraws}
		if p.ann.MEDSet {
			m := p.ann.MED
			ps.MED = &m
		}
		st.Prefixes = append(st.Prefixes, ps)
	}
	slices.SortFunc(st.Prefixes, func(a, b PrefixStatus) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	return st
}
