package vrrp

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

const probeChild = "TestProbeChild"

// TestProbeChild is not a test of its own: it is the client prober the
// failover benchmark runs in the client namespace. Every 10 ms it sends an
// ICMP echo request to $ULVS_PROBE_DST and prints one line per reply:
// "seq sent_unix_nanos received_unix_nanos".
func TestProbeChild(t *testing.T) {
	if !topotest.InReexec(probeChild) {
		return
	}
	dst := net.ParseIP(os.Getenv("ULVS_PROBE_DST"))
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	var mu sync.Mutex
	sent := map[int]time.Time{}
	out := bufio.NewWriter(os.Stdout)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			e, ok := m.Body.(*icmp.Echo)
			if !ok || e.ID != id {
				continue
			}
			mu.Lock()
			if s, ok := sent[e.Seq]; ok {
				fmt.Fprintf(out, "%d %d %d\n", e.Seq, s.UnixNano(), now.UnixNano())
				out.Flush()
			}
			mu.Unlock()
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for seq := 0; ; seq = (seq + 1) & 0xffff {
		<-tick.C
		b, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("ulvs")}}).Marshal(nil)
		mu.Lock()
		sent[seq] = time.Now()
		mu.Unlock()
		_, _ = c.WriteTo(b, &net.IPAddr{IP: dst})
	}
}

// outage returns the longest time between two consecutive answered probes
// in the prober's output, from around the event on.
func outage(log string, event time.Time) (time.Duration, int) {
	var sends []time.Time
	for _, l := range strings.Split(log, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		s, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		sends = append(sends, time.Unix(0, s))
	}
	slices.SortFunc(sends, func(a, b time.Time) int { return a.Compare(b) })
	var worst time.Duration
	for i := 1; i < len(sends); i++ {
		if sends[i].Before(event.Add(-time.Second)) {
			continue
		}
		if d := sends[i].Sub(sends[i-1]); d > worst {
			worst = d
		}
	}
	return worst, len(sends)
}

