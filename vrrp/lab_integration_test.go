package vrrp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/testkit"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// This file holds the netns lab the interop tests share: ulvs's VRRP run
// inside a namespace (TestULVSChild, through topotest.Reexec), Debian's
// keepalived run beside it, and a netlink watch that timestamps when a
// VIP appears or disappears in a namespace.

const (
	childTest  = "TestULVSChild"
	childReady = "ULVS_CHILD_READY"
)

// TestULVSChild is not a test of its own: it is the body of a ulvs node
// that the interop tests start inside a namespace. It runs the Config in
// $ULVS_VRRP_CONFIG until SIGTERM (graceful stop), writes its Status as
// JSON to $ULVS_VRRP_STATUS on SIGUSR1 and prints every event.
func TestULVSChild(t *testing.T) {
	if !topotest.InReexec(childTest) {
		return
	}
	b, err := os.ReadFile(os.Getenv("ULVS_VRRP_CONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	zc := zap.NewDevelopmentConfig()
	zc.OutputPaths = []string{"stdout"}
	log, err := zc.Build()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = log
	n, err := New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	fmt.Println(childReady) // SIGUSR1 would kill us before this
	go func() {
		for range usr1 {
			st, _ := json.Marshal(n.Status())
			p := os.Getenv("ULVS_VRRP_STATUS")
			_ = os.WriteFile(p+".tmp", st, 0o644)
			_ = os.Rename(p+".tmp", p)
		}
	}()
	evs := n.Events()
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ev := range evs {
			fmt.Printf("EVENT %d %s %s->%s prio %d\n", ev.Time.UnixNano(), ev.Name, ev.Prev, ev.State, ev.Priority)
		}
	}()
	if err := n.Run(ctx); err != nil {
		t.Fatal(err)
	}
	<-printed
}

// slowly polls cond every 500 ms for up to timeout: for conditions that
// run tshark, whose start-up costs a good part of a CPU second and would
// load the machine the timing tests run on.
func slowly(t *testing.T, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, 500*time.Millisecond, msg, cond)
}

// lab is a switch with VRRP nodes on 198.18.0.0/24 and a client.
type lab struct {
	t       *testing.T
	tp      *topo.Topology
	nodes   map[string]*topo.Node
	dir     string
	mu      sync.Mutex
	handles map[string]*netlink.Handle
}

// newLab builds a topology with the named nodes; node i gets
// 198.18.0.(11+i)/24 (and 2001:db8::(11+i)/64), the client 198.18.0.1.
func newLab(t *testing.T, names ...string) *lab {
	t.Helper()
	topotest.Require(t, "keepalived", "tshark", "nft")
	l := &lab{t: t, tp: topotest.New(t), nodes: map[string]*topo.Node{}, dir: t.TempDir()}
	l.nodes["client"] = topotest.AddNode(t, l.tp, "client", topo.NodeConfig{
		Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("2001:db8::1/64")}, NoDAD: true})
	for i, name := range names {
		l.nodes[name] = topotest.AddNode(t, l.tp, name, topo.NodeConfig{
			Addrs: []netip.Prefix{
				netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(11 + i)}), 24),
				netip.MustParsePrefix(fmt.Sprintf("2001:db8::%d/64", 11+i)),
			}, NoDAD: true})
	}
	return l
}

func (l *lab) addr(name string) netip.Addr { return l.nodes[name].Addr(4) }

// ulvs is a running ulvs VRRP node.
type ulvs struct {
	l      *lab
	node   *topo.Node
	proc   *topo.Proc
	status string
}

// startULVS runs cfg in the node (the interface is eth0).
func (l *lab) startULVS(name string, cfg Config) *ulvs {
	l.t.Helper()
	dir := l.t.TempDir()
	b, err := json.Marshal(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	cp := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		l.t.Fatal(err)
	}
	u := &ulvs{l: l, node: l.nodes[name], status: filepath.Join(dir, "status.json")}
	u.proc = topotest.Reexec(l.t, u.node, childTest, "ULVS_VRRP_CONFIG="+cp, "ULVS_VRRP_STATUS="+u.status)
	return u
}

// Status asks the node for its status (SIGUSR1) and reads it.
func (u *ulvs) Status() Status {
	u.l.t.Helper()
	topotest.Eventually(u.l.t, 10*time.Second, "ulvs child not ready", func() bool {
		return strings.Contains(u.proc.Log(), childReady)
	})
	_ = os.Remove(u.status)
	if err := u.proc.Signal(syscall.SIGUSR1); err != nil {
		u.l.t.Fatalf("signal ulvs: %v", err)
	}
	var st Status
	topotest.Eventually(u.l.t, 5*time.Second, "ulvs wrote no status", func() bool {
		b, err := os.ReadFile(u.status)
		return err == nil && json.Unmarshal(b, &st) == nil
	})
	return st
}

