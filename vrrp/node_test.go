package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/internal/script"
)

// fakeScripts stands in for internal/script: every script line maps to a
// fakeRunner by its words joined with blanks.
type fakeScripts struct {
	mu      sync.Mutex
	runners map[string]*fakeRunner
}

func (f *fakeScripts) get(name string) *fakeRunner {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runners == nil {
		f.runners = map[string]*fakeRunner{}
	}
	r, ok := f.runners[name]
	if !ok {
		r = &fakeRunner{ok: true}
		f.runners[name] = r
	}
	return r
}

func (f *fakeScripts) prepare(_ script.Policy, argv []string, _, _ string) (runner, string, error) {
	return f.get(strings.Join(argv, " ")), "", nil
}

// fakeRunner records its calls; it succeeds while ok, and takes hang to
// run (killed at its timeout).
type fakeRunner struct {
	mu    sync.Mutex
	ok    bool
	hang  time.Duration
	calls []string
	times []time.Time
}

func (r *fakeRunner) set(ok bool, hang time.Duration) {
	r.mu.Lock()
	r.ok, r.hang = ok, hang
	r.mu.Unlock()
}

func (r *fakeRunner) Run(ctx context.Context, timeout time.Duration, extra ...string) script.Result {
	r.mu.Lock()
	r.calls = append(r.calls, strings.Join(extra, " "))
	r.times = append(r.times, time.Now())
	ok, hang := r.ok, r.hang
	r.mu.Unlock()
	if hang > 0 {
		d := hang
		if timeout > 0 && timeout < d {
			d = timeout
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return script.Result{ExitCode: -1, Err: ctx.Err()}
		case <-t.C:
		}
		if timeout > 0 && timeout < hang {
			return script.Result{ExitCode: -1, TimedOut: true}
		}
	}
	if ok {
		return script.Result{}
	}
	return script.Result{ExitCode: 1}
}

func (r *fakeRunner) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// testNode is a Node on a MemHost with its events collected.
type testNode struct {
	t      *testing.T
	n      *Node
	host   *MemHost
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []Event
}

func startNode(t *testing.T, host *MemHost, scripts *fakeScripts, cfg Config, opts ...func(*Node)) *testNode {
	t.Helper()
	cfg.Network, cfg.System = host, host
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t).Named(host.Name())
	}
	n, err := New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if scripts != nil {
		n.prepare = scripts.prepare
	}
	for _, o := range opts {
		o(n)
	}
	tn := &testNode{t: t, n: n, host: host, done: make(chan struct{})}
	evs := n.Events()
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	go func() {
		for ev := range evs {
			tn.mu.Lock()
			tn.events = append(tn.events, ev)
			tn.mu.Unlock()
		}
	}()
	go func() {
		defer close(tn.done)
		if err := n.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	tn.cancel()
	<-tn.done
}

func (tn *testNode) state(name string) State {
	for _, s := range tn.n.Status().Instances {
		if s.Name == name {
			return s.State
		}
	}
	return StateInit
}

// lastEvent returns the last event of the named instance or group.
func (tn *testNode) lastEvent(name string) (Event, bool) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	for i := len(tn.events) - 1; i >= 0; i-- {
		if tn.events[i].Name == name {
			return tn.events[i], true
		}
	}
	return Event{}, false
}

func (tn *testNode) eventLog() []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	var out []string
	for _, e := range tn.events {
		out = append(out, fmt.Sprintf("%s %v->%v", e.Name, e.Prev, e.State))
	}
	return out
}

var (
	hostA = netip.MustParseAddr("198.18.0.11")
	hostB = netip.MustParseAddr("198.18.0.12")
)

func pair(t *testing.T) (*MemLAN, *MemHost, *MemHost) {
	lan := NewMemLAN()
	return lan, lan.Host("a", hostA, netip.MustParseAddr("fe80::11")), lan.Host("b", hostB, netip.MustParseAddr("fe80::12"))
}

// lastAdvertFrom records when src last sent an advert with priority > 0.
type advertClock struct {
	mu   sync.Mutex
	last map[netip.Addr]time.Time
}

func clockAdverts(lan *MemLAN) *advertClock {
	c := &advertClock{last: map[netip.Addr]time.Time{}}
	lan.Tap(func(_ *MemHost, p *Packet) {
		c.mu.Lock()
		c.last[p.Src] = time.Now()
		c.mu.Unlock()
	})
	return c
}

func (c *advertClock) at(src netip.Addr) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last[src]
}

