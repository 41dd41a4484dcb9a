package test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// lab is a topology on one bridge: a client, directors running ulvsd and
// real servers running nginx, addressed from 198.18.0.0/24.
type lab struct {
	t    *testing.T
	tp   *topo.Topology
	dir  string
	bins struct{ ulvsd, ulvsadm string }
}

func newLab(t *testing.T) *lab {
	t.Helper()
	topotest.Require(t, "nginx", "curl", "nft", "ss")
	l := &lab{t: t, tp: topotest.New(t), dir: t.TempDir()}
	l.bins.ulvsd = topotest.Binary(t, "./cmd/ulvsd")
	l.bins.ulvsadm = topotest.Binary(t, "./cmd/ulvsadm")
	return l
}

func (l *lab) node(name, addr string) *topo.Node {
	l.t.Helper()
	return topotest.AddNode(l.t, l.tp, name, topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix(addr + "/24")}})
}

// real is a real server node with its nginx.
type real struct {
	*topo.Node
	nginx *topo.Proc
}

// drReal prepares a DR real server: the VIP on lo, ARP for it left to the
// director, and nginx naming itself.
func (l *lab) drReal(name, addr string, vips ...string) *real {
	l.t.Helper()
	return l.drRealServing(name, addr, vips, topo.NginxConfig{})
}

// drRealServing is drReal with nginx's extra files and settings.
func (l *lab) drRealServing(name, addr string, vips []string, cfg topo.NginxConfig) *real {
	l.t.Helper()
	n := l.node(name, addr)
	for _, v := range vips {
		topotest.Run(l.t, n, "ip", "addr", "add", v+"/32", "dev", "lo")
	}
	for _, kv := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
		"net.ipv4.conf.eth0.arp_ignore=1", "net.ipv4.conf.eth0.arp_announce=2"} {
		topotest.Run(l.t, n, "sysctl", "-qw", kv)
	}
	return &real{Node: n, nginx: l.nginx(n, name, cfg)}
}