// keepalived is a running keepalived.
type keepalived struct {
	proc *topo.Proc
	conf string
}

// startKeepalived runs Debian's keepalived (VRRP only) with conf.
func (l *lab) startKeepalived(name, conf string) *keepalived {
	l.t.Helper()
	dir := l.t.TempDir()
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	p, err := l.nodes[name].Start(dir, "keepalived", "-n", "-l", "-D", "-P", "-f", cf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		_ = p.Stop(3 * time.Second)
		if l.t.Failed() {
			l.t.Logf("keepalived on %s:\n%s", name, tail(p.Log(), 60))
		}
	})
	return &keepalived{proc: p, conf: conf}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// holders returns the nodes that hold addr (netlink in each namespace:
// cheap enough to poll).
func (l *lab) holders(addr netip.Addr) []string {
	var out []string
	for name, n := range l.nodes {
		h := l.handle(n.NS)
		addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
		if err != nil {
			l.t.Fatalf("addresses in %s: %v", n.NS, err)
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// handle returns a netlink handle in the namespace, cached for the test.
func (l *lab) handle(ns string) *netlink.Handle {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.handles[ns]; ok {
		return h
	}
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		l.t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(nsh)
	nsh.Close()
	if err != nil {
		l.t.Fatal(err)
	}
	if l.handles == nil {
		l.handles = map[string]*netlink.Handle{}
		l.t.Cleanup(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, h := range l.handles {
				h.Close()
			}
		})
	}
	l.handles[ns] = h
	return h
}

// waitHolder waits until exactly node holds addr.
func (l *lab) waitHolder(node string, addr netip.Addr, timeout time.Duration) {
	l.t.Helper()
	topotest.Eventually(l.t, timeout, fmt.Sprintf("%v is not held by %s alone", addr, node), func() bool {
		h := l.holders(addr)
		return len(h) == 1 && h[0] == node
	})
}

// addrWatch timestamps, from netlink events in a namespace, when an
// address appears there.
type addrWatch struct {
	mu    sync.Mutex
	added map[netip.Addr][]time.Time
	gone  map[netip.Addr][]time.Time
	done  chan struct{}
}

func (l *lab) watch(node string) *addrWatch {
	l.t.Helper()
	h, err := netns.GetFromName(l.nodes[node].NS)
	if err != nil {
		l.t.Fatal(err)
	}
	w := &addrWatch{added: map[netip.Addr][]time.Time{}, gone: map[netip.Addr][]time.Time{}, done: make(chan struct{})}
	ch := make(chan netlink.AddrUpdate, 64)
	if err := netlink.AddrSubscribeWithOptions(ch, w.done, netlink.AddrSubscribeOptions{Namespace: &h}); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { close(w.done); h.Close() })
	go func() {
		for u := range ch {
			now := time.Now()
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			w.mu.Lock()
			if u.NewAddr {
				w.added[a.Unmap()] = append(w.added[a.Unmap()], now)
			} else {
				w.gone[a.Unmap()] = append(w.gone[a.Unmap()], now)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// addedAfter returns when addr was first added after t0, waiting up to
// timeout for it.
func (w *addrWatch) addedAfter(t *testing.T, addr netip.Addr, t0 time.Time, timeout time.Duration) time.Time {
	t.Helper()
	var at time.Time
	topotest.Eventually(t, timeout, fmt.Sprintf("%v was not added", addr), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, x := range w.added[addr] {
			if x.After(t0) {
				at = x
				return true
			}
		}
		return false
	})
	return at
}

// kaInstance renders one keepalived vrrp_instance.
type kaInstance struct {
	Name, State, Iface string
	VRID, Prio         int
	Advert             string
	Version            int
	Pass, AuthType     string
	VIPs               []string
	Nopreempt          bool
	UnicastSrc         string
	Peers              []string
	Extra              string
}

func (k kaInstance) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vrrp_instance %s {\n  state %s\n  interface %s\n  virtual_router_id %d\n  priority %d\n  advert_int %s\n",
		k.Name, k.State, k.Iface, k.VRID, k.Prio, k.Advert)
	if k.Version != 0 {
		fmt.Fprintf(&b, "  version %d\n", k.Version)
	}
	if k.Pass != "" {
		at := k.AuthType
		if at == "" {
			at = "PASS"
		}
		fmt.Fprintf(&b, "  authentication {\n    auth_type %s\n    auth_pass %s\n  }\n", at, k.Pass)
	}
	if k.Nopreempt {
		b.WriteString("  nopreempt\n")
	}
	if k.UnicastSrc != "" {
		fmt.Fprintf(&b, "  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n", k.UnicastSrc, strings.Join(k.Peers, "\n    "))
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s\n  }\n%s}\n", strings.Join(k.VIPs, "\n    "), k.Extra)
	return b.String()
}
