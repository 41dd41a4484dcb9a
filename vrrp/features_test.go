package vrrp

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// opIndex returns the index of the first op starting with prefix at or
// after from, or -1.
func opIndex(ops []string, from int, prefix string) int {
	for i := from; i < len(ops); i++ {
		if strings.HasPrefix(ops[i], prefix) {
			return i
		}
	}
	return -1
}

// TestNoAcceptFirewall: a master in no_accept mode has its VIPs and eVIPs
// in the firewall's drop set from before it adds them until after it
// removes them; an owner (priority 255) is never blocked; the table lives
// while an instance is in no_accept mode and goes with the node.
func TestNoAcceptFirewall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		v2 := netip.MustParseAddr("198.18.0.101")
		cfg := Config{Global: Global{Firewall: Firewall{Table: "ka"}}, Instances: []Instance{
			inst("VI_1", 51, 100, func(i *Instance) {
				i.NoAccept = true
				i.ExcludedVIPs = []VIP{{Prefix: netip.MustParsePrefix("2001:db8::100/64")}, {Prefix: netip.MustParsePrefix("fe80::100/64")}}
			}),
			inst("VI_2", 52, 255, func(i *Instance) {
				i.State, i.NoAccept = StateMaster, true
				i.VIPs = []VIP{{Prefix: netip.PrefixFrom(v2, 32)}}
			}),
		}}
		a := startNode(t, ha, nil, cfg)
		synctest.Wait()
		if table, set := ha.NoAccept(); table != "ka" || len(set) != 0 {
			t.Fatalf("at start: table %q set %v, want ka and nothing blocked (the owner is master, VI_1 backup)", table, set)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster {
			t.Fatalf("VI_1 %v", a.state("VI_1"))
		}
		want := []string{"198.18.0.100", "2001:db8::100", "fe80::100%eth0"}
		if _, set := ha.NoAccept(); !cmp.Equal(want, set) {
			t.Errorf("blocked %v, want %v", set, want)
		}
		ops := ha.Ops()
		if b, add := opIndex(ops, 0, "set-no-accept ka [198.18.0.100"), opIndex(ops, 0, "add-address eth0 198.18.0.100/32"); b < 0 || add < 0 || b > add {
			t.Errorf("drop rule at op %d, address at %d: the rule must come first\n%s", b, add, strings.Join(ops, "\n"))
		}
		// A reload that turns no_accept off unblocks and drops the table.
		cfg2 := cfg
		cfg2.Instances = slices.Clone(cfg.Instances)
		cfg2.Instances[0].NoAccept, cfg2.Instances[1].NoAccept = false, false
		if err := a.n.Apply(&cfg2); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if table, _ := ha.NoAccept(); table != "" {
			t.Errorf("after the reload the table is %q, want none", table)
		}
		if err := a.n.Apply(&cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, set := ha.NoAccept(); !cmp.Equal(want, set) {
			t.Errorf("blocked %v after turning it back on, want %v", set, want)
		}
		before := len(ha.Ops())
		a.stop()
		ops = ha.Ops()
		del, unblock := opIndex(ops, before, "del-address eth0 198.18.0.100/32"), opIndex(ops, before, "set-no-accept ka []")
		if del < 0 || unblock < 0 || unblock < del {
			t.Errorf("at stop the address goes at op %d and the rule at %d: the rule must go last\n%s", del, unblock,
				strings.Join(ops[before:], "\n"))
		}
		if table, _ := ha.NoAccept(); table != "" {
			t.Errorf("after stop the table is %q, want none", table)
		}
	})
}