// TestFailoverBenchmark measures the client-observed outage of a failover:
// a client pings the VIP every 10 ms while the master crashes (kill -9 and
// its link cut, as when the host dies) or stops gracefully; the outage is
// the longest gap between answered probes. ulvs pairs and keepalived pairs
// run in the same session, at v2 advert_int 1 and v3 advert_int 0.1. It
// runs only with ULVS_BENCH_FAILOVER=1 and writes
// bench/results/vrrp-failover-<date>.md.
func TestFailoverBenchmark(t *testing.T) {
	if os.Getenv("ULVS_BENCH_FAILOVER") != "1" {
		t.Skip("set ULVS_BENCH_FAILOVER=1 to run the failover benchmark")
	}
	reps := 5
	if s := os.Getenv("ULVS_BENCH_REPS"); s != "" {
		reps, _ = strconv.Atoi(s)
	}
	type key struct{ impl, ver, mode string }
	results := map[key][]time.Duration{}
	for _, tc := range interopCases {
		for _, mode := range []string{"crash", "graceful"} {
			for rep := range reps {
				for _, impl := range []string{"ulvs", "keepalived"} {
					name := fmt.Sprintf("%s/%s/%s/%d", tc.name, mode, impl, rep)
					t.Run(name, func(t *testing.T) {
						d := failoverOnce(t, tc, impl, mode)
						results[key{impl, tc.name, mode}] = append(results[key{impl, tc.name, mode}], d)
					})
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# VRRP failover: client-observed outage, ulvs vs %s\n\n", keepalivedVersion())
	fmt.Fprintf(&b, "Run %s on %s.\n\n", time.Now().UTC().Format(time.RFC3339), hostInfo())
	b.WriteString("Command: `sudo ULVS_BENCH_FAILOVER=1 go test ./vrrp -run TestFailoverBenchmark -count=1 -v -timeout 30m`\n\n")
	b.WriteString("A client on the same bridge pings the VIP every 10 ms; the outage is the longest gap between two\n")
	b.WriteString("answered probes (10 ms resolution). *crash*: the master's link is cut and its daemon killed with\n")
	b.WriteString("SIGKILL (the host dies; no priority 0). *graceful*: SIGTERM (priority 0 sent, VIPs removed).\n")
	b.WriteString("Both nodes of a pair run the same implementation (master priority 150, backup 100).\n")
	b.WriteString("The expected value is the backup's timer: Master_Down_Interval, which runs from the master's last\n")
	b.WriteString("advert (so a crash between two adverts is noticed sooner), or Skew_Time after priority 0.\n")
	fmt.Fprintf(&b, "%d runs each; min / median / max.\n\n", reps)
	b.WriteString("| version | failover | expected (backup's timer) | ulvs | keepalived |\n|---|---|---|---|---|\n")
	for _, tc := range interopCases {
		for _, mode := range []string{"crash", "graceful"} {
			exp := tc.down(100)
			if mode == "graceful" {
				exp = tc.skew(100)
			}
			fmt.Fprintf(&b, "| %s advert_int %s | %s | %v | %s | %s |\n", tc.name, tc.advert, mode, exp.Round(time.Millisecond),
				summary(results[key{"ulvs", tc.name, mode}]), summary(results[key{"keepalived", tc.name, mode}]))
		}
	}
	t.Log("\n" + b.String())
	root, err := topotest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "bench", "results", "vrrp-failover-"+time.Now().UTC().Format("2006-01-02")+".md")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("%s / %s / %s", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}

func keepalivedVersion() string {
	out, err := execOutput("keepalived", "--version")
	if err != nil {
		return "(version unknown)"
	}
	return strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func hostInfo() string {
	n, _ := execOutput("nproc")
	u, _ := execOutput("uname", "-r")
	return fmt.Sprintf("%s CPUs, kernel %s", strings.TrimSpace(n), strings.TrimSpace(u))
}

// failoverOnce runs one failover of a fresh pair and returns the outage.
func failoverOnce(t *testing.T, tc interopCase, impl, mode string) time.Duration {
	l := newLab(t, "m", "b")
	v := netip.MustParseAddr("198.18.0.100")
	type stopper interface {
		Stop(time.Duration) error
		Kill()
	}
	start := func(node string, prio int) stopper {
		if impl == "ulvs" {
			state := StateBackup
			if prio == 150 {
				state = StateMaster
			}
			return l.startULVS(node, Config{Instances: []Instance{{Name: "VI_1", State: state, Interface: "eth0", VRID: 51,
				Priority: prio, Version: tc.version, AdvertInt: tc.adv, VIPs: []VIP{{Prefix: netip.PrefixFrom(v, 24)}}}}}).proc
		}
		state := "BACKUP"
		if prio == 150 {
			state = "MASTER"
		}
		return l.startKeepalived(node, kaInstance{Name: "VI_1", State: state, Iface: "eth0", VRID: 51, Prio: prio,
			Advert: tc.advert, Version: tc.version, VIPs: []string{"198.18.0.100/24"}}.String()).proc
	}
	master := start("m", 150)
	start("b", 100)
	l.waitHolder("m", v, 3*tc.down(100)+10*time.Second)
	probe := topotest.Reexec(t, l.nodes["client"], probeChild, "ULVS_PROBE_DST="+v.String())
	topotest.Eventually(t, 5*time.Second, "no probe answered", func() bool {
		return strings.Count(probe.Log(), "\n") > 20
	})
	time.Sleep(time.Second)
	event := time.Now()
	if mode == "crash" {
		if err := l.nodes["m"].IP("link", "set", "eth0", "down"); err != nil {
			t.Fatal(err)
		}
		master.Kill()
	} else {
		_ = master.Stop(5 * time.Second)
	}
	// Past the backup's timer, wait for the probes to be answered again.
	exp := tc.down(100)
	if mode == "graceful" {
		exp = tc.skew(100)
	}
	time.Sleep(exp + time.Second)
	topotest.Eventually(t, 20*time.Second, "probes never answered again", func() bool {
		return lastAnswerAfter(probe.Log(), time.Now().Add(-100*time.Millisecond))
	})
	_ = probe.Stop(time.Second)
	d, n := outage(probe.Log(), event)
	t.Logf("%s %s %s: outage %v (%d answered probes)", impl, tc.name, mode, d.Round(time.Millisecond), n)
	return d
}

// lastAnswerAfter reports whether a probe sent after at was answered.
func lastAnswerAfter(log string, at time.Time) bool {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) != 3 {
			continue
		}
		s, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		return time.Unix(0, s).After(at)
	}
	return false
}
