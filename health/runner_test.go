package health

import (
	"context"
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

// harness runs a Runner inside a synctest bubble with fakes around it.
type harness struct {
	t      *testing.T
	r      *Runner
	sink   *recSink
	note   *recNotifier
	dial   *fakeDialer
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []string
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	h := &harness{t: t, sink: newRecSink(), note: &recNotifier{}, dial: newFakeDialer(), start: time.Now()}
	r, err := New(cfg, h.sink, Options{
		Logger:   zaptest.NewLogger(t),
		Dialer:   h.dial,
		Notifier: h.note,
		OnEvent: func(e Event) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.events = append(h.events, h.fmtEvent(e))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	go func() { _ = r.Run(ctx); close(h.done) }()
	synctest.Wait()
	return h
}

func (h *harness) fmtEvent(e Event) string {
	s := e.Time.Sub(h.start).String() + " " + e.Kind.String() + " " + e.Service
	if e.Real.IsValid() {
		s += " " + e.Real.String()
	}
	return s
}

func (h *harness) takeEvents() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.events
	h.events = nil
	return e
}

// at sleeps until the bubble's clock reads start+d, then lets every
// goroutine settle.
func (h *harness) at(d time.Duration) {
	h.t.Helper()
	if w := time.Until(h.start.Add(d)); w > 0 {
		time.Sleep(w)
	}
	synctest.Wait()
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

func diff(t *testing.T, what string, want, got []string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func spec(argv ...string) script.Spec { return script.Spec{Argv: argv} }

// oneTCP is a service with one real server checked by TCP_CHECK.
func oneTCP(t Timing, mod func(*VirtualServer)) *Config {
	vs := VirtualServer{
		Addr:   ap("198.18.0.10:80"),
		Reals:  []RealServer{{Addr: ap("198.18.0.11:80"), Weight: 5, NotifyUp: spec("/bin/echo", "up", "rs1"), NotifyDown: spec("/bin/echo", "down", "rs1"), Checks: []Check{{Kind: KindTCP}}}},
		Timing: t,
	}
	if mod != nil {
		mod(&vs)
	}
	return &Config{RouterID: "lb1", Services: []VirtualServer{vs}}
}

const svc = "[198.18.0.10]:tcp:80"

// TestTCPDownAndUpTiming checks keepalived's retry timing to the second:
// the failure is seen at the next delay_loop tick, retried retry times
// every delay_before_retry, then the server leaves the pool; it comes back
// at the first success.
func TestTCPDownAndUpTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := ap("198.18.0.11:80")
		h := newHarness(t, oneTCP(tcpTiming(10*time.Second, 3*time.Second, 5*time.Second, 2), nil))
		defer h.stop()
		diff(t, "start ops", []string{"add " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
		diff(t, "start notifications", []string{
			"fifo VS " + svc + " UP",
			"mail [lb1] Virtualserver " + svc + " - UP | => Starting with quorum up 1+0=1 <= 5 <=",
		}, h.note.take())
		diff(t, "start events", []string{"0s real_server_up " + svc + " 198.18.0.11:80", "0s quorum_up " + svc}, h.takeEvents())

		h.at(25 * time.Second)
		h.dial.set(rs, refuse)
		// Checks at 30 (fail), 33 (retry 1), 36 (retry 2 exhausted: down).
		h.at(35 * time.Second)
		if got := h.sink.takeOps(); len(got) != 0 {
			t.Fatalf("down too early: %v", got)
		}
		h.at(36 * time.Second)
		diff(t, "down ops", []string{"remove " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
		diff(t, "down events", []string{
			"36s real_server_down " + svc + " 198.18.0.11:80",
			"36s quorum_down " + svc,
			"36s checker_down " + svc + " 198.18.0.11:80",
		}, h.takeEvents())
		diff(t, "down notifications", []string{
			"script /bin/echo down rs1",
			"fifo RS [198.18.0.11]:80 " + svc + " DOWN",
			"fifo VS " + svc + " DOWN",
			"mail [lb1] Virtualserver " + svc + " - DOWN | => Lost quorum 1+0=1 <= 0 <=",
			"mail [lb1] Realserver [198.18.0.11]:80 of virtual server " + svc + " - DOWN | => TCP_CHECK CHECK failed on service <=",
		}, h.note.take())
		if got := h.dial.count(rs); got != 6 {
			t.Errorf("dials by 36s = %d, want 6 (at 0, 10, 20, 30, 33, 36)", got)
		}

		h.dial.set(rs, accept)
		// Down: next check delay_loop after the last, at 46; up at once.
		h.at(45 * time.Second)
		if got := h.sink.takeOps(); len(got) != 0 {
			t.Fatalf("up too early: %v", got)
		}
		h.at(46 * time.Second)
		diff(t, "up ops", []string{"add " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
		diff(t, "up pool", []string{"198.18.0.11:80 w=5"}, h.sink.pool(svc))
	})
}

// TestTCPTimeoutTiming: a server that does not answer costs
// connect_timeout per attempt.
func TestTCPTimeoutTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := ap("198.18.0.11:80")
		h := newHarness(t, oneTCP(tcpTiming(10*time.Second, 3*time.Second, 5*time.Second, 2), nil))
		defer h.stop()
		h.sink.takeOps()
		h.at(25 * time.Second)
		h.dial.set(rs, hang)
		// 30→35 fail, 38→43 fail, 46→51 fail: down at 51.
		h.at(50 * time.Second)
		if got := h.sink.takeOps(); len(got) != 0 {
			t.Fatalf("down too early: %v", got)
		}
		h.at(51 * time.Second)
		diff(t, "down ops", []string{"remove " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
	})
}

func TestInhibitOnFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := ap("198.18.0.11:80")
		h := newHarness(t, oneTCP(tcpTiming(10*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) {
			v.InhibitOnFailure = true
		}))
		defer h.stop()
		diff(t, "start", []string{"add " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
		h.dial.set(rs, refuse)
		h.at(10 * time.Second)
		diff(t, "down", []string{"update " + svc + " 198.18.0.11:80 w=0"}, h.sink.takeOps())
		h.dial.set(rs, accept)
		h.at(20 * time.Second)
		diff(t, "up", []string{"update " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
	})
}

// TestAlpha: with alpha the server starts out of the pool and enters it on
// its first success; with inhibit it starts in at weight 0.
func TestAlpha(t *testing.T) {
	for _, inhibit := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "inhibit"}[inhibit], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, oneTCP(tcpTiming(10*time.Second, time.Second, time.Second, 1), func(v *VirtualServer) {
					v.Alpha = true
					v.InhibitOnFailure = inhibit
				}))
				defer h.stop()
				var start, up []string
				if inhibit {
					start = []string{"add " + svc + " 198.18.0.11:80 w=0"}
					up = []string{"update " + svc + " 198.18.0.11:80 w=5"}
				} else {
					up = []string{"add " + svc + " 198.18.0.11:80 w=5"}
				}
				// The first check runs at once (warmup 0) and succeeds.
				diff(t, "ops", append(start, up...), h.sink.takeOps())
				diff(t, "notifications", []string{
					"script /bin/echo up rs1",
					"fifo RS [198.18.0.11]:80 " + svc + " UP",
					"fifo VS " + svc + " UP",
					"mail [lb1] Virtualserver " + svc + " - UP | => Gained quorum 1+0=1 <= 5 <=",
					"mail [lb1] Realserver [198.18.0.11]:80 of virtual server " + svc + " - UP | => TCP_CHECK CHECK succeed on service <=",
				}, h.note.take())
			})
		})
	}
}