// TestUnicastWithMulticastDropped: unicast_peer works on a LAN that drops
// every multicast packet.
func TestUnicastWithMulticastDropped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lan, ha, hb := pair(t)
		lan.SetDrop(func(_ *MemHost, p *Packet) bool { return p.Dst.IsMulticast() })
		mk := func(prio int, self, peer netip.Addr) Config {
			return Config{Instances: []Instance{inst("VI_1", 51, prio, func(i *Instance) {
				i.UnicastSrcIP, i.UnicastPeers = self, []Peer{{Addr: peer}}
			})}}
		}
		a := startNode(t, ha, nil, mk(150, hostA, hostB))
		b := startNode(t, hb, nil, mk(100, hostB, hostA))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster || b.state("VI_1") != StateBackup {
			t.Fatalf("a=%v b=%v, want MASTER/BACKUP", a.state("VI_1"), b.state("VI_1"))
		}
		if ha.HasAddress(vip) == hb.HasAddress(vip) {
			t.Errorf("VIP on a=%v b=%v, want exactly one", ha.HasAddress(vip), hb.HasAddress(vip))
		}
		if st := b.n.Status().Instances[0].Stats; st.AdvertRcvd < 5 {
			t.Errorf("b received %d adverts", st.AdvertRcvd)
		}
	})
}

// TestMismatchIgnoredAndCounted: a node with another password, and one
// with another VRID, do not disturb a pair; both become master on their
// own and the pair counts the mismatches.
func TestMismatchIgnoredAndCounted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lan, ha, hb := pair(t)
		hc := lan.Host("c", netip.MustParseAddr("198.18.0.13"))
		hd := lan.Host("d", netip.MustParseAddr("198.18.0.14"))
		mk := func(prio, vrid int, pass string) Config {
			return Config{Instances: []Instance{inst("VI_1", vrid, prio, func(i *Instance) { i.AuthType, i.AuthPass = AuthPass, pass })}}
		}
		a := startNode(t, ha, nil, mk(100, 51, "good"))
		b := startNode(t, hb, nil, mk(90, 51, "good"))
		c := startNode(t, hc, nil, mk(200, 51, "evil"))
		d := startNode(t, hd, nil, mk(200, 52, "good"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, x := range []struct {
			n    *testNode
			want State
		}{{a, StateMaster}, {b, StateBackup}, {c, StateMaster}, {d, StateMaster}} {
			if got := x.n.state("VI_1"); got != x.want {
				t.Errorf("%s: %v, want %v", x.n.host.Name(), got, x.want)
			}
		}
		st := a.n.Status()
		if st.Instances[0].Stats.AuthFailure == 0 {
			t.Error("a did not count c's bad password")
		}
		if st.UnknownVRID == 0 {
			t.Error("a did not count d's VRID 52")
		}
	})
}

// TestStaleVIPsRemovedAtStart: a VIP left on the interface by a crash is
// removed when the instance starts as backup.
func TestStaleVIPsRemovedAtStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		if err := ha.AddAddress("eth0", VIP{Prefix: netip.PrefixFrom(vip, 32)}); err != nil {
			t.Fatal(err)
		}
		a := startNode(t, ha, nil, Config{Instances: []Instance{inst("VI_1", 51, 100)}})
		time.Sleep(time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateBackup || ha.HasAddress(vip) {
			t.Errorf("state %v, stale VIP present %v", a.state("VI_1"), ha.HasAddress(vip))
		}
		// The source address is the interface's, not the stale VIP.
		if src := a.n.Status().Instances[0].SourceAddr; src != hostA {
			t.Errorf("source %v, want %v", src, hostA)
		}
	})
}

