package test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/testkit"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// The ECMP topology: a router (BIRD 2, ECMP into its FIB, L4 hashing) in
// front of up to three directors running ulvsd with --bgp, three DR real
// servers, and a client network 198.19.0.0/16 behind the router. All on
// one bridge; the router routes between its two subnets on eth0.
const (
	ecmpVIP    = "198.18.0.100"
	routerAddr = "198.18.0.1"
)

var ecmpDirectors = []string{"198.18.0.2", "198.18.0.3", "198.18.0.4"}

// ecmpKeepalived is every director's keepalived.conf: mh over three DR
// real servers (ulvsd gives it the mh-ecmp table), quick TCP checks.
func ecmpKeepalived(sched string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server %s 80 {\n    delay_loop 1\n    lb_algo %s\n    lb_kind DR\n    protocol TCP\n", ecmpVIP, sched)
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "    real_server 198.18.0.1%d 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", i)
	}
	b.WriteString("}\n")
	return b.String()
}

// ecmpBGP is director i's BGP file; directors 1 and 3 run BFD, director 2
// does not (its link cut is detected by the hold time). The hold time is
// 9 s, not the 3 s default: on a loaded 2-CPU machine (make test runs
// packages side by side) a 3 s hold time expired on healthy sessions.
func ecmpBGP(i int) string {
	bfd := ""
	if i != 2 {
		bfd = "    bfd {\n        interval 300\n        multiplier 3\n    }\n"
	}
	return fmt.Sprintf(`bgp {
    router_id %s
    local_as 65001
    shutdown_grace 2
}
neighbor %s {
    remote_as 65000
    hold_time 9
%s}
prefix %s/32 {
    quorum 2
}
`, ecmpDirectors[i-1], routerAddr, bfd, ecmpVIP)
}

// birdConf is the router's BIRD 2: BGP with each director, BFD 300 ms × 3
// with directors 1 and 3, and the routes merged into one ECMP route in the
// kernel.
func birdConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, `router id %s;
log stderr all;
protocol device { scan time 10; }
protocol kernel {
    ipv4 { export all; import none; };
    merge paths on;
}
protocol bfd {
    interface "eth0" { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; };
}
template bgp dirs {
    local %s as 65000;
    ipv4 { import all; export none; };
    hold time 9;
    keepalive time 3;
    connect retry time 1;
    error wait time 1, 5;
    direct;
}
`, routerAddr, routerAddr)
	for i, d := range ecmpDirectors {
		bfd := "on"
		if i == 1 {
			bfd = "off"
		}
		fmt.Fprintf(&b, "protocol bgp d%d from dirs { neighbor %s as 65001; bfd %s; }\n", i+1, d, bfd)
	}
	return b.String()
}

type ecmpLab struct {
	*lab
	router, client *topo.Node
	dirs           []*topo.Node
	ds             []*daemon
	reals          []*real
	clients        []netip.Addr
}

func newECMPLab(t *testing.T, nclients int) *ecmpLab {
	t.Helper()
	topotest.Require(t, "bird", "birdc")
	e := &ecmpLab{lab: newLab(t), ds: make([]*daemon, 3)}
	e.router = topotest.AddNode(t, e.tp, "router", topo.NodeConfig{
		Addrs: []netip.Prefix{netip.MustParsePrefix(routerAddr + "/24"), netip.MustParsePrefix("198.19.0.1/16")},
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.fib_multipath_hash_policy": "1",
			"net.ipv4.conf.all.send_redirects": "0", "net.ipv4.conf.eth0.send_redirects": "0",
			"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.eth0.rp_filter": "0"}})
	e.client = topotest.AddNode(t, e.tp, "client", topo.NodeConfig{
		Addrs: []netip.Prefix{netip.MustParsePrefix("198.19.0.2/16")}, Gateway: netip.MustParseAddr("198.19.0.1"),
		Sysctls: map[string]string{"net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.eth0.accept_redirects": "0"}})
	var batch strings.Builder
	for i := range nclients {
		a := netip.AddrFrom4([4]byte{198, 19, byte(1 + i/250), byte(1 + i%250)})
		e.clients = append(e.clients, a)
		fmt.Fprintf(&batch, "addr add %s/16 dev eth0\n", a)
	}
	bf := filepath.Join(e.dir, "client-addrs")
	if err := os.WriteFile(bf, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	topotest.Run(t, e.client, "ip", "-batch", bf)
	for i, d := range ecmpDirectors {
		e.dirs = append(e.dirs, e.node(fmt.Sprintf("dir%d", i+1), d))
	}
	// Each real server paces a 2 MiB file at 32 KiB/s (64 s a stream).
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17)
	for i := 1; i <= 3; i++ {
		r := e.drRealServing(fmt.Sprintf("rs%d", i), fmt.Sprintf("198.18.0.1%d", i), []string{ecmpVIP},
			topo.NginxConfig{LimitRate: "32k", Files: map[string][]byte{"/big": big, "/mid": big[:256<<10]}})
		topotest.Run(t, r.Node, "ip", "route", "add", "198.19.0.0/16", "via", routerAddr)
		e.reals = append(e.reals, r)
	}
	bc := filepath.Join(e.dir, "bird.conf")
	if err := os.WriteFile(bc, []byte(birdConf()), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(e.dir, "bird.ctl")
	p, err := e.router.Start(e.dir, "bird", "-f", "-c", bc, "-s", sock, "-P", filepath.Join(e.dir, "bird.pid"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			out, _ := e.router.Output(ctx, "birdc", "-s", sock, "show", "protocols", "all")
			t.Logf("bird:\n%s\n%s", tail(p.Log(), 40), out)
		}
	})
	return e
}