// TestQuorumSorryServer: losing enough weight swaps the pool for the sorry
// server and runs quorum_down; regaining swaps back and runs quorum_up.
func TestQuorumSorryServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := ap("198.18.0.11:80"), ap("198.18.0.12:80")
		cfg := &Config{RouterID: "lb1", SMTPAlert: ptr(false), Services: []VirtualServer{{
			Addr: ap("198.18.0.10:80"), Quorum: 2, SorryServer: ap("198.18.0.99:80"),
			QuorumUp: spec("/bin/echo", "quorum", "up"), QuorumDown: spec("/bin/echo", "quorum", "down"),
			Timing: tcpTiming(10*time.Second, time.Second, time.Second, 0),
			Reals: []RealServer{
				{Addr: a, Weight: 1, Checks: []Check{{Kind: KindTCP}}},
				{Addr: b, Weight: 1, Checks: []Check{{Kind: KindTCP}}},
			},
		}}}
		h := newHarness(t, cfg)
		defer h.stop()
		diff(t, "start", []string{"add " + svc + " 198.18.0.11:80 w=1", "add " + svc + " 198.18.0.12:80 w=1"}, h.sink.takeOps())
		diff(t, "start notifications", []string{"script /bin/echo quorum up", "fifo VS " + svc + " UP"}, h.note.take())

		h.dial.set(b, refuse)
		h.at(10 * time.Second)
		diff(t, "lost quorum", []string{
			"remove " + svc + " 198.18.0.12:80 w=1",
			"remove " + svc + " 198.18.0.11:80 w=1",
			"add " + svc + " 198.18.0.99:80 w=1 sorry",
		}, h.sink.takeOps())
		diff(t, "sorry pool", []string{"198.18.0.99:80 w=1 sorry"}, h.sink.pool(svc))
		diff(t, "lost notifications", []string{
			"fifo RS [198.18.0.12]:80 " + svc + " DOWN",
			"script /bin/echo quorum down",
			"fifo VS " + svc + " DOWN",
		}, h.note.take())

		// While the sorry server holds the service, a real server going
		// down does not touch the pool.
		h.dial.set(a, refuse)
		h.at(20 * time.Second)
		diff(t, "rs down under sorry", nil, h.sink.takeOps())
		h.dial.set(a, accept)
		h.at(30 * time.Second)
		diff(t, "rs up under sorry", nil, h.sink.takeOps())

		h.dial.set(b, accept)
		h.at(40 * time.Second)
		diff(t, "regained", []string{
			"remove " + svc + " 198.18.0.99:80 w=1 sorry",
			"add " + svc + " 198.18.0.11:80 w=1",
			"add " + svc + " 198.18.0.12:80 w=1",
		}, h.sink.takeOps())
		diff(t, "regained pool", []string{"198.18.0.11:80 w=1", "198.18.0.12:80 w=1"}, h.sink.pool(svc))
		got := h.note.take()
		diff(t, "regained notifications", []string{"script /bin/echo quorum up", "fifo VS " + svc + " UP"}, got[len(got)-2:])
	})
}