// TestStaticAddresses: static addresses, routes and rules are installed at
// start, a deleted static address is restored, an interface that comes up
// gets its routes back, a track_group's instances are in FAULT while the
// interface its item needs is down, a reload applies a difference, and
// stop removes them all.
func TestStaticAddresses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		ha.AddLink(Link{Name: "eth1", Index: 3, Up: true})
		a1 := StaticAddress{VIP: VIP{Prefix: netip.MustParsePrefix("198.18.5.1/24"), Dev: "eth1"}, TrackGroup: "G"}
		a2 := StaticAddress{VIP: VIP{Prefix: netip.MustParsePrefix("198.18.6.1/24"), Dev: "eth0"}}
		r1 := StaticRoute{Route: Route{Dst: netip.MustParsePrefix("198.18.7.0/24"), Gateway: netip.MustParseAddr("198.18.5.254"), Dev: "eth1"}, TrackGroup: "G"}
		ru := StaticRule{Rule: Rule{From: netip.MustParsePrefix("198.18.8.0/24"), Table: 100, Priority: 100}}
		cfg := Config{
			Static: Static{Addresses: []StaticAddress{a1, a2}, Routes: []StaticRoute{r1}, Rules: []StaticRule{ru},
				TrackGroups: []TrackGroup{{Name: "G", Instances: []string{"VI_1"}}}},
			Instances: []Instance{inst("VI_1", 51, 100), inst("VI_2", 52, 100, func(i *Instance) {
				i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.102/32")}}
			})},
		}
		a := startNode(t, ha, nil, cfg)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		wantAddrs := []string{"eth0 198.18.0.100/32", "eth0 198.18.0.102/32", "eth0 198.18.6.1/24", "eth1 198.18.5.1/24"}
		if diff := cmp.Diff(wantAddrs, ha.Addresses()); diff != "" {
			t.Errorf("addresses (-want +got):\n%s", diff)
		}
		if got := ha.Routes(); len(got) != 1 || !strings.HasPrefix(got[0], "198.18.7.0/24 via 198.18.5.254 dev eth1") {
			t.Errorf("routes %q", got)
		}
		if got := ha.Rules(); len(got) != 1 || !strings.Contains(got[0], "from 198.18.8.0/24") {
			t.Errorf("rules %q", got)
		}

		// Someone deletes a static address: it is back at once.
		ha.RemoveAddress("eth0", a2.Prefix)
		synctest.Wait()
		if !slices.Contains(ha.Addresses(), "eth0 198.18.6.1/24") {
			t.Error("the deleted static address was not restored")
		}

		// eth1 goes down: VI_1 (in track group G) goes to FAULT, VI_2 stays.
		ha.SetLink("eth1", false)
		synctest.Wait()
		if a.state("VI_1") != StateFault || a.state("VI_2") != StateMaster {
			t.Errorf("eth1 down: VI_1 %v VI_2 %v, want FAULT and MASTER", a.state("VI_1"), a.state("VI_2"))
		}
		before := len(ha.Ops())
		ha.SetLink("eth1", true)
		synctest.Wait()
		if a.state("VI_1") == StateFault {
			t.Error("VI_1 still in FAULT after eth1 came back")
		}
		if opIndex(ha.Ops(), before, "add-route 198.18.7.0/24") < 0 {
			t.Errorf("eth1's static route not reinstated: %q", ha.Ops()[before:])
		}

		// A reload: a2 replaced, the rest unchanged and left alone.
		a3 := StaticAddress{VIP: VIP{Prefix: netip.MustParsePrefix("198.18.6.2/24"), Dev: "eth0"}}
		cfg2 := cfg
		cfg2.Static.Addresses = []StaticAddress{a1, a3}
		before = len(ha.Ops())
		if err := a.n.Apply(&cfg2); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ops := ha.Ops()[before:]
		if opIndex(ops, 0, "del-address eth0 198.18.6.1/24") < 0 || opIndex(ops, 0, "add-address eth0 198.18.6.2/24") < 0 {
			t.Errorf("reload ops %q: want 198.18.6.1 removed and 198.18.6.2 added", ops)
		}
		for _, op := range ops {
			if strings.HasPrefix(op, "del-route") || strings.HasPrefix(op, "del-rule") || strings.HasPrefix(op, "del-address eth1") {
				t.Errorf("reload removed an unchanged static item: %s", op)
			}
		}
		a.stop()
		if got := ha.Addresses(); len(got) != 0 {
			t.Errorf("after stop: addresses %q", got)
		}
		if len(ha.Routes()) != 0 || len(ha.Rules()) != 0 {
			t.Errorf("after stop: routes %q rules %q", ha.Routes(), ha.Rules())
		}
	})
}