// start runs ulvsd with --bgp (and --metrics on 127.0.0.1:9653) on
// director i (1-based).
func (e *ecmpLab) start(i int, sched string) *daemon {
	e.t.Helper()
	bf := filepath.Join(e.dir, fmt.Sprintf("bgp%d.conf", i))
	if err := os.WriteFile(bf, []byte(ecmpBGP(i)), 0o644); err != nil {
		e.t.Fatal(err)
	}
	d := e.ulvsd(e.dirs[i-1], ecmpKeepalived(sched), "--bgp", bf, "--metrics", "127.0.0.1:9653")
	e.ds[i-1] = d
	return d
}

// nexthops returns the router's FIB next hops for the VIP, sorted.
func (e *ecmpLab) nexthops() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := e.router.Output(ctx, "ip", "route", "show", ecmpVIP)
	var hops []string
	for _, m := range regexp.MustCompile(`via (\S+)`).FindAllStringSubmatch(out, -1) {
		hops = append(hops, m[1])
	}
	sort.Strings(hops)
	return hops
}

// waitHops waits until the router's next hops for the VIP are want, and
// returns how long that took from since.
func (e *ecmpLab) waitHops(since time.Time, timeout time.Duration, want ...string) time.Duration {
	e.t.Helper()
	sort.Strings(want)
	var got []string
	if !testkit.Poll(timeout, 10*time.Millisecond, func() bool { got = e.nexthops(); return slices.Equal(got, want) }) {
		e.t.Fatalf("router's next hops for %s: %v, want %v (after %v)", ecmpVIP, got, want, timeout)
	}
	return time.Since(since)
}

// get fetches path from the VIP with a connection from src, through the
// client's routes, and returns the body.
func (e *ecmpLab) get(src netip.Addr, path string) (string, error) {
	var body string
	var err error
	topotest.InNS(e.t, e.client, func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 3 * time.Second}
		var c net.Conn
		if c, err = d.Dial("tcp", ecmpVIP+":80"); err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: vip\r\n\r\n", path)
		var b []byte
		if b, err = io.ReadAll(c); err != nil {
			return
		}
		_, rest, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		body = strings.TrimSpace(string(rest))
	})
	return body, err
}

// connsPerDirector is each running director's connection count for the VIP.
func (e *ecmpLab) connsPerDirector() []int {
	var out []int
	for _, d := range e.ds {
		n := 0
		if d != nil {
			if ok, _ := d.p.Exited(); !ok {
				n = statsConnsService(d.mustAdm("-Ln", "--stats"), "TCP  "+ecmpVIP+":80")
			}
		}
		out = append(out, n)
	}
	return out
}

// agreement asks every running director directly (a host route on the
// client past the router) which real server serves each client address,
// and fails unless all name the same one. It returns the choices.
func (e *ecmpLab) agreement(what string) map[netip.Addr]string {
	e.t.Helper()
	first := map[netip.Addr]string{}
	for i, d := range e.ds {
		if d == nil {
			continue
		}
		topotest.Run(e.t, e.client, "ip", "route", "replace", ecmpVIP+"/32", "via", ecmpDirectors[i], "dev", "eth0", "onlink")
		for _, c := range e.clients {
			rs, err := e.get(c, "/")
			if err != nil {
				e.t.Fatalf("%s: director %d, client %s: %v", what, i+1, c, err)
			}
			if prev, ok := first[c]; !ok {
				first[c] = rs
			} else if prev != rs {
				e.t.Fatalf("%s: client %s: director %d picks %s, another director picked %s", what, c, i+1, rs, prev)
			}
		}
	}
	topotest.Run(e.t, e.client, "ip", "route", "del", ecmpVIP+"/32")
	return first
}

