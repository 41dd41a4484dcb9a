package lvs

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/ctl"
)

var (
	ip = netip.MustParseAddr
	ap = netip.MustParseAddrPort
)

func tcp(addr string, port uint16) forward.ServiceKey {
	return forward.ServiceKey{Addr: ip(addr), Port: port, Proto: forward.TCP}
}

func real(addr string, w int32, m forward.Method) forward.RealConfig {
	a := ap(addr)
	return forward.RealConfig{Addr: a.Addr(), Port: a.Port(), Weight: w, Method: m, MethodSet: true}
}

// service is a virtual_server as plan translates it.
func service(name string, cfgs []forward.ServiceConfig, reals ...forward.RealConfig) *Service {
	s := &Service{Name: name, Where: "test.conf:1", Configs: cfgs, Reals: map[netip.AddrPort]forward.RealConfig{}}
	for _, r := range reals {
		s.Reals[netip.AddrPortFrom(r.Addr, r.Port)] = r
	}
	return s
}

func dests(ds ...string) []health.Dest {
	var out []health.Dest
	for _, d := range ds {
		a, w, _ := strings.Cut(d, "=")
		var weight int64
		fmt.Sscan(w, &weight)
		out = append(out, health.Dest{Addr: ap(a), Weight: weight})
	}
	return out
}

// state is what the daemon wants at one moment: the configuration's
// services, the pools health keeps, the addresses VRRP instances own and
// those whose instance is master; want is the backend rendered.
type state struct {
	name    string
	svcs    []*Service
	pool    map[string][]health.Dest
	owners  map[netip.Addr]string
	masters []netip.Addr
	want    string
}

