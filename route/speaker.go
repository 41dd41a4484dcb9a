package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	"go.uber.org/zap"
)

// Config is the speaker's global settings.
type Config struct {
	RouterID netip.Addr
	LocalAS  uint32
	// ListenPort is the TCP port for sessions neighbours open (passive
	// neighbours need one); 0 means none: the speaker only connects out.
	ListenPort int
	// ListenAddrs bound the listening socket (default: every address).
	ListenAddrs []netip.Addr
	// BFDPoll is how often BFD states are read for events (default 100 ms;
	// GoBGP has no BFD event stream).
	BFDPoll time.Duration
	// Logger: nil means none.
	Logger *zap.Logger
}

// Neighbor is one BGP session.
type Neighbor struct {
	Addr      netip.Addr
	RemoteAS  uint32
	LocalAddr netip.Addr // unset: the kernel's choice
	Port      int        // 0: 179
	// HoldTime, Keepalive and ConnectRetry are the session timers; zero
	// takes GoBGP's (90 s, 30 s, 120 s).
	HoldTime, Keepalive, ConnectRetry time.Duration
	Passive                           bool
	MultihopTTL                       int
	Password                          string
	BFD                               *BFD // nil: off
}

// BFD is a neighbour's BFD: Interval is both the desired transmit and the
// required receive interval; detection takes Interval × Multiplier.
type BFD struct {
	Interval   time.Duration
	Multiplier int
}

// Announcement is a prefix with its path attributes.
type Announcement struct {
	Prefix      netip.Prefix
	MED         uint32
	MEDSet      bool
	Communities []uint32
}

// Speaker is a running BGP speaker. Its methods are safe for concurrent use.
type Speaker struct {
	cfg Config
	log *zap.Logger
	s   *server.BgpServer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	neighbors map[netip.Addr]Neighbor
	peers     map[netip.Addr]*peerInfo
	prefixes  map[netip.Prefix]*prefixInfo
	events    chan Event
	dropped   uint64
}

type peerInfo struct {
	state, bfd        string
	since, bfdSince   time.Time
	lastDown          string
	flaps, bfdFailure uint64
}

type prefixInfo struct {
	ann       Announcement
	announced bool
	reason    string
	since     time.Time
	// announces and withdraws count transitions.
	announces, withdraws uint64
}

// Start starts a speaker with no neighbours and no prefixes.
func Start(cfg *Config) (*Speaker, error) {
	if cfg == nil || !cfg.RouterID.Is4() || cfg.LocalAS == 0 {
		return nil, errors.New("route: a router ID (IPv4) and a local AS are needed")
	}
	c := *cfg
	if c.BFDPoll == 0 {
		c.BFDPoll = 100 * time.Millisecond
	}
	log := c.Logger
	if log == nil {
		log = zap.NewNop()
	}
	bs := server.NewBgpServer(server.LoggerOption(slog.New(&zapHandler{log: log.Named("gobgp")}), nil))
	go bs.Serve()
	port := int32(-1)
	if c.ListenPort > 0 {
		port = int32(c.ListenPort)
	}
	var listen []string
	for _, a := range c.ListenAddrs {
		listen = append(listen, a.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := bs.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: c.LocalAS, RouterId: c.RouterID.String(), ListenPort: port, ListenAddresses: listen,
	}}); err != nil {
		cancel()
		bs.Stop()
		return nil, fmt.Errorf("route: start: %w", err)
	}
	s := &Speaker{cfg: c, log: log, s: bs, ctx: ctx, cancel: cancel,
		neighbors: map[netip.Addr]Neighbor{}, peers: map[netip.Addr]*peerInfo{},
		prefixes: map[netip.Prefix]*prefixInfo{}, events: make(chan Event, 256)}
	if err := bs.WatchEvent(ctx, server.WatchEventMessageCallbacks{OnPeerUpdate: s.onPeer}, server.WatchPeer()); err != nil {
		s.Stop()
		return nil, fmt.Errorf("route: watch: %w", err)
	}
	s.wg.Go(s.pollBFD)
	log.Info("bgp speaker started", zap.Stringer("router_id", c.RouterID), zap.Uint32("local_as", c.LocalAS),
		zap.Int("listen_port", c.ListenPort))
	return s, nil
}

