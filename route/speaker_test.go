package route

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/internal/testkit"
)

// router is an in-process GoBGP peer on loopback standing for the router
// in front of the directors: it listens on 127.0.0.1 and accepts the
// speaker's session from 127.0.0.2.
type router struct {
	s    *server.BgpServer
	port int
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newRouter(t *testing.T, peers ...string) *router {
	t.Helper()
	r := &router{s: server.NewBgpServer(), port: freePort(t)}
	go r.s.Serve()
	t.Cleanup(r.s.Stop)
	ctx := context.Background()
	if err := r.s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: 65000, RouterId: "198.18.0.1",
		ListenPort: int32(r.port), ListenAddresses: []string{"127.0.0.1"}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if err := r.s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: p, PeerAsn: 65001},
			Transport: &api.Transport{PassiveMode: true},
			Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 3, KeepaliveInterval: 1, IdleHoldTimeAfterReset: 1}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// rib renders the router's IPv4 table as sorted "prefix via nexthop [med N]".
func (r *router) rib(t *testing.T) string {
	t.Helper()
	var out []string
	fam := bgp.RF_IPv4_UC
	err := r.s.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: fam},
		func(p bgp.NLRI, paths []*apiutil.Path) {
			for _, path := range paths {
				s := p.String()
				for _, a := range path.Attrs {
					switch a := a.(type) {
					case *bgp.PathAttributeNextHop:
						s += " via " + a.Value.String()
					case *bgp.PathAttributeMultiExitDisc:
						s += fmt.Sprintf(" med %d", a.Value)
					case *bgp.PathAttributeCommunities:
						s += fmt.Sprintf(" communities %v", a.Value)
					}
				}
				out = append(out, s)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// eventually waits (bounded) until the router's table reads want.
func (r *router) eventually(t *testing.T, want, what string) {
	t.Helper()
	got := ""
	if testkit.Poll(45*time.Second, 20*time.Millisecond, func() bool { got = r.rib(t); return got == want }) {
		return
	}
	t.Fatalf("%s: router's table:\n%s\nwant:\n%s", what, got, want)
}

func startSpeaker(t *testing.T, r *router, hold time.Duration) *Speaker {
	t.Helper()
	s, err := Start(&Config{RouterID: netip.MustParseAddr("198.18.0.2"), LocalAS: 65001, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := s.SetNeighbors([]Neighbor{neighbor(r, hold)}); err != nil {
		t.Fatal(err)
	}
	return s
}

func neighbor(r *router, hold time.Duration) Neighbor {
	return Neighbor{Addr: netip.MustParseAddr("127.0.0.1"), RemoteAS: 65000, Port: r.port,
		LocalAddr: netip.MustParseAddr("127.0.0.2"), HoldTime: hold, Keepalive: time.Second, ConnectRetry: time.Second}
}

// waitEvent returns the first event matching, skipping others (bounded;
// generous, because the in-process router keeps a dropped session idle for
// 5 s and under a loaded make test it can take several connect rounds).
func waitEvent(t *testing.T, s *Speaker, match func(Event) bool, what string) Event {
	t.Helper()
	timeout := time.After(45 * time.Second)
	for {
		select {
		case e := <-s.Events():
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no event: %s", what)
		}
	}
}

func established(e Event) bool { return e.Kind == EventPeer && e.State == "established" }

var (
	vip  = netip.MustParsePrefix("198.18.0.100/32")
	vip2 = netip.MustParsePrefix("198.18.0.128/25")
)

// TestAnnouncePolicy: the speaker's prefixes follow Decide on the router,
// state after state, with MED and communities as configured, next hop the
// director's own address, and every reason kept for Status.
func TestAnnouncePolicy(t *testing.T) {
	t.Parallel()
	r := newRouter(t, "127.0.0.2")
	s := startSpeaker(t, r, 3*time.Second)
	waitEvent(t, s, established, "session established")
	web := ServiceHealth{Name: "TCP 198.18.0.100:80", Alive: 2, Quorum: 2}
	serving := Inputs{Forwarding: true, HealthReady: true, Services: []ServiceHealth{web}}
	below := serving
	below.Services = []ServiceHealth{{Name: web.Name, Alive: 1, Quorum: 2}}
	maint := serving
	maint.Maintenance = "maintenance file /m exists"
	track := serving
	track.Track, track.TrackState = "VI_1", "BACKUP"
	ann := Announcement{Prefix: vip, MED: 100, MEDSet: true, Communities: []uint32{65000<<16 | 7}}
	const on = "198.18.0.100/32 via 127.0.0.2 med 100 communities [4259840007]"
	for _, step := range []struct {
		name   string
		in     Inputs
		rib    string
		reason string
	}{
		{"warming up", Inputs{Forwarding: true, Services: serving.Services}, "", "waiting for the first round of health checks"},
		{"serving", serving, on, "serving: TCP 198.18.0.100:80 alive weight 2, quorum 2"},
		{"below quorum", below, "", "TCP 198.18.0.100:80: alive weight 1 below quorum 2"},
		{"healthy again", serving, on, "serving: TCP 198.18.0.100:80 alive weight 2, quorum 2"},
		{"maintenance", maint, "", "maintenance: maintenance file /m exists"},
		{"back", serving, on, "serving: TCP 198.18.0.100:80 alive weight 2, quorum 2"},
		{"tracked backup", track, "", "vrrp_instance VI_1 is BACKUP, not MASTER"},
		{"stopping", Inputs{Stopping: true}, "", "shutting down (SIGTERM): withdrawn before forwarding stops"},
	} {
		announce, reason := Decide(step.in)
		var err error
		if announce {
			err = s.Announce(ann, reason)
		} else {
			err = s.Withdraw(vip, reason)
		}
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		r.eventually(t, step.rib, step.name)
		st := s.Status()
		if len(st.Prefixes) != 1 || st.Prefixes[0].Reason != step.reason || st.Prefixes[0].Announced != announce {
			t.Fatalf("%s: status %+v, want announced=%v, reason %q", step.name, st.Prefixes, announce, step.reason)
		}
	}
	st := s.Status()
	if p := st.Prefixes[0]; p.Announces != 3 || p.Withdraws != 3 {
		t.Errorf("announces %d withdraws %d, want 3 and 3 (warming up and stopping withdrew nothing more)", p.Announces, p.Withdraws)
	}
	// Forget drops a prefix from Status, withdrawing it first.
	if err := s.Announce(Announcement{Prefix: vip2}, "serving"); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "198.18.0.128/25 via 127.0.0.2", "second prefix")
	if err := s.Forget(vip2); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "", "forgotten")
	if n := len(s.Status().Prefixes); n != 1 {
		t.Errorf("%d prefixes after Forget, want 1", n)
	}
}

// TestNeighborsAsDifference: SetNeighbors with the same neighbour keeps
// its session; a changed one restarts it; an empty list closes it and the
// router drops the routes; Stop does the same for a live session.
func TestNeighborsAsDifference(t *testing.T) {
	t.Parallel()
	r := newRouter(t, "127.0.0.2")
	s := startSpeaker(t, r, 3*time.Second)
	waitEvent(t, s, established, "session established")
	if err := s.Announce(Announcement{Prefix: vip}, "serving"); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "198.18.0.100/32 via 127.0.0.2", "announced")
	since := s.Status().Neighbors[0].Since
	if err := s.SetNeighbors([]Neighbor{neighbor(r, 3*time.Second)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a restart would show within this
	if n := s.Status().Neighbors[0]; n.State != "established" || !n.Since.Equal(since) {
		t.Fatalf("unchanged neighbour: %+v, want the same established session since %v", n, since)
	}
	// A changed hold time restarts the session; the prefix comes back.
	if err := s.SetNeighbors([]Neighbor{neighbor(r, 6*time.Second)}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s, established, "session re-established")
	r.eventually(t, "198.18.0.100/32 via 127.0.0.2", "announced on the new session")
	if n := s.Status().Neighbors[0]; !n.Since.After(since) || n.HoldTime != 3*time.Second {
		t.Errorf("changed neighbour: %+v, want a new session with the router's 3 s hold time negotiated", n)
	}
	// Removing the neighbour closes the session: the router drops the route.
	if err := s.SetNeighbors(nil); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "", "neighbour removed")
	if n := len(s.Status().Neighbors); n != 0 {
		t.Errorf("%d neighbours after removal", n)
	}
	if err := s.SetNeighbors([]Neighbor{{Addr: netip.MustParseAddr("127.0.0.1"), RemoteAS: 1, Passive: true}}); err == nil {
		t.Error("a passive neighbour without a listening port was accepted")
	}
	// Stop: the session closes and the route goes at once, not after the
	// hold time.
	if err := s.SetNeighbors([]Neighbor{neighbor(r, 30*time.Second)}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s, established, "session with a 30 s hold time")
	r.eventually(t, "198.18.0.100/32 via 127.0.0.2", "announced again")
	start := time.Now()
	s.Stop()
	r.eventually(t, "", "speaker stopped")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("route gone %v after Stop; want well under the 30 s hold time", d)
	}
}