func states() []state {
	web := tcp("198.18.0.100", 80)
	rr := forward.ServiceConfig{Key: web, Scheduler: "rr", Method: forward.DR}
	sorry := func(c forward.ServiceConfig, addr string) forward.ServiceConfig {
		s := real(addr, 1, forward.NAT)
		c.Sorry = &s
		return c
	}
	persistent := rr
	persistent.Scheduler, persistent.Persistence, persistent.Granularity = "wlc", 300*time.Second, 24
	g1, g2 := tcp("198.18.0.101", 443), tcp("198.18.0.102", 443)
	group := []forward.ServiceConfig{{Key: g1, Scheduler: "sh", SchedFlags: 0x8, Method: forward.NAT},
		{Key: g2, Scheduler: "sh", SchedFlags: 0x8, Method: forward.NAT}}
	dns := forward.ServiceConfig{Key: forward.ServiceKey{Addr: ip("198.18.0.103"), Port: 53, Proto: forward.UDP},
		Scheduler: "rr", OnePacket: true, Method: forward.TUN}
	thresh := real("198.18.1.3:53", 5, forward.TUN)
	thresh.UThreshold, thresh.LThreshold = 100, 50
	return []state{
		{name: "empty"},
		{
			name: "one DR service, health puts both real servers in",
			svcs: []*Service{service("web", []forward.ServiceConfig{rr},
				real("198.18.1.1:80", 1, forward.DR), real("198.18.1.2:80", 2, forward.DR))},
			pool: map[string][]health.Dest{"web": dests("198.18.1.1:80=1", "198.18.1.2:80=2")},
			want: "TCP 198.18.0.100:80 -> 198.18.1.1:80 w=1 DR\n" +
				"TCP 198.18.0.100:80 -> 198.18.1.2:80 w=2 DR\n" +
				"TCP 198.18.0.100:80 rr flags=0x0 persist=0s /0 ops=false DR",
		},
		{
			name: "health takes one out and quiesces the other (inhibit_on_failure)",
			svcs: []*Service{service("web", []forward.ServiceConfig{rr},
				real("198.18.1.1:80", 1, forward.DR), real("198.18.1.2:80", 2, forward.DR))},
			pool: map[string][]health.Dest{"web": dests("198.18.1.1:80=0")},
			want: "TCP 198.18.0.100:80 -> 198.18.1.1:80 w=0 DR\n" +
				"TCP 198.18.0.100:80 rr flags=0x0 persist=0s /0 ops=false DR",
		},
		{
			name: "scheduler, persistence and a sorry server change in place",
			svcs: []*Service{service("web", []forward.ServiceConfig{sorry(persistent, "198.18.1.99:80")},
				real("198.18.1.1:80", 1, forward.DR), real("198.18.1.2:80", 2, forward.DR))},
			pool: map[string][]health.Dest{"web": dests("198.18.1.1:80=1", "198.18.1.2:80=2")},
			want: "TCP 198.18.0.100:80 -> 198.18.1.1:80 w=1 DR\n" +
				"TCP 198.18.0.100:80 -> 198.18.1.2:80 w=2 DR\n" +
				"TCP 198.18.0.100:80 wlc flags=0x0 persist=5m0s /24 ops=false DR sorry=198.18.1.99:80 w=1 NAT",
		},
		{
			// The old sameService compared only whether a sorry server was
			// set: this reload left the old address in the backend.
			name: "the sorry server moves to another address",
			svcs: []*Service{service("web", []forward.ServiceConfig{sorry(persistent, "198.18.1.98:8080")},
				real("198.18.1.1:80", 1, forward.DR), real("198.18.1.2:80", 2, forward.DR))},
			pool: map[string][]health.Dest{"web": dests("198.18.1.1:80=1", "198.18.1.2:80=2")},
			want: "TCP 198.18.0.100:80 -> 198.18.1.1:80 w=1 DR\n" +
				"TCP 198.18.0.100:80 -> 198.18.1.2:80 w=2 DR\n" +
				"TCP 198.18.0.100:80 wlc flags=0x0 persist=5m0s /24 ops=false DR sorry=198.18.1.98:8080 w=1 NAT",
		},
		{
			name: "a real server's settings change in the configuration (thresholds, method)",
			svcs: []*Service{service("web", []forward.ServiceConfig{rr},
				real("198.18.1.1:80", 1, forward.NAT), real("198.18.1.2:80", 2, forward.DR))},
			pool: map[string][]health.Dest{"web": dests("198.18.1.1:80=1", "198.18.1.2:80=2")},
			want: "TCP 198.18.0.100:80 -> 198.18.1.1:80 w=1 NAT\n" +
				"TCP 198.18.0.100:80 -> 198.18.1.2:80 w=2 DR\n" +
				"TCP 198.18.0.100:80 rr flags=0x0 persist=0s /0 ops=false DR",
		},
		{
			name: "a group on two VIPs a backup instance owns: disabled",
			svcs: []*Service{service("group", group, real("198.18.1.5:443", 3, forward.NAT))},
			pool: map[string][]health.Dest{"group": dests("198.18.1.5:443=3")},
			owners: map[netip.Addr]string{ip("198.18.0.101"): "VI_1", ip("198.18.0.102"): "VI_1",
				ip("198.18.0.100"): "VI_1"},
			want: "TCP 198.18.0.101:443 -> 198.18.1.5:443 w=3 NAT\n" +
				"TCP 198.18.0.101:443 sh flags=0x8 persist=0s /0 ops=false NAT disabled\n" +
				"TCP 198.18.0.102:443 -> 198.18.1.5:443 w=3 NAT\n" +
				"TCP 198.18.0.102:443 sh flags=0x8 persist=0s /0 ops=false NAT disabled",
		},
		{
			name: "the instance is master: enabled; the web service comes back",
			svcs: []*Service{service("group", group, real("198.18.1.5:443", 3, forward.NAT)),
				service("web", []forward.ServiceConfig{rr}, real("198.18.1.1:80", 1, forward.DR))},
			pool: map[string][]health.Dest{"group": dests("198.18.1.5:443=3"), "web": dests("198.18.1.1:80=1")},
			owners: map[netip.Addr]string{ip("198.18.0.101"): "VI_1", ip("198.18.0.102"): "VI_1",
				ip("198.18.0.100"): "VI_1"},
			masters: []netip.Addr{ip("198.18.0.101"), ip("198.18.0.102"), ip("198.18.0.100")},
			want: "TCP 198.18.0.100:80 -> 198.18.1.1:80 w=1 DR\n" +
				"TCP 198.18.0.100:80 rr flags=0x0 persist=0s /0 ops=false DR\n" +
				"TCP 198.18.0.101:443 -> 198.18.1.5:443 w=3 NAT\n" +
				"TCP 198.18.0.101:443 sh flags=0x8 persist=0s /0 ops=false NAT\n" +
				"TCP 198.18.0.102:443 -> 198.18.1.5:443 w=3 NAT\n" +
				"TCP 198.18.0.102:443 sh flags=0x8 persist=0s /0 ops=false NAT",
		},
		{
			name: "web and the group go, a UDP service with ops and thresholds comes, no VRRP",
			svcs: []*Service{service("dns", []forward.ServiceConfig{dns}, thresh)},
			pool: map[string][]health.Dest{"dns": dests("198.18.1.3:53=5")},
			want: "UDP 198.18.0.103:53 -> 198.18.1.3:53 w=5 u=100 l=50 TUN\n" +
				"UDP 198.18.0.103:53 rr flags=0x0 persist=0s /0 ops=true TUN",
		},
	}
}

