package health

import (
	"bufio"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/health/healthtest"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// The netns tests run the Runner inside a director namespace (a Go
// process cannot move all its threads into a namespace, so the test binary
// re-executes itself there as TestHealthChild) against real servers in
// other namespaces: nginx, opensmtpd, dnsmasq, socat and the kernel's ICMP.
// The child prints every event and Sink operation as a JSON line; the
// parent drives the servers and reads the lines.

// line is one JSON line of the child.
type line struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // "event", "op", "status", "stopped"
	Kind    string    `json:"kind,omitempty"`
	Service string    `json:"service,omitempty"`
	Real    string    `json:"real,omitempty"`
	Checker string    `json:"checker,omitempty"`
	Weight  int64     `json:"weight,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Sorry   bool      `json:"sorry,omitempty"`
	Status  []ServiceStatus
}

type jsonOut struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (o *jsonOut) put(l line) {
	o.mu.Lock()
	defer o.mu.Unlock()
	l.Time = time.Now()
	o.enc.Encode(l)
}

func (o *jsonOut) op(kind, svc string, d Dest) error {
	o.put(line{Type: "op", Kind: kind, Service: svc, Real: d.Addr.String(), Weight: d.Weight, Sorry: d.Sorry})
	return nil
}

func (o *jsonOut) AddDest(svc string, d Dest) error    { return o.op("add", svc, d) }
func (o *jsonOut) UpdateDest(svc string, d Dest) error { return o.op("update", svc, d) }
func (o *jsonOut) RemoveDest(svc string, d Dest) error { return o.op("remove", svc, d) }

// TestHealthChild is the director side; it does nothing unless started by
// Reexec.
func TestHealthChild(t *testing.T) {
	if !topotest.InReexec("TestHealthChild") {
		return
	}
	b, err := os.ReadFile(os.Getenv("HEALTH_CONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	out := &jsonOut{enc: json.NewEncoder(os.Stdout)}
	log, _ := zap.NewDevelopment()
	dc := DispatcherConfig{Logger: log}
	if m := os.Getenv("HEALTH_MAIL"); m != "" {
		dc.Mail = &MailConfig{Server: m, Helo: "lb.example.test", From: "keepalived@lb.example.test", To: []string{"nobody@example.test"}}
	}
	disp, err := NewDispatcher(dc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(&cfg, out, Options{Logger: log, Notifier: disp, OnEvent: func(e Event) {
		out.put(line{Type: "event", Kind: e.Kind.String(), Service: e.Service, Real: e.Real.String(), Checker: e.Checker, Weight: e.Weight, Reason: e.Reason})
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		// A status line every 200 ms for the parent.
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				if st, err := r.Status(ctx); err == nil {
					out.put(line{Type: "status", Status: st})
				}
			}
		}
	}()
	r.Run(ctx)
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	disp.Close(cctx)
	out.put(line{Type: "stopped"})
}

// director runs the child and reads its lines.
type director struct {
	t    *testing.T
	proc *topo.Proc
}

func startDirector(t *testing.T, n *topo.Node, cfg *Config, env ...string) *director {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	d := &director{t: t, proc: topotest.Reexec(t, n, "TestHealthChild", append([]string{"HEALTH_CONFIG=" + p}, env...)...)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("director log:\n%s", d.proc.Log())
		}
	})
	return d
}

func (d *director) lines() []line {
	var out []line
	sc := bufio.NewScanner(strings.NewReader(d.proc.Log()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l line
		if b := sc.Bytes(); len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// waitLine waits up to timeout for a line after since that matches.
func (d *director) waitLine(what string, since time.Time, timeout time.Duration, match func(line) bool) line {
	d.t.Helper()
	var got line
	topotest.Eventually(d.t, timeout, what, func() bool {
		for _, l := range d.lines() {
			if !l.Time.Before(since) && match(l) {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

// waitStatus waits for a status line that satisfies ok.
func (d *director) waitStatus(what string, timeout time.Duration, ok func([]ServiceStatus) bool) {
	d.t.Helper()
	topotest.Eventually(d.t, timeout, what, func() bool {
		ls := d.lines()
		for i := len(ls) - 1; i >= 0; i-- {
			if ls[i].Type == "status" {
				return ok(ls[i].Status)
			}
		}
		return false
	})
}

func isEvent(kind, real string) func(line) bool {
	return func(l line) bool { return l.Type == "event" && l.Kind == kind && (real == "" || l.Real == real) }
}

// lab is the topology: a director and three real servers.
type lab struct {
	tp            *topo.Topology
	lb            *topo.Node
	rs1, rs2, rs3 *topo.Node
	dir           string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{tp: topotest.New(t), dir: t.TempDir()}
	if err := os.Chmod(l.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	add := func(name, v4, v6 string) *topo.Node {
		return topotest.AddNode(t, l.tp, name, topo.NodeConfig{Addrs: healthtest.Prefixes(v4+"/24", v6+"/64"), NoDAD: true})
	}
	l.lb = add("lb", "198.18.70.1", "2001:db8:70::1")
	l.rs1 = add("rs1", "198.18.70.11", "2001:db8:70::11")
	l.rs2 = add("rs2", "198.18.70.12", "2001:db8:70::12")
	l.rs3 = add("rs3", "198.18.70.13", "2001:db8:70::13")
	return l
}

func (l *lab) nginx(t *testing.T, n *topo.Node, files map[string][]byte, tls bool) *topo.Proc {
	t.Helper()
	d := filepath.Join(l.dir, n.Name+"-nginx")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := topo.NginxConfig{Dir: d, Listen: []string{"80", "[::]:80"}, Files: files}
	if tls {
		cfg.TLSCert, cfg.TLSKey = healthtest.SelfSigned(t, d, n.Name+".example.com")
		cfg.TLSListen = []string{"443"}
	}
	p, err := n.StartNginx(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// script writes an executable script into the lab's directory.
func (l *lab) script(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func fast(retry int) Timing {
	return Timing{DelayLoop: time.Second, DelayBeforeRetry: time.Second, ConnectTimeout: time.Second, Retry: ptr(retry), Warmup: ptr(time.Duration(0))}
}

// TestCheckersAgainstRealServers: every checker kind against a real peer.
func TestCheckersAgainstRealServers(t *testing.T) {
	topotest.Require(t, "nginx", "dnsmasq", "socat", "smtpd", "unshare", "curl", "ss")
	t.Parallel()
	l := newLab(t)
	sum := "6f5902ac237024bdd0c176cb93063dc4" // MD5 of "hello world\n"
	l.nginx(t, l.rs1, map[string][]byte{"/index.html": []byte("hello world\n")}, true)
	smtpConf := filepath.Join(l.dir, "smtpd.conf")
	// opensmtpd will not deliver to root: mail goes to nobody's maildir,
	// in a directory nobody can reach (t.TempDir's parent is private).
	mailRoot, err := os.MkdirTemp("", "health-mail-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(mailRoot) })
	maildir := filepath.Join(mailRoot, "Maildir")
	if err := os.Mkdir(maildir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{mailRoot, maildir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(smtpConf, []byte("listen on 198.18.70.11 port 25\naction \"local\" maildir \""+maildir+"\"\nmatch from any for any action \"local\"\n"), 0o644)
	// opensmtpd wants its spool and control socket to itself: give it a
	// private mount namespace with fresh /var/spool and /run.
	smtpd, err := l.rs1.Start(l.dir, "unshare", "-m", "sh", "-c",
		"mount --make-rprivate / && mount -t tmpfs none /var/spool && mount -t tmpfs none /run && exec smtpd -d -f "+smtpConf)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.rs1.WaitListening("tcp", "25", 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, smtpd.Log())
	}
	if _, err := l.rs2.Start(l.dir, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
		"--listen-address=198.18.70.12", "--bind-interfaces", "--address=/example.test/198.18.70.99", "--pid-file", "--user=root",
		"--log-facility=-"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.rs2.Start(l.dir, "socat", "UDP4-RECVFROM:9000,fork,bind=198.18.70.12", "EXEC:/bin/cat"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"53", "9000"} {
		if err := l.rs2.WaitListening("udp", p, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	misc := l.script(t, "misc.sh", `exec curl -sf -o /dev/null --max-time 1 "http://$1/"`)
	rs1, rs2 := netip.MustParseAddr("198.18.70.11"), netip.MustParseAddr("198.18.70.12")
	checks := []struct {
		name string
		rs   netip.AddrPort
		c    Check
	}{
		{"TCP_CHECK [198.18.70.11]:80", netip.AddrPortFrom(rs1, 80), Check{Kind: KindTCP}},
		{"HTTP_GET [198.18.70.11]:80", netip.AddrPortFrom(rs1, 80), Check{Kind: KindHTTP, HTTP: HTTPCheck{URLs: []URL{{Path: "/", Digest: sum}, {Path: "/index.html", StatusCodes: []StatusRange{{200, 200}}}}}}},
		{"SSL_GET [198.18.70.11]:443", netip.AddrPortFrom(rs1, 443), Check{Kind: KindSSL, HTTP: HTTPCheck{URLs: []URL{{Path: "/", Digest: sum}}, Virtualhost: "rs1.example.com", EnableSNI: true}}},
		{"SMTP_CHECK [198.18.70.11]:25", netip.AddrPortFrom(rs1, 25), Check{Kind: KindSMTP, SMTP: SMTPCheck{HeloName: "lb.example.com"}}},
		{"DNS_CHECK [198.18.70.12]:53", netip.AddrPortFrom(rs2, 53), Check{Kind: KindDNS, DNS: DNSCheck{Type: "A", Name: "www.example.test"}}},
		{"UDP_CHECK [198.18.70.12]:9000", netip.AddrPortFrom(rs2, 9000), Check{Kind: KindUDP, UDP: UDPCheck{Payload: []byte("ping"), RequireReply: true, Reply: []byte("pXng"), ReplyMask: []byte{0, 0xff, 0, 0}}}},
		{"PING_CHECK 198.18.70.12", netip.AddrPortFrom(rs2, 0), Check{Kind: KindPing}},
		{"PING_CHECK 2001:db8:70::12", netip.MustParseAddrPort("[2001:db8:70::12]:0"), Check{Kind: KindPing}},
		{"MISC_CHECK " + misc, netip.AddrPortFrom(rs1, 80), Check{Kind: KindMisc, Misc: MiscCheck{Script: spec(misc, "198.18.70.11"), Timeout: 3 * time.Second}}},
	}
	// And some that must fail against the same peers.
	failing := []struct {
		name string
		rs   netip.AddrPort
		c    Check
	}{
		{"DNS_CHECK [198.18.70.12]:53", netip.AddrPortFrom(rs2, 53), Check{Kind: KindDNS, DNS: DNSCheck{Type: "A", Name: "nowhere.invalid"}}},
		{"UDP_CHECK [198.18.70.12]:9000", netip.AddrPortFrom(rs2, 9000), Check{Kind: KindUDP, UDP: UDPCheck{Payload: []byte("ping"), RequireReply: true, Reply: []byte("pong")}}},
		{"UDP_CHECK [198.18.70.12]:9001", netip.AddrPortFrom(rs2, 9001), Check{Kind: KindUDP, UDP: UDPCheck{Payload: []byte("ping")}}},
		{"SMTP_CHECK [198.18.70.12]:25", netip.AddrPortFrom(rs2, 25), Check{Kind: KindSMTP}},
		{"PING_CHECK 198.18.70.77", netip.MustParseAddrPort("198.18.70.77:0"), Check{Kind: KindPing}},
		{"HTTP_GET [198.18.70.11]:80", netip.AddrPortFrom(rs1, 80), Check{Kind: KindHTTP, HTTP: HTTPCheck{URLs: []URL{{Path: "/missing"}}}}},
	}
	cfg := &Config{RouterID: "lb1"}
	for i, c := range failing {
		cfg.Services = append(cfg.Services, VirtualServer{
			Addr: netip.AddrPortFrom(netip.MustParseAddr("198.18.70.101"), uint16(1000+i)), Alpha: true, Timing: fast(0),
			SMTPAlert: ptr(false),
			Reals:     []RealServer{{Addr: c.rs, Weight: 1, Checks: []Check{c.c}}},
		})
	}
	for i, c := range checks {
		// One service per checker, so each shows on its own.
		cfg.Services = append(cfg.Services, VirtualServer{
			Addr: netip.AddrPortFrom(netip.MustParseAddr("198.18.70.100"), uint16(1000+i)), Alpha: true, Timing: fast(0),
			Reals: []RealServer{{Addr: c.rs, Weight: 1, Checks: []Check{c.c}}},
		})
	}
	// The first service's checker coming up mails an smtp_alert through
	// opensmtpd; the others do not mail.
	for i := range cfg.Services[len(failing)+1:] {
		cfg.Services[len(failing)+1+i].SMTPAlert = ptr(false)
	}
	d := startDirector(t, l.lb, cfg, "HEALTH_MAIL=198.18.70.11:25")
	up := map[string]bool{}
	failedRuns := map[string]uint64{}
	d.waitStatus("every good checker up, every bad one failed twice", 30*time.Second, func(st []ServiceStatus) bool {
		for i, s := range st {
			for _, r := range s.Reals {
				for _, c := range r.Checkers {
					if i < len(failing) {
						failedRuns[c.Name] = c.Failures
						if c.Up {
							t.Errorf("%s is up: %s", c.Name, c.LastReason)
						}
						continue
					}
					up[c.Name] = c.Up && c.HasRun
				}
			}
		}
		for _, c := range checks {
			if !up[c.name] {
				return false
			}
		}
		for _, c := range failing {
			if failedRuns[c.name] < 2 {
				return false
			}
		}
		return true
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("smtpd log:\n%s", smtpd.Log())
		}
	})
	topotest.Eventually(t, 15*time.Second, "smtp_alert delivered by opensmtpd", func() bool {
		files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "Subject: [lb1] Realserver [198.18.70.11]:80 of virtual server [198.18.70.100]:tcp:1000 - UP") &&
				strings.Contains(string(b), "=> TCP_CHECK CHECK succeed on service <=") {
				return true
			}
		}
		return false
	})
}

// TestDownWithinBound stops nginx on a real server: TCP_CHECK and HTTP_GET
// must take it down within connect_timeout + retry × delay_before_retry +
// delay_loop, notify_down runs with its arguments, and it is back at the
// next success after nginx restarts. A changed page then fails the digest.
func TestDownWithinBound(t *testing.T) {
	topotest.Require(t, "nginx", "ss")
	t.Parallel()
	l := newLab(t)
	page := map[string][]byte{"/index.html": []byte("hello world\n")}
	ng := l.nginx(t, l.rs1, page, false)
	marks := filepath.Join(l.dir, "marks")
	note := l.script(t, "note.sh", `echo "$*" >> `+marks)
	tm := Timing{DelayLoop: 2 * time.Second, DelayBeforeRetry: time.Second, ConnectTimeout: time.Second, Retry: ptr(1), Warmup: ptr(time.Duration(0))}
	rs := RealServer{
		Addr: netip.MustParseAddrPort("198.18.70.11:80"), Weight: 3, Timing: tm,
		NotifyUp: spec(note, "up", "rs1"), NotifyDown: spec(note, "down", "rs1", "--reason=tcp"),
		Checks: []Check{{Kind: KindTCP}, {Kind: KindHTTP, HTTP: HTTPCheck{URLs: []URL{{Path: "/", Digest: "6f5902ac237024bdd0c176cb93063dc4"}}}}},
	}
	cfg := &Config{Services: []VirtualServer{{Addr: netip.MustParseAddrPort("198.18.70.100:80"), Reals: []RealServer{rs}}}}
	d := startDirector(t, l.lb, cfg)
	d.waitStatus("checkers ran", 15*time.Second, func(st []ServiceStatus) bool {
		return len(st) == 1 && st[0].Reals[0].Alive && st[0].Reals[0].Checkers[0].HasRun && st[0].Reals[0].Checkers[1].HasRun
	})

	// The bound of the issue, from the configured values, plus a margin
	// for a loaded machine.
	bound := tm.ConnectTimeout + time.Duration(*tm.Retry)*tm.DelayBeforeRetry + tm.DelayLoop
	const margin = 2 * time.Second
	stopped := time.Now()
	ng.Stop(5 * time.Second)
	down := d.waitLine("real server down", stopped, bound+margin+5*time.Second, isEvent("real_server_down", "198.18.70.11:80"))
	if el := down.Time.Sub(stopped); el > bound+margin {
		t.Errorf("down %v after nginx stopped, want within %v + %v", el, bound, margin)
	} else {
		t.Logf("down %v after nginx stopped (bound %v + margin %v)", el, bound, margin)
	}
	d.waitLine("remove op", stopped, 5*time.Second, func(l line) bool { return l.Type == "op" && l.Kind == "remove" && l.Real == "198.18.70.11:80" })
	topotest.Eventually(t, 5*time.Second, "notify_down ran", func() bool {
		b, _ := os.ReadFile(marks)
		return strings.Contains(string(b), "down rs1 --reason=tcp\n")
	})

	restarted := time.Now()
	l.nginx(t, l.rs1, page, false)
	up := d.waitLine("real server up", restarted, 15*time.Second, isEvent("real_server_up", "198.18.70.11:80"))
	// Up at the next success: within one delay_loop of each checker
	// (HTTP_GET passes its failed url, then the whole list: two).
	if el := up.Time.Sub(restarted); el > 2*tm.DelayLoop+tm.ConnectTimeout+margin {
		t.Errorf("up %v after nginx restarted", el)
	}
	d.waitLine("add op", restarted, 5*time.Second, func(l line) bool {
		return l.Type == "op" && l.Kind == "add" && l.Real == "198.18.70.11:80" && l.Weight == 3
	})
	topotest.Eventually(t, 5*time.Second, "notify_up ran", func() bool {
		b, _ := os.ReadFile(marks)
		return strings.Contains(string(b), "up rs1\n")
	})

	// A page that changes fails the digest.
	changed := time.Now()
	os.WriteFile(filepath.Join(l.dir, "rs1-nginx", "www", "index.html"), []byte("hello, changed world\n"), 0o644)
	dl := d.waitLine("digest mismatch takes it down", changed, 15*time.Second, isEvent("checker_down", "198.18.70.11:80"))
	if !strings.Contains(dl.Reason, "MD5 digest error") {
		t.Errorf("down for %q, want an MD5 digest error", dl.Reason)
	}
}

// TestQuorumSorryNetns: losing enough weight switches to the sorry server
// and runs quorum_down; regaining switches back and runs quorum_up.
func TestQuorumSorryNetns(t *testing.T) {
	topotest.Require(t, "nginx", "ss")
	t.Parallel()
	l := newLab(t)
	ng1 := l.nginx(t, l.rs1, nil, false)
	l.nginx(t, l.rs2, nil, false)
	marks := filepath.Join(l.dir, "marks")
	note := l.script(t, "note.sh", `echo "$*" >> `+marks)
	mk := func(a string) RealServer {
		return RealServer{Addr: netip.MustParseAddrPort(a), Weight: 1, Checks: []Check{{Kind: KindTCP}}}
	}
	cfg := &Config{Services: []VirtualServer{{
		Addr: netip.MustParseAddrPort("198.18.70.100:80"), Quorum: 2, Timing: fast(0), Omega: true,
		SorryServer: netip.MustParseAddrPort("198.18.70.13:80"),
		QuorumUp:    spec(note, "quorum", "up"), QuorumDown: spec(note, "quorum", "down"),
		Reals: []RealServer{mk("198.18.70.11:80"), mk("198.18.70.12:80")},
	}}}
	d := startDirector(t, l.lb, cfg)
	d.waitLine("quorum up at start", time.Time{}, 10*time.Second, isEvent("quorum_up", ""))
	stopped := time.Now()
	ng1.Stop(5 * time.Second)
	d.waitLine("quorum down", stopped, 10*time.Second, isEvent("quorum_down", ""))
	d.waitLine("sorry server added", stopped, 5*time.Second, func(l line) bool {
		return l.Type == "op" && l.Kind == "add" && l.Sorry && l.Real == "198.18.70.13:80"
	})
	d.waitStatus("sorry active", 5*time.Second, func(st []ServiceStatus) bool { return st[0].SorryActive && !st[0].QuorumUp })
	restarted := time.Now()
	l.nginx(t, l.rs1, nil, false)
	d.waitLine("quorum up again", restarted, 10*time.Second, isEvent("quorum_up", ""))
	d.waitLine("sorry server removed", restarted, 5*time.Second, func(l line) bool {
		return l.Type == "op" && l.Kind == "remove" && l.Sorry
	})
	topotest.Eventually(t, 5*time.Second, "quorum scripts ran in order", func() bool {
		b, _ := os.ReadFile(marks)
		return string(b) == "quorum up\nquorum down\nquorum up\n"
	})
	// Graceful stop with omega: quorum_down runs once more.
	if err := d.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.waitLine("stopped", restarted, 10*time.Second, func(l line) bool { return l.Type == "stopped" })
	if b, _ := os.ReadFile(marks); string(b) != "quorum up\nquorum down\nquorum up\nquorum down\n" {
		t.Errorf("scripts %q, want omega's quorum_down at the end", b)
	}
}

// TestRegexTakesServerOut: HTTP_GET with regex and SSL_GET with
// regex_no_match against nginx. A page that stops matching (or starts to
// match the no_match pattern) takes its real server out of the pool with
// keepalived's "Regex match failed"; the right page brings it back.
func TestRegexTakesServerOut(t *testing.T) {
	topotest.Require(t, "nginx", "ss")
	t.Parallel()
	l := newLab(t)
	l.nginx(t, l.rs1, map[string][]byte{"/status": []byte("service state: up\n")}, false)
	l.nginx(t, l.rs2, map[string][]byte{"/status": []byte("all good\n")}, true)
	tm := Timing{DelayLoop: time.Second, DelayBeforeRetry: time.Second, ConnectTimeout: time.Second, Retry: ptr(0), Warmup: ptr(time.Duration(0))}
	cfg := &Config{Services: []VirtualServer{{Addr: netip.MustParseAddrPort("198.18.70.100:80"), Reals: []RealServer{
		{Addr: netip.MustParseAddrPort("198.18.70.11:80"), Weight: 1, Timing: tm, Checks: []Check{{Kind: KindHTTP,
			HTTP: HTTPCheck{URLs: []URL{{Path: "/status", Regex: `state: (up|ok)\b`}}}}}},
		{Addr: netip.MustParseAddrPort("198.18.70.12:443"), Weight: 1, Timing: tm, Checks: []Check{{Kind: KindSSL,
			HTTP: HTTPCheck{URLs: []URL{{Path: "/status", Regex: `maintenance`, RegexNoMatch: true}}}}}},
	}}}}
	d := startDirector(t, l.lb, cfg)
	d.waitStatus("both real servers up on their regex", 15*time.Second, func(st []ServiceStatus) bool {
		return len(st) == 1 && len(st[0].Reals) == 2 && st[0].Reals[0].Alive && st[0].Reals[1].Alive &&
			st[0].Reals[0].Checkers[0].HasRun && st[0].Reals[1].Checkers[0].HasRun
	})
	for _, s := range []struct {
		rs, page, real string
	}{
		{"rs1-nginx", "service state: down\n", "198.18.70.11:80"},
		{"rs2-nginx", "under maintenance\n", "198.18.70.12:443"},
	} {
		changed := time.Now()
		if err := os.WriteFile(filepath.Join(l.dir, s.rs, "www", "status"), []byte(s.page), 0o644); err != nil {
			t.Fatal(err)
		}
		down := d.waitLine(s.real+" down on its regex", changed, 10*time.Second, isEvent("checker_down", s.real))
		if !strings.Contains(down.Reason, "Regex match failed") {
			t.Errorf("%s down for %q, want Regex match failed", s.real, down.Reason)
		}
		d.waitLine(s.real+" removed from the pool", changed, 5*time.Second, func(l line) bool {
			return l.Type == "op" && l.Kind == "remove" && l.Real == s.real
		})
	}
	fixed := time.Now()
	os.WriteFile(filepath.Join(l.dir, "rs1-nginx", "www", "status"), []byte("service state: ok\n"), 0o644)
	d.waitLine("rs1 back on a matching page", fixed, 10*time.Second, func(l line) bool {
		return l.Type == "op" && l.Kind == "add" && l.Real == "198.18.70.11:80"
	})
}