// TestLinkDownIsFault: the instance's interface going down is a FAULT
// (priority 0 sent, VIPs removed); back up, it is a backup again.
func TestLinkDownIsFault(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		a := startNode(t, ha, nil, Config{Instances: []Instance{inst("VI_1", 51, 100)}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		ha.SetLink("eth0", false)
		synctest.Wait()
		if a.state("VI_1") != StateFault || ha.HasAddress(vip) {
			t.Errorf("state %v, VIP %v; want FAULT without VIP", a.state("VI_1"), ha.HasAddress(vip))
		}
		if got := a.n.Status().Instances[0].Stats.PriZeroSent; got != 1 {
			t.Errorf("priority 0 sent %d times, want 1", got)
		}
		ha.SetLink("eth0", true)
		synctest.Wait()
		if a.state("VI_1") != StateBackup {
			t.Errorf("state %v after link up, want BACKUP", a.state("VI_1"))
		}
		want := []string{"VI_1 INIT->BACKUP", "VI_1 BACKUP->MASTER", "VI_1 MASTER->FAULT", "VI_1 FAULT->BACKUP"}
		if diff := cmp.Diff(want, a.eventLog()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

// TestReload applies a changed configuration: the master keeps its state,
// gains the new VIP and loses the removed one; a removed instance leaves
// (as keepalived's DELETED, notified as FAULT); a new one starts.
func TestReload(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		v2 := netip.MustParseAddr("198.18.0.101")
		v3 := netip.MustParseAddr("198.18.0.102")
		fs := &fakeScripts{}
		cfg := Config{Instances: []Instance{
			inst("VI_1", 51, 255, func(i *Instance) { i.State = StateMaster; i.Notify = &Notify{Argv: []string{"n"}} }),
			inst("VI_2", 52, 255, func(i *Instance) {
				i.State = StateMaster
				i.VIPs = []VIP{{Prefix: netip.PrefixFrom(v2, 32)}}
				i.Notify = &Notify{Argv: []string{"n"}}
			}),
		}}
		a := startNode(t, ha, fs, cfg)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		cfg2 := Config{Instances: []Instance{
			inst("VI_1", 51, 255, func(i *Instance) {
				i.State = StateMaster
				i.VIPs = []VIP{{Prefix: netip.PrefixFrom(v3, 32)}}
				i.Notify = &Notify{Argv: []string{"n"}}
			}),
			inst("VI_3", 53, 100, func(i *Instance) { i.VIPs = nil; i.Notify = &Notify{Argv: []string{"n"}} }),
		}}
		if err := a.n.Apply(&cfg2); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]string{"eth0 198.18.0.102/32"}, ha.Addresses()); diff != "" {
			t.Errorf("addresses after reload (-want +got):\n%s", diff)
		}
		want := []string{"VI_1 INIT->MASTER", "VI_2 INIT->MASTER", "VI_2 MASTER->DELETED", "VI_3 INIT->BACKUP"}
		if diff := cmp.Diff(want, a.eventLog()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		calls := fs.get("n").Calls()
		if !slices.Contains(calls, "INSTANCE VI_2 FAULT 255") {
			t.Errorf("notify calls %q lack the deleted instance as FAULT", calls)
		}
		// A config that does not check out changes nothing.
		bad := cfg2
		bad.Instances = append(slices.Clone(cfg2.Instances), inst("VI_1", 54, 100))
		if err := a.n.Apply(&bad); err == nil {
			t.Error("Apply accepted an instance defined twice")
		}
		if got := len(a.n.Status().Instances); got != 2 {
			t.Errorf("%d instances after a failed reload, want 2", got)
		}
	})
}

// TestReloadTrackers: a reload tracks what the new configuration tracks,
// as start-up does: a sync group's new track_interface (up) is read at
// once and does not fault the group, a script nobody tracks any more
// stops, a newly tracked one starts.
func TestReloadTrackers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		ha.AddLink(Link{Name: "eth9", Index: 9, Up: true})
		v2 := netip.MustParseAddr("198.18.0.101")
		fs := &fakeScripts{}
		scripts := []Script{{Name: "old", Argv: []string{"old"}, Interval: time.Second, Weight: -10},
			{Name: "new", Argv: []string{"new"}, Interval: time.Second, Weight: -10}}
		mk := func(mods ...func(*Config)) Config {
			c := Config{Scripts: scripts, Instances: []Instance{
				inst("VI_1", 51, 100, func(i *Instance) { i.TrackScripts = []TrackRef{{Name: "old"}} }),
				inst("VI_2", 52, 100, func(i *Instance) { i.VIPs = []VIP{{Prefix: netip.PrefixFrom(v2, 32)}} })}}
			for _, m := range mods {
				m(&c)
			}
			return c
		}
		a := startNode(t, ha, fs, mk())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster || a.state("VI_2") != StateMaster {
			t.Fatalf("before the reload: %v %v, want both MASTER", a.state("VI_1"), a.state("VI_2"))
		}
		if n := len(fs.get("new").Calls()); n != 0 {
			t.Errorf("an untracked script ran %d times", n)
		}
		cfg2 := mk(func(c *Config) {
			c.Instances[0].TrackScripts = []TrackRef{{Name: "new"}}
			c.Groups = []SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}, TrackInterfaces: []TrackRef{{Name: "eth9"}}}}
		})
		if err := a.n.Apply(&cfg2); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		oldRuns := len(fs.get("old").Calls())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		st := a.n.Status()
		if st.Instances[0].State != StateMaster || st.Instances[1].State != StateMaster || st.Groups[0].State != StateMaster {
			t.Errorf("after the reload: group %v, instances %v %v; want MASTER (eth9 is up)",
				st.Groups[0].State, st.Instances[0].State, st.Instances[1].State)
		}
		if n := len(fs.get("old").Calls()); n != oldRuns {
			t.Errorf("the script no longer tracked ran %d more times", n-oldRuns)
		}
		if n := len(fs.get("new").Calls()); n < 4 {
			t.Errorf("the newly tracked script ran %d times in 5 s", n)
		}
		// The group's interface goes down: both members fault.
		ha.SetLink("eth9", false)
		synctest.Wait()
		if a.state("VI_1") != StateFault || a.state("VI_2") != StateFault {
			t.Errorf("eth9 down: %v %v, want FAULT", a.state("VI_1"), a.state("VI_2"))
		}
	})
}