// drive applies st after prev, as the daemon does: VRRP ownership, the
// configuration, then health's pool changes (health removes the
// destinations of services that are gone too), then VRRP's masters.
func drive(t *testing.T, r *Reconciler, prev, st state) {
	t.Helper()
	r.Own(st.owners)
	if errs := r.Apply(st.svcs); len(errs) > 0 {
		t.Fatalf("%s: Apply: %v", st.name, errs)
	}
	sink := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %s: %v", st.name, what, err)
		}
	}
	for name, old := range prev.pool {
		for _, d := range old {
			if !slices.ContainsFunc(st.pool[name], func(n health.Dest) bool { return n.Addr == d.Addr }) {
				sink("RemoveDest "+name, r.RemoveDest(name, d))
			}
		}
	}
	for name, now := range st.pool {
		for _, d := range now {
			i := slices.IndexFunc(prev.pool[name], func(o health.Dest) bool { return o.Addr == d.Addr })
			switch {
			case i < 0:
				sink("AddDest "+name, r.AddDest(name, d))
			case prev.pool[name][i].Weight != d.Weight:
				sink("UpdateDest "+name, r.UpdateDest(name, d))
			}
		}
	}
	for a := range st.owners {
		if err := r.Follow(a, slices.Contains(st.masters, a)); err != nil {
			t.Fatalf("%s: Follow %s: %v", st.name, a, err)
		}
	}
}

// TestStates applies the states in order, then replays them in random
// orders: whatever came before, each state renders the same.
func TestStates(t *testing.T) {
	t.Parallel()
	all := states()
	run := func(t *testing.T, order []int) {
		be := newRecBackend()
		r := New(be, &Config{FollowVRRP: true, Logger: zaptest.NewLogger(t)})
		prev := state{}
		for _, i := range order {
			st := all[i]
			drive(t, r, prev, st)
			if d := cmp.Diff(st.want, be.render()); d != "" {
				t.Fatalf("after %v, state %q (-want +got):\n%s", order, st.name, d)
			}
			prev = st
		}
	}
	t.Run("in order", func(t *testing.T) {
		order := make([]int, len(all))
		for i := range order {
			order[i] = i
		}
		run(t, order)
	})
	rnd := rand.New(rand.NewPCG(1, 2))
	for n := range 20 {
		order := rnd.Perm(len(all))
		t.Run(fmt.Sprintf("random %d", n), func(t *testing.T) { run(t, order) })
	}
}

// TestSameService: every setting counts, the sorry server's whole
// configuration included.
func TestSameService(t *testing.T) {
	t.Parallel()
	s1, s2 := real("198.18.1.99:80", 1, forward.NAT), real("198.18.1.98:80", 1, forward.NAT)
	base := forward.ServiceConfig{Key: tcp("198.18.0.100", 80), Scheduler: "rr", Method: forward.DR, Sorry: &s1}
	same := base
	s1copy := s1
	same.Sorry = &s1copy
	if !sameService(base, same) {
		t.Error("equal configurations with distinct sorry pointers differ")
	}
	for name, change := range map[string]func(*forward.ServiceConfig){
		"sorry address": func(c *forward.ServiceConfig) { c.Sorry = &s2 },
		"sorry removed": func(c *forward.ServiceConfig) { c.Sorry = nil },
		"scheduler":     func(c *forward.ServiceConfig) { c.Scheduler = "wrr" },
		"flags":         func(c *forward.ServiceConfig) { c.SchedFlags = 0x10 },
		"persistence":   func(c *forward.ServiceConfig) { c.Persistence = time.Minute },
		"granularity":   func(c *forward.ServiceConfig) { c.Granularity = 24 },
		"ops":           func(c *forward.ServiceConfig) { c.OnePacket = true },
		"method":        func(c *forward.ServiceConfig) { c.Method = forward.NAT },
	} {
		c := base
		change(&c)
		if sameService(base, c) {
			t.Errorf("%s: a changed configuration counts as the same", name)
		}
	}
}