// TestHysteresis: quorum 3 hysteresis 1 with four servers of weight 1:
// lost below 2, regained at 4.
func TestHysteresis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reals []RealServer
		var addrs []netip.AddrPort
		for i := range 4 {
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(11 + i)}), 80)
			addrs = append(addrs, a)
			reals = append(reals, RealServer{Addr: a, Weight: 1, Checks: []Check{{Kind: KindTCP}}})
		}
		cfg := &Config{SMTPAlert: ptr(false), Services: []VirtualServer{{
			Addr: ap("198.18.0.10:80"), Quorum: 3, Hysteresis: 1, Reals: reals,
			Timing: tcpTiming(10*time.Second, time.Second, time.Second, 0),
		}}}
		h := newHarness(t, cfg)
		defer h.stop()
		quorum := func() []string {
			var q []string
			for _, e := range h.takeEvents() {
				if len(e) > 0 && (contains(e, "quorum_up") || contains(e, "quorum_down")) {
					q = append(q, e)
				}
			}
			return q
		}
		diff(t, "start", []string{"0s quorum_up " + svc}, quorum())
		h.dial.set(addrs[0], refuse)
		h.dial.set(addrs[1], refuse)
		h.at(10 * time.Second)
		diff(t, "2 alive: still up (lost below 3-1=2)", nil, quorum())
		h.dial.set(addrs[2], refuse)
		h.at(20 * time.Second)
		diff(t, "1 alive: lost", []string{"20s quorum_down " + svc}, quorum())
		h.dial.set(addrs[0], accept)
		h.dial.set(addrs[1], accept)
		h.at(30 * time.Second)
		diff(t, "3 alive: not yet (gain at 3+1=4)", nil, quorum())
		h.dial.set(addrs[2], accept)
		h.at(40 * time.Second)
		diff(t, "4 alive: regained", []string{"40s quorum_up " + svc}, quorum())
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestAllCheckersMustPass: a real server with two checkers is up only
// while both are.
func TestAllCheckersMustPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := oneTCP(tcpTiming(10*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) {
			v.Reals[0].Checks = []Check{{Kind: KindTCP}, {Kind: KindTCP, Conn: ConnOpts{Port: 8080}}}
		})
		h := newHarness(t, cfg)
		defer h.stop()
		h.sink.takeOps()
		h.dial.set(ap("198.18.0.11:8080"), refuse)
		h.at(10 * time.Second)
		diff(t, "second checker down", []string{"remove " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
		h.dial.set(ap("198.18.0.11:80"), refuse)
		h.at(20 * time.Second)
		diff(t, "both down", nil, h.sink.takeOps())
		h.dial.set(ap("198.18.0.11:8080"), accept)
		h.at(30 * time.Second)
		diff(t, "one of two up", nil, h.sink.takeOps())
		h.dial.set(ap("198.18.0.11:80"), accept)
		h.at(40 * time.Second)
		diff(t, "both up", []string{"add " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
	})
}

// TestHASuspend: checkers of an ha_suspend service run only while this
// node holds the service address.
func TestHASuspend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := ap("198.18.0.11:80")
		h := newHarness(t, oneTCP(tcpTiming(10*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) {
			v.HASuspend = true
		}))
		defer h.stop()
		h.at(35 * time.Second)
		if n := h.dial.count(rs); n != 0 {
			t.Fatalf("%d checks while suspended", n)
		}
		st, err := h.r.Status(context.Background())
		if err != nil || !st[0].Suspended {
			t.Fatalf("status %+v %v: want suspended", st, err)
		}
		if err := h.r.SetVIP(context.Background(), netip.MustParseAddr("198.18.0.10"), true); err != nil {
			t.Fatal(err)
		}
		// The next tick of the suspended loop (40 s) checks again.
		h.at(40 * time.Second)
		if n := h.dial.count(rs); n != 1 {
			t.Fatalf("%d checks after the VIP came, want 1", n)
		}
		if err := h.r.SetVIP(context.Background(), netip.MustParseAddr("198.18.0.10"), false); err != nil {
			t.Fatal(err)
		}
		h.at(100 * time.Second)
		if n := h.dial.count(rs); n != 1 {
			t.Fatalf("%d checks after the VIP left, want still 1", n)
		}
	})
}