// TestSyncGroupNode: a sync group's members move together on one node and
// its generic notify gets "GROUP name STATE 0".
func TestSyncGroupNode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, hb := pair(t)
		v2 := netip.MustParseAddr("198.18.0.101")
		mk := func(prio int) Config {
			return Config{
				Groups: []SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}, Notify: &Notify{Argv: []string{"gn"}}}},
				Instances: []Instance{inst("VI_1", 51, prio),
					inst("VI_2", 52, prio, func(i *Instance) { i.VIPs = []VIP{{Prefix: netip.PrefixFrom(v2, 32)}} })},
			}
		}
		fa := &fakeScripts{}
		a := startNode(t, ha, fa, mk(150))
		startNode(t, hb, nil, mk(100))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !ha.HasAddress(vip) || !ha.HasAddress(v2) || hb.HasAddress(vip) || hb.HasAddress(v2) {
			t.Fatalf("a holds %v, b holds %v", ha.Addresses(), hb.Addresses())
		}
		// A FAULT on one member of a's group takes both instances to b.
		ha.AddLink(Link{Name: "eth9", Index: 9, Up: true})
		a.stop()
		a = startNode(t, ha, fa, func() Config {
			c := mk(150)
			c.Instances[1].TrackInterfaces = []TrackRef{{Name: "eth9"}}
			return c
		}())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		ha.SetLink("eth9", false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if ha.HasAddress(vip) || ha.HasAddress(v2) || !hb.HasAddress(vip) || !hb.HasAddress(v2) {
			t.Errorf("after the fault: a holds %v, b holds %v", ha.Addresses(), hb.Addresses())
		}
		st := a.n.Status()
		if st.Groups[0].State != StateFault || st.Instances[0].State != StateFault || st.Instances[1].State != StateFault {
			t.Errorf("a's group %v, instances %v %v", st.Groups[0].State, st.Instances[0].State, st.Instances[1].State)
		}
		got := fa.get("gn").Calls()
		if !slices.Contains(got, "GROUP G MASTER 0") || !slices.Contains(got, "GROUP G FAULT 0") {
			t.Errorf("group notify calls %q", got)
		}
	})
}

// TestNodeLifecycle covers the API around Run: Status and Apply before
// Run, Run only once, the events channel closed after Run.
func TestNodeLifecycle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewMemLAN().Host("a", hostA)
		cfg := Config{Instances: []Instance{inst("VI_1", 51, 100)}, Network: h, System: h}
		n, err := New(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		st := n.Status()
		if len(st.Instances) != 1 || st.Instances[0].State != StateInit || st.Instances[0].EffectivePriority != 100 {
			t.Errorf("status before Run: %+v", st)
		}
		cfg2 := Config{Instances: []Instance{inst("VI_1", 51, 120)}}
		if err := n.Apply(&cfg2); err != nil {
			t.Fatal(err)
		}
		if got := n.Status().Instances[0].BasePriority; got != 120 {
			t.Errorf("priority after Apply before Run: %d", got)
		}
		evs := n.Events()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- n.Run(ctx) }()
		var got []string
		collected := make(chan struct{})
		go func() {
			for e := range evs {
				got = append(got, e.State.String())
			}
			close(collected)
		}()
		time.Sleep(5 * time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		<-collected
		if diff := cmp.Diff([]string{"BACKUP", "MASTER", "STOP"}, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if err := n.Run(context.Background()); err == nil {
			t.Error("second Run accepted")
		}
		if st := n.Status(); st.Instances[0].State != StateStop || st.Instances[0].Stats.PriZeroSent != 1 {
			t.Errorf("status after Run: %+v", st.Instances[0])
		}
	})
}