// TestNotifyDeleted: with notify_deleted, an instance a reload removes is
// DELETED to the generic notify script and runs its notify_deleted script,
// not notify_fault.
func TestNotifyDeleted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		fs := &fakeScripts{}
		scripts := func(i *Instance) {
			i.State = StateMaster
			i.Notify = &Notify{Argv: []string{"n"}}
			i.NotifyFault = &Notify{Argv: []string{"fault", i.Name}}
		}
		cfg := Config{Instances: []Instance{
			inst("VI_1", 51, 255, scripts, func(i *Instance) {
				i.NotifyDeleted, i.NotifyDeletedScript = true, &Notify{Argv: []string{"deleted"}}
			}),
			inst("VI_2", 52, 255, scripts, func(i *Instance) { i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/32")}} }),
			inst("VI_3", 53, 255, scripts, func(i *Instance) { i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.102/32")}} }),
		}}
		a := startNode(t, ha, fs, cfg)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		cfg2 := cfg
		cfg2.Instances = cfg.Instances[2:]
		if err := a.n.Apply(&cfg2); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		calls := fs.get("n").Calls()
		for _, want := range []string{"INSTANCE VI_1 DELETED 255", "INSTANCE VI_2 FAULT 255"} {
			if !slices.Contains(calls, want) {
				t.Errorf("notify calls %q lack %q", calls, want)
			}
		}
		if n := len(fs.get("deleted").Calls()); n != 1 {
			t.Errorf("notify_deleted ran %d times, want 1", n)
		}
		if n := len(fs.get("fault VI_1").Calls()); n != 0 {
			t.Errorf("VI_1's notify_fault ran %d times; notify_deleted replaces it", n)
		}
		if n := len(fs.get("fault VI_2").Calls()); n != 1 {
			t.Errorf("VI_2's notify_fault ran %d times, want 1 (no notify_deleted)", n)
		}
	})
}

// TestMcastDstIPAndUnicastTTL: mcast_dst_ip is the group adverts go to and
// are received on; unicast_ttl the TTL of unicast adverts.
func TestMcastDstIPAndUnicastTTL(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lan, ha, hb := pair(t)
		group := netip.MustParseAddr("224.0.0.99")
		var mu sync.Mutex
		seen := map[string]bool{}
		lan.Tap(func(_ *MemHost, p *Packet) {
			mu.Lock()
			defer mu.Unlock()
			seen[p.Dst.String()+" ttl "+strconv.Itoa(int(p.TTL))] = true
		})
		mk := func(prio int, self, peer netip.Addr) Config {
			return Config{Instances: []Instance{
				inst("VI_1", 51, prio, func(i *Instance) { i.McastDstIP = group }),
				inst("VI_2", 52, prio, func(i *Instance) {
					i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/32")}}
					i.UnicastSrcIP, i.UnicastPeers, i.UnicastTTL = self, []Peer{{Addr: peer}}, intRef(64)
				}),
			}}
		}
		a := startNode(t, ha, nil, mk(150, hostA, hostB))
		b := startNode(t, hb, nil, mk(100, hostB, hostA))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, name := range []string{"VI_1", "VI_2"} {
			if a.state(name) != StateMaster || b.state(name) != StateBackup {
				t.Errorf("%s: a %v b %v, want MASTER and BACKUP", name, a.state(name), b.state(name))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, want := range []string{"224.0.0.99 ttl 255", "198.18.0.12 ttl 64"} {
			if !seen[want] {
				t.Errorf("no advert to %s; saw %v", want, seen)
			}
		}
		if seen[Group4.String()+" ttl 255"] {
			t.Error("an advert went to the default group")
		}
	})
}

// TestUnicastFaultNoPeer: unicast settings without a peer are a FAULT with
// unicast_fault_no_peer, and multicast without it.
func TestUnicastFaultNoPeer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		a := startNode(t, ha, nil, Config{Instances: []Instance{
			inst("VI_1", 51, 100, func(i *Instance) { i.UnicastSrcIP, i.UnicastFaultNoPeer = hostA, true }),
			inst("VI_2", 52, 100, func(i *Instance) {
				i.UnicastSrcIP = hostA
				i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/32")}}
			}),
		}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateFault || a.state("VI_2") != StateMaster {
			t.Errorf("VI_1 %v VI_2 %v, want FAULT and MASTER", a.state("VI_1"), a.state("VI_2"))
		}
		tr := a.n.Status().Instances[0].Trackers
		if !slices.ContainsFunc(tr, func(s TrackStatus) bool { return s.Kind == "unicast_peer" }) {
			t.Errorf("trackers %+v do not say why", tr)
		}
	})
}