// Stop closes every session (a Cease NOTIFICATION: the routers withdraw
// this director's routes at once) and stops the speaker.
func (s *Speaker) Stop() {
	s.cancel()
	s.wg.Wait()
	s.s.Stop()
	s.log.Info("bgp speaker stopped")
}

// Events delivers neighbour, BFD and announcement changes. It is never
// closed; events that find it full are dropped (and counted in Status).
func (s *Speaker) Events() <-chan Event { return s.events }

func (s *Speaker) emitLocked(e Event) {
	select {
	case s.events <- e:
	default:
		s.dropped++
	}
}

// SetNeighbors makes the speaker's neighbours ns, as a difference: an
// unchanged neighbour keeps its session; a changed one is removed and added
// again (its session restarts); new ones are added and missing ones
// removed (their sessions close).
func (s *Speaker) SetNeighbors(ns []Neighbor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[netip.Addr]Neighbor{}
	for _, n := range ns {
		if _, dup := want[n.Addr]; dup {
			return fmt.Errorf("route: neighbor %s twice", n.Addr)
		}
		if n.Passive && s.cfg.ListenPort <= 0 {
			return fmt.Errorf("route: neighbor %s is passive, and the speaker listens on no port", n.Addr)
		}
		want[n.Addr] = n
	}
	var errs []error
	for a, old := range s.neighbors {
		if n, ok := want[a]; ok && sameNeighbor(old, n) {
			continue
		}
		if err := s.s.DeletePeer(s.ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
			errs = append(errs, fmt.Errorf("route: remove neighbor %s: %w", a, err))
			continue
		}
		delete(s.neighbors, a)
		delete(s.peers, a)
		s.log.Info("bgp neighbor removed", zap.Stringer("neighbor", a))
	}
	for a, n := range want {
		if _, ok := s.neighbors[a]; ok {
			continue
		}
		if err := s.s.AddPeer(s.ctx, &api.AddPeerRequest{Peer: apiPeer(n)}); err != nil {
			errs = append(errs, fmt.Errorf("route: add neighbor %s: %w", a, err))
			continue
		}
		s.neighbors[a] = n
		s.peers[a] = &peerInfo{state: "idle", bfd: bfdOff(n), since: time.Now()}
		s.log.Info("bgp neighbor added", zap.Stringer("neighbor", a), zap.Uint32("remote_as", n.RemoteAS),
			zap.Duration("hold_time", n.HoldTime), zap.Bool("bfd", n.BFD != nil))
	}
	return errors.Join(errs...)
}

func bfdOff(n Neighbor) string {
	if n.BFD == nil {
		return "off"
	}
	return "down"
}

func sameNeighbor(a, b Neighbor) bool {
	if (a.BFD == nil) != (b.BFD == nil) || a.BFD != nil && *a.BFD != *b.BFD {
		return false
	}
	a.BFD, b.BFD = nil, nil
	return a == b
}

func family(a netip.Addr) *api.Family {
	if a.Is4() {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

func apiPeer(n Neighbor) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Addr.String(), PeerAsn: n.RemoteAS, AuthPassword: n.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{HoldTime: secs(n.HoldTime), KeepaliveInterval: secs(n.Keepalive),
			ConnectRetry: secs(n.ConnectRetry), IdleHoldTimeAfterReset: 1}},
		Transport: &api.Transport{PassiveMode: n.Passive, RemotePort: uint32(n.Port)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: family(n.Addr), Enabled: true}}},
	}
	if n.LocalAddr.IsValid() {
		p.Transport.LocalAddress = n.LocalAddr.String()
	}
	if n.MultihopTTL > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.MultihopTTL)}
	}
	if n.BFD != nil {
		us := uint32(n.BFD.Interval / time.Microsecond)
		p.Bfd = &api.BfdPeerConfig{Enabled: true, DesiredMinimumTxInterval: us, RequiredMinimumReceive: us,
			DetectionMultiplier: uint32(n.BFD.Multiplier)}
	}
	return p
}

func secs(d time.Duration) uint64 { return uint64((d + time.Second - 1) / time.Second) }