// TestKeepAddresses: with KeepAddresses (keepalived -V) a stopping master
// still sends priority 0 but leaves its VIP in place; without it the VIP
// goes.
func TestKeepAddresses(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			h := NewMemLAN().Host("a", hostA)
			cfg := Config{Instances: []Instance{inst("VI_1", 51, 100)}, Network: h, System: h, KeepAddresses: keep}
			n, err := New(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- n.Run(ctx) }()
			time.Sleep(5 * time.Second)
			vip := cfg.Instances[0].VIPs[0].Prefix.Addr()
			if !h.HasAddress(vip) {
				t.Fatalf("master does not hold %v", vip)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := h.HasAddress(vip); got != keep {
				t.Errorf("KeepAddresses=%v: VIP present after stop = %v", keep, got)
			}
			if st := n.Status(); st.Instances[0].Stats.PriZeroSent != 1 {
				t.Errorf("KeepAddresses=%v: priority 0 sent %d times, want 1", keep, st.Instances[0].Stats.PriZeroSent)
			}
		})
	}
}

// TestStartupDelay: vrrp_startup_delay holds the instances in INIT; Status
// answers meanwhile.
func TestStartupDelay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		a := startNode(t, ha, nil, Config{Global: Global{StartupDelay: 10 * time.Second},
			Instances: []Instance{inst("VI_1", 51, 255, func(i *Instance) { i.State = StateMaster })}})
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if got := a.state("VI_1"); got != StateInit {
			t.Errorf("state %v during the startup delay, want INIT", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if ev, _ := a.lastEvent("VI_1"); ev.State != StateMaster || ev.Time.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) != 10*time.Second {
			t.Errorf("last event %+v, want MASTER at 10 s", ev)
		}
	})
}

// TestVIPHookOrder: Config.VIPHook hears of the VIPs before they are added
// (the host does not own them yet) and after they are removed (it no
// longer does), so a forwarder is ready before the kernel owns a VIP.
func TestVIPHookOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		var mu sync.Mutex
		var got []string
		cfg := Config{Instances: []Instance{inst("VI_1", 51, 150, func(*Instance) {})}}
		cfg.VIPHook = func(instance string, vips []netip.Prefix, held bool) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("%s %v held=%v owned=%v", instance, vips, held, ha.owns(vip)))
		}
		a := startNode(t, ha, nil, cfg)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster || !ha.HasAddress(vip) {
			t.Fatalf("state %v, VIP held %v: want MASTER holding it", a.state("VI_1"), ha.HasAddress(vip))
		}
		a.stop()
		mu.Lock()
		defer mu.Unlock()
		want := []string{
			// At start, stale VIPs are removed: not held.
			fmt.Sprintf("VI_1 [%v/32] held=false owned=false", vip),
			fmt.Sprintf("VI_1 [%v/32] held=true owned=false", vip),
			fmt.Sprintf("VI_1 [%v/32] held=false owned=false", vip),
		}
		if !slices.Equal(got, want) {
			t.Fatalf("hook calls\n%q\nwant\n%q", got, want)
		}
	})
}

// TestReleaseVIPs: with ReleaseVIPs (keepalived -X) a backup that stops
// removes a VIP it never added (here added by hand); without it the address
// is left alone.
func TestReleaseVIPs(t *testing.T) {
	t.Parallel()
	for _, release := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			_, ha, hb := pair(t)
			startNode(t, ha, nil, Config{Instances: []Instance{inst("VI_1", 51, 150, func(*Instance) {})}})
			b := startNode(t, hb, nil, Config{Instances: []Instance{inst("VI_1", 51, 100, func(*Instance) {})}, ReleaseVIPs: release})
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if b.state("VI_1") != StateBackup || hb.HasAddress(vip) {
				t.Fatalf("b is %v holding the VIP %v, want a BACKUP without it", b.state("VI_1"), hb.HasAddress(vip))
			}
			if err := hb.AddAddress("eth0", VIP{Prefix: netip.PrefixFrom(vip, 32)}); err != nil {
				t.Fatal(err)
			}
			b.stop()
			if got := hb.HasAddress(vip); got == release {
				t.Errorf("ReleaseVIPs=%v: the stray VIP present after stop = %v", release, got)
			}
		})
	}
}