// nginx starts nginx in the node, serving a body that names it.
func (l *lab) nginx(n *topo.Node, body string, extra ...topo.NginxConfig) *topo.Proc {
	l.t.Helper()
	cfg := topo.NginxConfig{Dir: filepath.Join(l.dir, n.Name+"-nginx-"+fmt.Sprint(time.Now().UnixNano())),
		Files: map[string][]byte{"/index.html": []byte(body + "\n")}}
	if len(extra) > 0 {
		e := extra[0]
		cfg.Listen, cfg.LimitRate = e.Listen, e.LimitRate
		for k, v := range e.Files {
			cfg.Files[k] = v
		}
	}
	p, err := n.StartNginx(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

// daemon is one ulvsd under test.
type daemon struct {
	l      *lab
	n      *topo.Node
	p      *topo.Proc
	conf   string
	socket string
	pid    string
}

// ulvsd starts ulvsd in the node with the configuration text.
func (l *lab) ulvsd(n *topo.Node, config string, args ...string) *daemon {
	l.t.Helper()
	base := filepath.Join(l.dir, n.Name)
	d := &daemon{l: l, n: n, conf: base + ".conf", socket: base + ".sock", pid: base + ".pid"}
	if err := os.WriteFile(d.conf, []byte(config), 0o644); err != nil {
		l.t.Fatal(err)
	}
	argv := append([]string{"-n", "-l", "-D", "-f", d.conf, "-p", d.pid, "-r", base + "-vrrp.pid", "-c", base + "-check.pid",
		"--control", d.socket, "--interfaces", "eth0"}, args...)
	p, err := n.Start(l.dir, l.bins.ulvsd, argv...)
	if err != nil {
		l.t.Fatal(err)
	}
	d.p = p
	l.t.Cleanup(func() {
		// Stopped here, before the test's earlier cleanups remove the
		// directories it writes to (dump files, a signal's late dump),
		// not only when the topology goes.
		_ = p.Stop(10 * time.Second)
		if l.t.Failed() {
			l.t.Logf("ulvsd on %s:\n%s", n.Name, tail(p.Log(), 60))
		}
	})
	topotest.Eventually(l.t, 10*time.Second, "ulvsd on "+n.Name+" never opened its control socket", func() bool {
		if ok, _ := p.Exited(); ok {
			l.t.Fatalf("ulvsd on %s exited:\n%s", n.Name, p.Log())
		}
		_, err := os.Stat(d.socket)
		return err == nil
	})
	return d
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// adm runs ulvsadm against the daemon.
func (d *daemon) adm(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.n.Output(ctx, d.l.bins.ulvsadm, append(args, "--socket", d.socket)...)
}

func (d *daemon) mustAdm(args ...string) string {
	d.l.t.Helper()
	out, err := d.adm(args...)
	if err != nil {
		d.l.t.Fatalf("ulvsadm %v: %v", args, err)
	}
	return out
}

// state returns the VRRP state of an instance from `ulvsadm vrrp`.
func (d *daemon) state(instance string) string {
	out, err := d.adm("vrrp")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && f[0] == instance {
			return f[1]
		}
	}
	return ""
}

// waitState waits until the instance reaches state.
func (d *daemon) waitState(instance, state string, timeout time.Duration) {
	d.l.t.Helper()
	topotest.Eventually(d.l.t, timeout, fmt.Sprintf("%s on %s never became %s", instance, d.n.Name, state), func() bool {
		return d.state(instance) == state
	})
}

// signal sends a signal to ulvsd.
func (d *daemon) signal(sig string) {
	d.l.t.Helper()
	topotest.Run(d.l.t, d.n, "kill", "-"+sig, fmt.Sprint(d.p.Pid()))
}

// curl fetches url from the client and returns the body ("" on failure).
func curl(n *topo.Node, url string) string {
	body, err := topotest.Curl(n, 5*time.Second, url)
	if err != nil {
		return ""
	}
	return body
}

// tally sends count requests and counts the answers by body.
func tally(n *topo.Node, url string, count int) map[string]int {
	m := map[string]int{}
	for range count {
		m[curl(n, url)]++
	}
	return m
}

// seed reads a seed config and maps its addresses and names onto the lab
// (the seed files themselves are never edited).
func seed(t *testing.T, name string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(topotest.SeedConfig(t, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(repl); i += 2 {
		// Whole addresses only: 198.18.0.1 must not rewrite 198.18.0.11.
		re := regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(repl[i]) + `($|[^0-9])`)
		s = re.ReplaceAllString(s, "${1}"+repl[i+1]+"${2}")
	}
	return s
}

// waitReals waits until the daemon's table lists every real server.
func waitReals(t *testing.T, d *daemon, reals ...string) {
	t.Helper()
	topotest.Eventually(t, 15*time.Second, fmt.Sprintf("%s never listed %v", d.n.Name, reals), func() bool {
		out, err := d.adm("-Ln")
		if err != nil {
			return false
		}
		for _, r := range reals {
			if !strings.Contains(out, r) {
				return false
			}
		}
		return true
	})
}

// statsConns reads a real server's Conns column from ulvsadm -Ln --stats.
func statsConns(stats, real string) int {
	for _, l := range strings.Split(stats, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "->" && f[1] == real {
			var n int
			fmt.Sscan(f[2], &n)
			return n
		}
	}
	return -1
}

// download starts a curl of url in n that ends by printing the bytes it
// got and the HTTP status (checked by wantDownload).
func (l *lab) download(n *topo.Node, url string) *topo.Proc {
	l.t.Helper()
	p, err := n.Start(l.dir, "curl", "-sS", "--max-time", "40", "-o", "/dev/null",
		"-w", "%{size_download} %{http_code}", url)
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

// wantDownload waits up to timeout for a download and fails the test
// unless it got size bytes and status 200; what names the event it crossed.
func wantDownload(t *testing.T, dl *topo.Proc, size int, timeout time.Duration, what string) {
	t.Helper()
	select {
	case <-dl.Done():
	case <-time.After(timeout):
		t.Fatalf("the download did not finish after the %s", what)
	}
	if out := strings.TrimSpace(lastLine(dl.Log())); out != fmt.Sprintf("%d 200", size) {
		t.Errorf("the download across the %s got %q, want %d bytes and 200", what, out, size)
	}
}