// TestStopOmega: at shutdown destinations are removed; with omega the
// down notifiers run (as shutdown scripts) and quorum_down too.
func TestStopOmega(t *testing.T) {
	for _, omega := range []bool{false, true} {
		t.Run(map[bool]string{false: "no omega", true: "omega"}[omega], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, oneTCP(tcpTiming(10*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) {
					v.Omega = omega
					v.QuorumDown = spec("/bin/echo", "qdown")
					v.SMTPAlert = ptr(false)
				}))
				h.sink.takeOps()
				h.note.take()
				h.stop()
				diff(t, "ops", []string{"remove " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
				var want []string
				if omega {
					want = []string{
						"script /bin/echo down rs1 (shutdown)",
						"fifo RS [198.18.0.11]:80 " + svc + " DOWN",
						"script /bin/echo qdown (shutdown)",
						"fifo VS " + svc + " DOWN",
					}
				}
				diff(t, "notifications", want, h.note.take())
			})
		})
	}
}

// TestReload: an unchanged checker keeps its state (a down server stays
// out without a new notification), a weight change edits the pool, a
// removed server leaves it and a new one enters it.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, c := ap("198.18.0.11:80"), ap("198.18.0.12:80"), ap("198.18.0.13:80")
		tm := tcpTiming(10*time.Second, time.Second, time.Second, 0)
		mk := func(reals ...RealServer) *Config {
			return &Config{SMTPAlert: ptr(false), Services: []VirtualServer{{Addr: ap("198.18.0.10:80"), Timing: tm, Reals: reals}}}
		}
		rsA := RealServer{Addr: a, Weight: 1, NotifyDown: spec("/bin/echo", "down", "a"), Checks: []Check{{Kind: KindTCP}}}
		rsB := RealServer{Addr: b, Weight: 1, NotifyDown: spec("/bin/echo", "down", "b"), Checks: []Check{{Kind: KindTCP}}}
		h := newHarness(t, mk(rsA, rsB))
		defer h.stop()
		h.dial.set(a, refuse)
		h.at(10 * time.Second)
		diff(t, "a down", []string{
			"add " + svc + " 198.18.0.11:80 w=1", "add " + svc + " 198.18.0.12:80 w=1",
			"remove " + svc + " 198.18.0.11:80 w=1",
		}, h.sink.takeOps())
		h.note.take()

		rsB.Weight = 3
		rsC := RealServer{Addr: c, Weight: 2, Checks: []Check{{Kind: KindTCP}}}
		if err := h.r.Apply(context.Background(), mk(rsA, rsB, rsC)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		diff(t, "reload ops", []string{
			"update " + svc + " 198.18.0.12:80 w=3",
			"add " + svc + " 198.18.0.13:80 w=2",
		}, h.sink.takeOps())
		diff(t, "reload pool", []string{"198.18.0.12:80 w=3", "198.18.0.13:80 w=2"}, h.sink.pool(svc))
		diff(t, "reload notifications", nil, h.note.take())
		// a's checker kept running on its schedule and state: still down,
		// and up at its next success.
		h.dial.set(a, accept)
		h.at(20 * time.Second)
		diff(t, "a up", []string{"add " + svc + " 198.18.0.11:80 w=1"}, h.sink.takeOps())
		h.note.take()

		if err := h.r.Apply(context.Background(), mk(rsA, rsC)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		diff(t, "b removed", []string{"remove " + svc + " 198.18.0.12:80 w=3"}, h.sink.takeOps())
		diff(t, "b removed notifications", []string{
			"script /bin/echo down b",
			"fifo RS [198.18.0.12]:80 " + svc + " DOWN",
		}, h.note.take())

		bad := mk(rsA, rsA)
		if err := h.r.Apply(context.Background(), bad); err == nil {
			t.Fatal("duplicate real server accepted")
		}
		diff(t, "bad config changes nothing", nil, h.sink.takeOps())
	})
}