func pathOf(a Announcement, withdraw bool) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(a.Prefix)
	if err != nil {
		return nil, err
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	fam := bgp.RF_IPv4_UC
	if a.Prefix.Addr().Is4() {
		// 0.0.0.0: GoBGP puts the session's own address (next hop self).
		nh, err := bgp.NewPathAttributeNextHop(netip.IPv4Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		fam = bgp.RF_IPv6_UC
		mp, err := bgp.NewPathAttributeMpReachNLRI(fam, []bgp.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	if a.MEDSet {
		attrs = append(attrs, bgp.NewPathAttributeMultiExitDisc(a.MED))
	}
	if len(a.Communities) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeCommunities(a.Communities))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs, Withdrawal: withdraw}, nil
}

func sameAnnouncement(a, b Announcement) bool {
	return a.Prefix == b.Prefix && a.MED == b.MED && a.MEDSet == b.MEDSet && slices.Equal(a.Communities, b.Communities)
}

// Announce announces a (again, when its attributes changed) and records
// why. Announcing what is announced with the same attributes only updates
// the reason.
func (s *Speaker) Announce(a Announcement, reason string) error {
	a.Prefix = a.Prefix.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prefixes[a.Prefix]
	if p == nil {
		p = &prefixInfo{since: time.Now()}
		s.prefixes[a.Prefix] = p
	}
	if p.announced && sameAnnouncement(p.ann, a) {
		p.reason = reason
		return nil
	}
	path, err := pathOf(a, false)
	if err != nil {
		return fmt.Errorf("route: %s: %w", a.Prefix, err)
	}
	if _, err := s.s.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{path}}); err != nil {
		return fmt.Errorf("route: announce %s: %w", a.Prefix, err)
	}
	was := p.announced
	p.ann, p.announced, p.reason = a, true, reason
	if !was {
		p.since = time.Now()
		p.announces++
		s.log.Info("prefix announced", zap.Stringer("prefix", a.Prefix), zap.String("reason", reason))
		s.emitLocked(Event{Time: p.since, Kind: EventAnnounced, Prefix: a.Prefix, Reason: reason})
	} else {
		s.log.Info("prefix attributes changed", zap.Stringer("prefix", a.Prefix), zap.Uint32("med", a.MED))
	}
	return nil
}

// Withdraw withdraws prefix if it is announced, and records why (a prefix
// never announced is shown withdrawn with this reason).
func (s *Speaker) Withdraw(prefix netip.Prefix, reason string) error {
	prefix = prefix.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prefixes[prefix]
	if p == nil {
		p = &prefixInfo{ann: Announcement{Prefix: prefix}, since: time.Now()}
		s.prefixes[prefix] = p
	}
	p.reason = reason
	if !p.announced {
		return nil
	}
	if err := s.withdrawLocked(p); err != nil {
		return err
	}
	s.log.Info("prefix withdrawn", zap.Stringer("prefix", prefix), zap.String("reason", reason))
	s.emitLocked(Event{Time: p.since, Kind: EventWithdrawn, Prefix: prefix, Reason: reason})
	return nil
}

func (s *Speaker) withdrawLocked(p *prefixInfo) error {
	path, err := pathOf(p.ann, true)
	if err != nil {
		return fmt.Errorf("route: %s: %w", p.ann.Prefix, err)
	}
	if err := s.s.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{path}}); err != nil {
		return fmt.Errorf("route: withdraw %s: %w", p.ann.Prefix, err)
	}
	p.announced, p.since = false, time.Now()
	p.withdraws++
	return nil
}

// Forget withdraws prefix if needed and drops it from Status (a reload
// removed it from the configuration).
func (s *Speaker) Forget(prefix netip.Prefix) error {
	prefix = prefix.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prefixes[prefix]
	if p == nil {
		return nil
	}
	if p.announced {
		if err := s.withdrawLocked(p); err != nil {
			return err
		}
		s.log.Info("prefix withdrawn", zap.Stringer("prefix", prefix), zap.String("reason", "removed from the configuration"))
		s.emitLocked(Event{Time: p.since, Kind: EventWithdrawn, Prefix: prefix, Reason: "removed from the configuration"})
	}
	delete(s.prefixes, prefix)
	return nil
}