// TestReloadUndoesEdits: a reload replaces runtime edits made with ulvsadm
// (a service and a real server added, a weight changed), as a keepalived
// reload does to ipvsadm's.
func TestReloadUndoesEdits(t *testing.T) {
	t.Parallel()
	st := states()[1]
	be := newRecBackend()
	r := New(be, nil)
	drive(t, r, state{}, st)
	for _, e := range []*ctl.Edit{
		{Cmd: ctl.EditAddService, Service: &ctl.ServiceSpec{Proto: "TCP", Addr: ip("198.18.0.200"), Port: 80}},
		{Cmd: ctl.EditAddDest, Service: &ctl.ServiceSpec{Proto: "TCP", Addr: ip("198.18.0.100"), Port: 80},
			Dest: &ctl.DestSpec{Addr: ip("198.18.1.9"), Port: 80, Weight: 7, Method: "Masq"}},
		{Cmd: ctl.EditEditDest, Service: &ctl.ServiceSpec{Proto: "TCP", Addr: ip("198.18.0.100"), Port: 80},
			Dest: &ctl.DestSpec{Addr: ip("198.18.1.1"), Port: 80, Weight: 9}},
	} {
		if err := r.Edit(e); err != nil {
			t.Fatalf("edit %s: %v", e.Cmd, err)
		}
	}
	if be.render() == st.want {
		t.Fatal("the edits changed nothing")
	}
	drive(t, r, st, st)
	if d := cmp.Diff(st.want, be.render()); d != "" {
		t.Errorf("after the reload (-want +got):\n%s", d)
	}
}

// TestFollowVRRP: the userspace data path forwards a VIP's services only
// while this node is master; with kernel IPVS the services stay in place on
// a backup, as keepalived leaves them.
func TestFollowVRRP(t *testing.T) {
	t.Parallel()
	vip := ip("198.18.0.100")
	for _, tc := range []struct {
		follow bool
		want   []string
	}{
		{true, []string{"SetVIP 198.18.0.100 true", "SetVIP 198.18.0.100 false"}},
		{false, nil},
	} {
		be := newRecBackend()
		r := New(be, &Config{FollowVRRP: tc.follow})
		for _, held := range []bool{true, false} {
			if err := r.Follow(vip, held); err != nil {
				t.Fatal(err)
			}
		}
		if got := be.takeCalls(); !slices.Equal(got, tc.want) {
			t.Errorf("follow %t: calls %q, want %q", tc.follow, got, tc.want)
		}
	}
}

// TestOwn: at start and on reload, an address a VRRP instance newly owns
// is disabled until its master enables it; one no instance owns any more
// forwards again; one still owned keeps its state.
func TestOwn(t *testing.T) {
	t.Parallel()
	a, b, c := ip("198.18.0.100"), ip("198.18.0.101"), ip("198.18.0.102")
	be := newRecBackend()
	r := New(be, &Config{FollowVRRP: true})
	r.Own(map[netip.Addr]string{a: "VI_1", b: "VI_2"})
	if err := r.Follow(a, true); err != nil { // VI_1 becomes master
		t.Fatal(err)
	}
	be.takeCalls()
	r.Own(map[netip.Addr]string{a: "VI_1", c: "VI_3"}) // reload: VI_2 gone, VI_3 new
	got := be.takeCalls()
	slices.Sort(got)
	if want := []string{"SetVIP 198.18.0.101 true", "SetVIP 198.18.0.102 false"}; !slices.Equal(got, want) {
		t.Errorf("calls on reload %q, want %q", got, want)
	}
	if be.disabled[a] || !be.disabled[c] {
		t.Errorf("disabled %v, want %v enabled and %v disabled", be.disabled, a, c)
	}
	New(be, nil).Own(map[netip.Addr]string{a: "VI_1"})
	if got := be.takeCalls(); len(got) != 0 {
		t.Errorf("kernel backend: calls %q, want none", got)
	}
}

// TestSinkErrors: a backend's refusal reaches health with the service and
// real server named; a real server the backend cannot have
// (ErrUnsupported) is not an error.
func TestSinkErrors(t *testing.T) {
	t.Parallel()
	st := states()[1]
	be := newRecBackend()
	r := New(be, nil)
	drive(t, r, state{}, st)
	be.fail["AddReal TCP 198.18.0.100:80 198.18.1.7:80 weight 1"] = fmt.Errorf("no route: %w", forward.ErrNotFound)
	err := r.AddDest("web", health.Dest{Addr: ap("198.18.1.7:80"), Weight: 1})
	if err == nil || !strings.Contains(err.Error(), "TCP 198.18.0.100:80 198.18.1.7:80") {
		t.Errorf("AddDest: %v", err)
	}
	be.fail["AddReal TCP 198.18.0.100:80 198.18.1.8:80 weight 1"] = forward.ErrUnsupported
	if err := r.AddDest("web", health.Dest{Addr: ap("198.18.1.8:80"), Weight: 1}); err != nil {
		t.Errorf("unsupported: %v", err)
	}
	if err := r.AddDest("nosuch", health.Dest{Addr: ap("198.18.1.8:80"), Weight: 1}); err == nil {
		t.Error("AddDest to an unknown service: no error")
	}
}