// stream is one long-lived download: the bytes it got, whether it ended
// by an error (a reset), and when each read returned.
type stream struct {
	src   netip.Addr
	n     int
	err   error
	reads []time.Time
}

// startStreams opens one /big download from each client address; done is
// closed when all have ended.
func (e *ecmpLab) startStreams(srcs []netip.Addr, path string) ([]*stream, chan struct{}) {
	e.t.Helper()
	streams := make([]*stream, len(srcs))
	conns := make([]net.Conn, len(srcs))
	topotest.InNS(e.t, e.client, func() {
		for i, src := range srcs {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 3 * time.Second}
			c, err := d.Dial("tcp", ecmpVIP+":80")
			if err != nil {
				e.t.Fatalf("stream from %s: %v", src, err)
			}
			conns[i] = c
		}
	})
	var wg sync.WaitGroup
	for i, c := range conns {
		s := &stream{src: srcs[i]}
		streams[i] = s
		wg.Go(func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(150 * time.Second))
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: vip\r\n\r\n", path); err != nil {
				s.err = err
				return
			}
			r := bufio.NewReaderSize(c, 64<<10)
			buf := make([]byte, 64<<10)
			header := true
			var pending []byte
			for {
				k, err := r.Read(buf)
				s.reads = append(s.reads, time.Now())
				if header {
					pending = append(pending, buf[:k]...)
					if _, rest, ok := bytes.Cut(pending, []byte("\r\n\r\n")); ok {
						s.n += len(rest)
						header = false
					}
				} else {
					s.n += k
				}
				if err != nil {
					if !errors.Is(err, io.EOF) {
						s.err = err
					}
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return streams, done
}

// stall is the longest time any stream waited for data across at: the
// longest gap between two reads that spans at, over all streams.
func stall(streams []*stream, at time.Time) time.Duration {
	var worst time.Duration
	for _, s := range streams {
		for i := 1; i < len(s.reads); i++ {
			if s.reads[i-1].Before(at.Add(time.Millisecond)) && s.reads[i].After(at) {
				worst = max(worst, s.reads[i].Sub(s.reads[i-1]))
			}
		}
	}
	return worst
}

func resets(streams []*stream) (n int, first error) {
	for _, s := range streams {
		if s.err != nil {
			n++
			if first == nil {
				first = fmt.Errorf("stream from %s: %w", s.src, s.err)
			}
		}
	}
	return n, first
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// TestECMP is issue 17's acceptance: N active directors behind a real BIRD
// router with ECMP, routes announced by ulvsd over BGP. In order: spread
// and 100 % agreement (also after real servers were removed and added in
// different orders on different directors); 200 server-paced streams
// across a director added, one stopped with SIGTERM, one killed, one's
// link cut with BFD — zero resets, every byte, the stall of each event and
// the router's withdraw time recorded; a link cut without BFD (one hold
// time); quorum lost and regained; a broken BGP file on reload changing
// nothing; and a negative control with rr that must see resets.
func TestECMP(t *testing.T) {
	t.Parallel()
	e := newECMPLab(t, 300)
	for i := 1; i <= 3; i++ {
		e.start(i, "mh")
	}
	for _, d := range e.ds {
		waitReals(t, d, "198.18.0.11:80", "198.18.0.12:80", "198.18.0.13:80")
	}
	e.waitHops(time.Now(), 40*time.Second, ecmpDirectors...)
	if out := e.ds[0].mustAdm("bgp"); !strings.Contains(out, "established") || !strings.Contains(out, "announced") {
		t.Fatalf("ulvsadm bgp:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	metrics, err := e.dirs[0].Output(ctx, "curl", "-sS", "http://127.0.0.1:9653/metrics")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^ulvs_bgp_neighbor_up\{neighbor="198\.18\.0\.1",state="established"\} 1$`,
		`(?m)^ulvs_bgp_bfd_up\{neighbor="198\.18\.0\.1",state="up"\} 1$`,
		`(?m)^ulvs_bgp_prefix_announced\{directors="multi",prefix="198\.18\.0\.100/32"\} 1$`,
		`(?m)^ulvs_bgp_prefix_changes_total\{change="announce",prefix="198\.18\.0\.100/32"\} [1-9]`} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("director 1's metrics do not match %s:\n%s", re, grepLines(metrics, "ulvs_bgp"))
		}
	}

	// Spread: 300 new connections from distinct clients reach every
	// director through the router.
	before := e.connsPerDirector()
	servedBy := map[netip.Addr]string{}
	for _, c := range e.clients {
		rs, err := e.get(c, "/")
		if err != nil {
			t.Fatalf("client %s: %v", c, err)
		}
		servedBy[c] = rs
	}
	after := e.connsPerDirector()
	per := make([]int, 3)
	total := 0
	for i := range per {
		per[i] = after[i] - before[i]
		total += per[i]
		if per[i] == 0 {
			t.Errorf("director %d got none of the 300 connections: %v", i+1, per)
		}
	}
	t.Logf("spread: 300 connections through the router: per director %v (sum %d)", per, total)
	// Agreement: each director asked directly names, for every client, the
	// real server that served it through ECMP.
	agreed := e.agreement("after start")
	for c, rs := range servedBy {
		if agreed[c] != rs {
			t.Fatalf("client %s: served by %s through ECMP, directors agree on %s", c, rs, agreed[c])
		}
	}
	// Real servers removed and added back in different orders on each
	// director: the tables are the same again.
	edits := [][]string{{"198.18.0.13", "198.18.0.11"}, {"198.18.0.11", "198.18.0.12"}, {"198.18.0.12", "198.18.0.13"}}
	for i, d := range e.ds {
		for _, rs := range edits[i] {
			d.mustAdm("-d", "-t", ecmpVIP+":80", "-r", rs+":80")
		}
		for _, rs := range []string{edits[i][1], edits[i][0]} {
			d.mustAdm("-a", "-t", ecmpVIP+":80", "-r", rs+":80", "-g", "-w", "1")
		}
	}
	again := e.agreement("after removals and additions in different orders")
	for c, rs := range agreed {
		if again[c] != rs {
			t.Fatalf("client %s: %s before the edits, %s after", c, rs, again[c])
		}
	}
	t.Logf("agreement: 3 directors × 300 clients, 100%% (before and after real servers were removed and re-added in different orders)")

	// Flows kept: 200 streams across four events.
	e.ds[2].p.Signal(syscall.SIGTERM)
	e.waitHops(time.Now(), 10*time.Second, ecmpDirectors[0], ecmpDirectors[1])
	<-e.ds[2].p.Done()
	streams, done := e.startStreams(e.clients[:200], "/big")
	time.Sleep(3 * time.Second)
	type event struct {
		name     string
		at       time.Time
		withdraw time.Duration
	}
	var events []event
	// 1. A director added.
	at := time.Now()
	e.start(3, "mh")
	e.waitHops(at, 40*time.Second, ecmpDirectors...)
	events = append(events, event{"director 3 added", at, 0})
	time.Sleep(3 * time.Second)
	// 2. Director 2 stopped with SIGTERM: withdrawn first, forwarding for
	// the 2 s grace.
	at = time.Now()
	e.ds[1].p.Signal(syscall.SIGTERM)
	w := e.waitHops(at, 20*time.Second, ecmpDirectors[0], ecmpDirectors[2])
	events = append(events, event{"director 2 SIGTERM", at, w})
	<-e.ds[1].p.Done()
	time.Sleep(2 * time.Second)
	// 3. Director 3 killed: its session closes, the router withdraws.
	at = time.Now()
	e.ds[2].p.Kill()
	w = e.waitHops(at, 20*time.Second, ecmpDirectors[0])
	events = append(events, event{"director 3 SIGKILL", at, w})
	time.Sleep(2 * time.Second)
	// Director 2 back, so that a link can be cut.
	e.start(2, "mh")
	e.waitHops(time.Now(), 40*time.Second, ecmpDirectors[0], ecmpDirectors[1])
	time.Sleep(2 * time.Second)
	// 4. Director 1's link cut, BFD on (300 ms × 3).
	at = time.Now()
	topotest.Run(t, e.dirs[0], "ip", "link", "set", "eth0", "down")
	w = e.waitHops(at, 20*time.Second, ecmpDirectors[1])
	events = append(events, event{"director 1 link cut (BFD)", at, w})
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		t.Fatal("the streams did not end")
	}
	n, first := resets(streams)
	if n > 0 {
		t.Errorf("%d of 200 streams ended with an error; first: %v", n, first)
	}
	short := 0
	for _, s := range streams {
		if s.n != 2<<20 {
			short++
		}
	}
	if short > 0 {
		t.Errorf("%d of 200 streams got fewer than %d bytes", short, 2<<20)
	}
	base := stall(streams, streams[0].reads[0].Add(2*time.Second))
	t.Logf("flows kept: 200 streams, %d errors, %d short; pacing gap before any event %v", n, short, base.Round(time.Millisecond))
	for _, ev := range events {
		line := fmt.Sprintf("event %-28s client-observed stall %v", ev.name, stall(streams, ev.at).Round(time.Millisecond))
		if ev.withdraw > 0 {
			line += fmt.Sprintf(", router FIB updated after %v", ev.withdraw.Round(time.Millisecond))
		}
		t.Log(line)
	}
	// Recorded, not asserted tightly (the 1.5 s is logged above):
	// well under the 9 s hold time shows BFD, not the hold timer, found it.
	if ev := events[3]; ev.withdraw > 5*time.Second {
		t.Errorf("link cut with BFD: FIB updated after %v; BFD (300 ms × 3) should beat the 9 s hold time", ev.withdraw)
	}

	// A link cut without BFD: the hold time (9 s) finds it.
	e.start(3, "mh")
	e.waitHops(time.Now(), 40*time.Second, ecmpDirectors[1], ecmpDirectors[2])
	at = time.Now()
	topotest.Run(t, e.dirs[1], "ip", "link", "set", "eth0", "down")
	w = e.waitHops(at, 15*time.Second, ecmpDirectors[2])
	t.Logf("event director 2 link cut (no BFD, hold 9 s): router FIB updated after %v", w.Round(time.Millisecond))
	if w > 11*time.Second {
		t.Errorf("link cut without BFD: FIB updated after %v, want within about one hold time (9 s)", w)
	}

	// Quorum 2 of 3: two real servers down withdraw the prefix; back up,
	// it returns.
	d3 := e.ds[2]
	e.reals[0].nginx.Kill()
	e.reals[1].nginx.Kill()
	at = time.Now()
	e.waitHops(at, 15*time.Second)
	if out := d3.mustAdm("bgp"); !strings.Contains(out, "below quorum 2") {
		t.Errorf("ulvsadm bgp below quorum:\n%s", out)
	}
	e.reals[0].nginx = e.lab.nginx(e.reals[0].Node, "rs1", topo.NginxConfig{LimitRate: "32k"})
	e.waitHops(time.Now(), 15*time.Second, ecmpDirectors[2])
	t.Logf("quorum: withdrawn after %v with 1 of 3 real servers alive, announced again when 2 were", time.Since(at).Round(time.Millisecond))

	// A broken BGP file on reload changes nothing.
	bf := filepath.Join(e.dir, "bgp3.conf")
	if err := os.WriteFile(bf, []byte("bgp {\n  router_id 198.18.0.4\n  local_as 65001\n}\nneighbor 198.18.0.1 {\n  hold_time 1\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before3 := d3.mustAdm("bgp")
	d3.signal("HUP")
	topotest.Eventually(t, 5*time.Second, "the broken reload was never reported", func() bool {
		return strings.Contains(d3.mustAdm("status"), "reload refused")
	})
	time.Sleep(time.Second)
	if got := e.nexthops(); !slices.Equal(got, []string{ecmpDirectors[2]}) {
		t.Errorf("after a broken BGP file: next hops %v", got)
	}
	if out := d3.mustAdm("bgp"); !strings.Contains(out, "established") || strings.Count(out, "announced") != strings.Count(before3, "announced") {
		t.Errorf("after a broken BGP file:\n%s\nbefore:\n%s", out, before3)
	}
}

// TestECMPNegativeControl: streams with rr instead of mh. When a director
// joins, the router moves some flows to it; rr picks a real server afresh,
// often another one, whose kernel resets the connection. Streams must
// break: the flows-kept test can fail.
func TestECMPNegativeControl(t *testing.T) {
	t.Parallel()
	e := newECMPLab(t, 60)
	e.start(1, "rr")
	waitReals(t, e.ds[0], "198.18.0.11:80", "198.18.0.12:80", "198.18.0.13:80")
	e.waitHops(time.Now(), 40*time.Second, ecmpDirectors[0])
	// 256 KiB at 32 KiB/s: 8 s a stream.
	streams, done := e.startStreams(e.clients, "/mid")
	time.Sleep(2 * time.Second)
	e.start(2, "rr")
	e.waitHops(time.Now(), 40*time.Second, ecmpDirectors[0], ecmpDirectors[1])
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the streams did not end")
	}
	broken := 0
	for _, s := range streams {
		if isReset(s.err) {
			broken++
		}
	}
	t.Logf("negative control (rr): %d of %d streams reset after a director joined", broken, len(streams))
	if broken == 0 {
		t.Error("no stream was reset with rr: the flows-kept test could not fail")
	}
}