// TestBoundedGoroutines: a thousand checkers use one goroutine each plus
// a constant.
func TestBoundedGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reals []RealServer
		for i := range 1000 {
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(1 + i/250), byte(1 + i%250)}), 80)
			reals = append(reals, RealServer{Addr: a, Weight: 1, Checks: []Check{{Kind: KindTCP}}})
		}
		cfg := &Config{Services: []VirtualServer{{Addr: ap("198.18.0.10:80"), Reals: reals,
			Timing: Timing{DelayLoop: time.Second, ConnectTimeout: time.Second}}}}
		before := countGoroutines()
		h := newHarness(t, cfg)
		h.at(5 * time.Second)
		during := countGoroutines() - before
		if during > 1000+4 {
			t.Errorf("%d goroutines for 1000 checkers", during)
		}
		st, err := h.r.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range st[0].Reals {
			if r.Checkers[0].Runs < 4 {
				t.Fatalf("%s ran %d times in 5 s at delay_loop 1 s", r.Addr, r.Checkers[0].Runs)
			}
		}
		h.stop()
	})
}

// TestSorryServerInhibit: the sorry server waits in the pool at weight 0
// and takes weight 1 while it is in use.
func TestSorryServerInhibit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := ap("198.18.0.11:80")
		h := newHarness(t, oneTCP(tcpTiming(10*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) {
			v.SorryServer = ap("198.18.0.99:80")
			v.SorryServerInhibit = true
			v.SMTPAlert = ptr(false)
		}))
		defer h.stop()
		diff(t, "start", []string{"add " + svc + " 198.18.0.11:80 w=5", "add " + svc + " 198.18.0.99:80 w=0 sorry"}, h.sink.takeOps())
		h.dial.set(rs, refuse)
		h.at(10 * time.Second)
		diff(t, "lost", []string{"remove " + svc + " 198.18.0.11:80 w=5", "update " + svc + " 198.18.0.99:80 w=1 sorry"}, h.sink.takeOps())
		h.dial.set(rs, accept)
		h.at(20 * time.Second)
		diff(t, "regained", []string{"update " + svc + " 198.18.0.99:80 w=0 sorry", "add " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
	})
}

// TestRSInitNotifies: with rs_init_notifies a real server that starts in
// the pool (not alpha) runs notify_up and writes its FIFO line at start;
// without it, the start is silent (ipwrapper.c init_service_rs).
func TestRSInitNotifies(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := oneTCP(tcpTiming(10*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) { v.SMTPAlert = ptr(false) })
				cfg.RSInitNotifies = on
				h := newHarness(t, cfg)
				defer h.stop()
				want := []string{}
				if on {
					want = []string{"script /bin/echo up rs1", "fifo RS [198.18.0.11]:80 " + svc + " UP"}
				}
				got := slices.DeleteFunc(h.note.take(), func(s string) bool { return strings.HasPrefix(s, "fifo VS") })
				diff(t, "notifications at start", want, got)
			})
		})
	}
}