// TestPromoteSecondaries: set on the interface while the node runs, put
// back when it stops.
func TestPromoteSecondaries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		a := startNode(t, ha, nil, Config{Instances: []Instance{inst("VI_1", 51, 100, func(i *Instance) { i.PromoteSecondaries = true })}})
		synctest.Wait()
		if !ha.Promoted("eth0") {
			t.Error("promote_secondaries not set while running")
		}
		a.stop()
		if ha.Promoted("eth0") {
			t.Error("promote_secondaries not put back at stop")
		}
	})
}

// TestTrackProcess: an instance tracking a process with weight 0 is in
// FAULT while it does not run; one with a negative weight loses that much
// priority.
func TestTrackProcess(t *testing.T) {
	t.Parallel()
	fp := newFakeProc(t)
	fp.add(100, 1, "nginx", "S")
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		cfg := Config{
			Processes: []TrackProcess{{Name: "web", Process: "nginx"}, {Name: "web2", Process: "nginx", Weight: -20}},
			Groups:    []SyncGroup{{Name: "G", Members: []string{"VI_3"}, TrackProcesses: []TrackRef{{Name: "web"}}}},
			Instances: []Instance{
				inst("VI_1", 51, 100, func(i *Instance) { i.TrackProcesses = []TrackRef{{Name: "web"}} }),
				inst("VI_2", 52, 100, func(i *Instance) {
					i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/32")}}
					i.TrackProcesses = []TrackRef{{Name: "web2"}}
				}),
				inst("VI_3", 53, 100, func(i *Instance) { i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.103/32")}} }),
			},
		}
		a := startNode(t, ha, nil, cfg, func(n *Node) { n.procRoot, n.procPollOnly = fp.root, true })
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster {
			t.Fatalf("VI_1 %v with nginx running, want MASTER", a.state("VI_1"))
		}
		fp.remove(100)
		time.Sleep(time.Second)
		synctest.Wait()
		st := a.n.Status()
		if st.Instances[0].State != StateFault {
			t.Errorf("VI_1 %v after nginx stopped, want FAULT", st.Instances[0].State)
		}
		if st.Instances[2].State != StateFault {
			t.Errorf("VI_3 (its sync group tracks the process) %v after nginx stopped, want FAULT", st.Instances[2].State)
		}
		if p := st.Instances[1].EffectivePriority; p != 80 {
			t.Errorf("VI_2 priority %d after nginx stopped, want 80", p)
		}
		fp.add(101, 1, "nginx", "S")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster || a.state("VI_3") != StateMaster || a.n.Status().Instances[1].EffectivePriority != 100 {
			t.Errorf("after nginx restarted: VI_1 %v, VI_2 priority %d", a.state("VI_1"), a.n.Status().Instances[1].EffectivePriority)
		}
	})
}

// TestNotifyPriorityChanges: with notify_priority_changes a master whose
// effective priority changes writes MASTER_PRIORITY to the notify FIFO.
func TestNotifyPriorityChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	lan := NewMemLAN()
	h := lan.Host("a", hostA)
	fs := &fakeScripts{}
	cfg := &Config{
		Global:  Global{NotifyFIFO: FIFO{Path: fifo}, NotifyPriorityChanges: true},
		Scripts: []Script{{Name: "chk", Argv: []string{"chk"}, Interval: 100 * time.Millisecond, Weight: -10}},
		Instances: []Instance{inst("VI_1", 51, 100, func(i *Instance) {
			i.Version, i.AdvertInt = 3, 100*time.Millisecond
			i.TrackScripts = []TrackRef{{Name: "chk"}}
		})},
		Logger: zaptest.NewLogger(t), Network: h, System: h,
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.prepare = fs.prepare
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 5*time.Second, "fifo not created", func() bool {
		st, err := os.Stat(fifo)
		return err == nil && st.Mode()&os.ModeNamedPipe != 0
	})
	f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mu sync.Mutex
	var lines []string
	go func() {
		r := bufio.NewReader(f)
		for ctx.Err() == nil {
			l, err := r.ReadString('\n')
			if l != "" {
				mu.Lock()
				lines = append(lines, strings.TrimSuffix(l, "\n"))
				mu.Unlock()
			}
			if err != nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	eventually(t, 10*time.Second, "no MASTER", func() bool { return n.Status().Instances[0].State == StateMaster })
	fs.get("chk").set(false, 0)
	eventually(t, 10*time.Second, "no MASTER_PRIORITY line", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(lines, `INSTANCE "VI_1" MASTER_PRIORITY 90`)
	})
}
