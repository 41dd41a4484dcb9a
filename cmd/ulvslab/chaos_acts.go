package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/vrrp"
)

// writeAtomic replaces a file in one step: a reload never reads half of
// one.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".chaos-tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// tableView is a director's services and weights, for comparing tables.
func tableView(d *nodeState) string {
	resp, err := ctlCallTimeout(d.Socket, ctl.OpIPVS, 5*time.Second)
	if err != nil || resp.IPVS == nil {
		return "unreachable: " + fmt.Sprint(err)
	}
	var b strings.Builder
	for _, s := range resp.IPVS.Services {
		fmt.Fprintf(&b, "%s %s:%d %s\n", s.Proto, s.Addr, s.Port, s.Sched)
		for _, de := range s.Dests {
			fmt.Fprintf(&b, "  %s:%d w%d\n", de.Addr, de.Port, de.Weight)
		}
	}
	return b.String()
}

// reloadStorm sends n SIGHUPs to each director, 300 ms apart, cycling
// through a valid change (a weight), a syntax error, an include loop and
// a file of random bytes; then the original comes back and the tables
// must be what they were.
func (c *chaos) reloadStorm(n int) error {
	loop := filepath.Join(c.l.st.Dir, "chaos-loop")
	if err := os.MkdirAll(loop, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"a.conf", "b.conf", "c.conf"} {
		if err := os.WriteFile(filepath.Join(loop, f), []byte("include "+loop+"/*.conf\n"), 0o644); err != nil {
			return err
		}
	}
	type dirConf struct {
		w        *dirWatch
		orig     []byte
		variants [][]byte
		before   string
	}
	var dcs []dirConf
	for _, w := range c.dirs {
		orig, err := os.ReadFile(w.d.Config)
		if err != nil {
			return err
		}
		s := string(orig)
		i := strings.LastIndex(s, "weight 1")
		changed := s[:i] + "weight 2" + s[i+len("weight 1"):]
		garbage := make([]byte, 64<<10)
		for k := range garbage {
			garbage[k] = byte(c.rnd.Uint32())
		}
		dcs = append(dcs, dirConf{w: w, orig: orig, before: tableView(w.d), variants: [][]byte{
			[]byte(changed),
			[]byte(s + "virtual_server 198.18.0.101 80 {\n    lb_algo bogus\n"),
			[]byte(s + "include " + loop + "/*.conf\n"),
			garbage,
		}})
	}
	done := c.event("reload", "both", "%d SIGHUPs to each director: a weight changed, a syntax error, an include loop, random bytes", n)
	defer done()
	names := []string{"valid change", "syntax error", "include loop", "random bytes"}
	for i := range n {
		for _, dc := range dcs {
			v := i % len(dc.variants)
			if err := writeAtomic(dc.w.d.Config, dc.variants[v]); err != nil {
				return err
			}
			if err := syscall.Kill(dc.w.d.Procs[procUlvsd].Pid, syscall.SIGHUP); err != nil {
				return err
			}
			c.count("reloads sent: "+names[v], 1)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, dc := range dcs {
		if err := writeAtomic(dc.w.d.Config, dc.orig); err != nil {
			return err
		}
		if err := syscall.Kill(dc.w.d.Procs[procUlvsd].Pid, syscall.SIGHUP); err != nil {
			return err
		}
	}
	for _, dc := range dcs {
		var got string
		err := waitFor(30*time.Second, dc.w.d.Name+"'s table as before the storm", func() (bool, error) {
			got = tableView(dc.w.d)
			return got == dc.before, nil
		})
		if err != nil {
			return fmt.Errorf("%v: before\n%s\nafter\n%s", err, dc.before, got)
		}
		if st, err := ctlCallTimeout(dc.w.d.Socket, ctl.OpStatus, 5*time.Second); err == nil && st.Status != nil {
			c.count("reloads applied (both directors)", st.Status.Reloads)
		}
	}
	return nil
}

// hostile sends n hostile adverts from the client; the VIP must not move,
// and both directors must count every one as refused.
func (c *chaos) hostile(n int) error {
	m := c.master()
	if m == nil {
		return fmt.Errorf("no master")
	}
	before := map[string]vrrp.Stats{}
	logAt := map[string]int64{}
	for _, w := range c.dirs {
		st, err := vrrpStats(w.d)
		if err != nil {
			return err
		}
		before[w.d.Name] = st
		if fi, err := os.Stat(w.d.Procs[procUlvsd].Log); err == nil {
			logAt[w.d.Name] = fi.Size()
		}
	}
	start := time.Now()
	done := c.event("hostile-vrrp", "VI_1", "%d adverts from the client: priority 255 with a wrong password, TTL 254, no authentication, another interval, a bad checksum", n)
	sent, err := hostileVRRP(c.l.st.node("client").NS, 51, c.l.st.Targets[0].Addr(), "ulvslab", n, 10*time.Millisecond)
	done()
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	for k, v := range sent {
		c.count("hostile adverts sent: "+k, v)
	}
	if now := c.master(); now != m {
		return fmt.Errorf("the hostile adverts moved the VIP from %s", m.d.Name)
	}
	for _, w := range c.dirs {
		st, err := vrrpStats(w.d)
		if err != nil {
			return err
		}
		b := before[w.d.Name]
		for _, x := range []struct {
			kind     string
			got, was uint64
		}{
			{"wrong password", st.AuthFailure, b.AuthFailure}, {"ttl 254", st.IPTTLErr, b.IPTTLErr},
			{"no authentication", st.AuthTypeMismatch, b.AuthTypeMismatch},
			{"wrong interval", st.AdvertIntervalErr, b.AdvertIntervalErr}, {"bad checksum", st.ChecksumErr, b.ChecksumErr},
		} {
			if d := x.got - x.was; d < uint64(sent[x.kind]) {
				c.violate("%s counted %d of the %d hostile adverts (%s)", w.d.Name, d, sent[x.kind], x.kind)
			}
		}
		// Logged in keepalived's words, but rate-limited: at most 5 a
		// kind at once, then one per 10 s.
		b2, _ := os.ReadFile(w.d.Procs[procUlvsd].Log)
		if off := logAt[w.d.Name]; off <= int64(len(b2)) {
			b2 = b2[off:]
		}
		lines := bytes.Count(b2, []byte("(VI_1) invalid ttl. 254 and expect 255"))
		allowed := 5 + int(time.Since(start)/(10*time.Second)) + 1
		c.count("hostile advert log lines ("+w.d.Name+", TTL kind)", lines)
		if lines == 0 || lines > allowed {
			c.violate("%s logged %d lines for %d TTL-254 adverts (want 1 to %d)", w.d.Name, lines, sent["ttl 254"], allowed)
		}
	}
	return nil
}

func vrrpStats(d *nodeState) (vrrp.Stats, error) {
	resp, err := ctlCallTimeout(d.Socket, ctl.OpVRRP, 5*time.Second)
	if err != nil {
		return vrrp.Stats{}, err
	}
	for _, in := range resp.VRRP {
		if in.Name == "VI_1" {
			return in.Stats, nil
		}
	}
	return vrrp.Stats{}, fmt.Errorf("%s has no VI_1", d.Name)
}

// holdBinary is a copy of this executable that user nobody may run (it
// may sit in a directory only root may enter).
func (c *chaos) holdBinary() (string, error) {
	if c.holdDir == "" {
		d, err := os.MkdirTemp("", "ulvslab-hold-")
		if err != nil {
			return "", err
		}
		c.holdDir = d
		if err := os.Chmod(d, 0o755); err != nil {
			return "", err
		}
	}
	p := filepath.Join(c.holdDir, "ulvslab")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	b, err := os.ReadFile(c.l.st.Bins.Self)
	if err != nil {
		return "", err
	}
	return p, os.WriteFile(p, b, 0o755)
}

// hold runs `ulvslab hold` in a director's namespace (as nobody when
// unprivileged) and waits for it.
func (c *chaos) hold(w *dirWatch, unprivileged bool, args ...string) (int, error) {
	bin, err := c.holdBinary()
	if err != nil {
		return 0, err
	}
	argv := append([]string{bin, "hold"}, args...)
	if unprivileged {
		argv = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)
	}
	p, err := c.l.nodes[w.d.Name].Start(c.l.st.Dir, argv[0], argv[1:]...)
	if err != nil {
		return 0, err
	}
	select {
	case <-p.Done():
	case <-time.After(3 * time.Minute):
		p.Kill()
		return 0, fmt.Errorf("hold did not end")
	}
	var held int
	for _, l := range strings.Split(p.Log(), "\n") {
		if v, ok := strings.CutPrefix(l, "HELD "); ok {
			held, _ = strconv.Atoi(v)
		}
	}
	return held, nil
}

// metricsFlood: user nobody on the master holds n connections to the
// metrics port (idle keep-alive, silent and slow ones) for d; every
// request through the VIP must still be answered.
func (c *chaos) metricsFlood(n int, d time.Duration) error {
	m := c.master()
	if m == nil {
		return fmt.Errorf("no master")
	}
	done := c.event("metrics-flood", m.d.Name, "user nobody holds %d connections to 127.0.0.1:9650 for %v", n, d)
	held, err := c.hold(m, true, "--tcp", "127.0.0.1:9650", "--n", strconv.Itoa(n), "--for", d.String())
	done()
	c.count("metrics flood connections held", held)
	if err != nil {
		return err
	}
	if held < n/2 {
		c.violate("the metrics flood held only %d of %d connections (did it reach the port?)", held, n)
	}
	return nil
}

// ctlFlood: root on the master holds n connections to the control socket
// for d; ulvsadm must answer again at once afterwards.
func (c *chaos) ctlFlood(n int, d time.Duration) error {
	m := c.master()
	if m == nil {
		return fmt.Errorf("no master")
	}
	done := c.event("ctl-flood", m.d.Name, "root holds %d connections to the control socket for %v", n, d)
	held, err := c.hold(m, false, "--unix", m.d.Socket, "--n", strconv.Itoa(n), "--for", d.String())
	done()
	c.count("control socket flood connections held", held)
	if err != nil {
		return err
	}
	if _, err := ctlCallTimeout(m.d.Socket, ctl.OpStatus, 5*time.Second); err != nil {
		return fmt.Errorf("the control socket does not answer after the flood: %w", err)
	}
	return nil
}

// rsFlap stops a real server's nginx, waits until the masters' table has
// dropped it, and starts it again.
func (c *chaos) rsFlap() error {
	reals := c.l.st.byRole(roleReal)
	r := reals[c.rnd.IntN(len(reals))]
	done := c.event("rsflap", r.Name, "nginx on %s killed, restarted 5 s later", r.Name)
	defer done()
	// The lab's HTTP_GET takes a dead server out within 4 s; until then
	// the scheduler sends it new connections. After, as with IPVS, a new
	// connection whose client port lands on the entry of a closing one
	// bound to it (DR's FIN_WAIT: conn_reuse_mode=1 reschedules only
	// TIME_WAIT and CLOSE) is dropped (expire_nodest_conn=0) until it is
	// back: the window lasts until then, and a request's timeout (2 s)
	// after.
	end := c.tolerateUntil(2*time.Second, r.Name+"'s nginx stopped: its checker removes it within 4 s; until it is back, "+
		"a new connection reusing the client port of a closing one bound to it is dropped")
	defer end()
	if err := c.l.stop(r, procHTTP); err != nil {
		return err
	}
	if err := waitFor(8*time.Second, r.Name+" out of the master's table", func() (bool, error) {
		m := c.l.master("VI_1")
		return m != nil && !c.l.inTable(m, r.addr4()), nil
	}); err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	if err := c.l.startHTTP(r, false); err != nil {
		return err
	}
	return waitFor(10*time.Second, r.Name+" back in the master's table", func() (bool, error) {
		m := c.l.master("VI_1")
		return m != nil && c.l.inTable(m, r.addr4()), nil
	})
}

// synFlood sends n SYNs from random sources to the VIP through the
// master, from the client: at most one request may fail meanwhile.
func (c *chaos) synFlood(n int) error {
	m := c.master()
	if m == nil {
		return fmt.Errorf("no master")
	}
	cfg := filepath.Join(c.l.st.Dir, "chaos-syn.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("{\n  eth(da=%s),\n  ipv4(saddr=drnd(), daddr=%s, ttl=64),\n  tcp(sp=drnd(), dp=80, syn, seq=drnd()),\n}\n",
		m.d.MAC, c.l.st.Targets[0].Addr())), 0o644); err != nil {
		return err
	}
	done := c.event("synflood", m.d.Name, "%d SYNs from random sources to the VIP", n)
	defer done()
	c.tolerate(40*time.Second, 1, "SYN flood: one request whose SYN is lost three times may fail")
	p, err := c.l.nodes["client"].Start(c.l.st.Dir, "trafgen", "-o", "eth0", "-i", cfg, "-n", strconv.Itoa(n), "-q", "-t", "10us")
	if err != nil {
		return err
	}
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		p.Kill()
		return fmt.Errorf("trafgen did not end")
	}
	if ok, err := p.Exited(); ok && err != nil {
		return fmt.Errorf("trafgen: %v\n%s", err, p.Log())
	}
	c.count("SYN flood packets", n)
	time.Sleep(2 * time.Second)
	return nil
}

// outage is a failover of the mix: the master is taken out, the backup
// takes over, and the master comes back and, preferred, takes over again.
type outage struct {
	// kind is the event's kind; what says what happens, with the
	// master's name for its one %s; after names the outage in messages.
	kind, what, after string
	// window is how long requests opening as the VIP moves may fail, and
	// why; bound is how soon the backup must be master.
	window, bound time.Duration
	why           string
	// down takes the master out, for out; up brings it back, and back
	// (after the master's name) says why requests may fail then.
	down, up func(m *dirWatch) error
	out      time.Duration
	back     string
}

// fail runs an outage of the current master and waits until it is master
// again.
func (c *chaos) fail(o outage) error {
	m := c.master()
	if m == nil {
		return fmt.Errorf("no master")
	}
	other := c.other(m)
	done := c.event(o.kind, m.d.Name, o.what, m.d.Name)
	defer done()
	c.tolerate(o.window, 0, o.why)
	if err := o.down(m); err != nil {
		return err
	}
	if err := waitFor(o.bound, other.d.Name+" master after the "+o.after, func() (bool, error) {
		return c.l.master("VI_1") == other.d, nil
	}); err != nil {
		return err
	}
	time.Sleep(o.out)
	c.tolerate(4*time.Second, 0, m.d.Name+o.back)
	if err := o.up(m); err != nil {
		return err
	}
	if err := waitFor(20*time.Second, m.d.Name+" master again", func() (bool, error) {
		return c.l.master("VI_1") == m.d, nil
	}); err != nil {
		return err
	}
	c.tolerateTakeover(m.d.Name, time.Now())
	return nil
}

// graceful stops the master with SIGTERM: the backup takes over at once
// (priority 0) and the downloads continue through it (lvs_sync_daemon);
// the director comes back and, preferred, takes over again.
func (c *chaos) graceful() error {
	return c.fail(outage{kind: "graceful", what: "SIGTERM to %s's ulvsd (priority 0), restarted 8 s later", after: "graceful stop",
		window: 3 * time.Second, why: "graceful failover: connections opening while the VIP moves", bound: 3 * time.Second,
		down: c.stopGracefully, out: 8 * time.Second, up: c.restart, back: " restarted: it preempts the backup"})
}

// tolerateTakeover opens the window of a preemption: the director just
// seen taking the VIP back from the backup at `at` (polled: a moment
// after the move). Connections the backup opened in its last moments as
// master are not synced yet (lvs_sync_daemon sends a connection at its
// 3rd packet, as the kernel does) and their next packets reach the new
// master, which does not know them: as at a graceful failover, requests
// opening from just before the move until 3 s after it may fail. The
// window from the restart or the link's return alone (4 s) ended before
// the move: a backup preempts once its master-down interval (3.61 s at
// priority 100) has passed, plus the daemon's start.
func (c *chaos) tolerateTakeover(who string, at time.Time) {
	c.open(window{From: at.Add(-time.Second), To: at.Add(3 * time.Second),
		Why: who + " took the VIP back from the backup (preemption)"})
}

// crash kills the master's ulvsd (SIGKILL: no goodbye): the backup takes
// over within the failover bound.
func (c *chaos) crash() error {
	return c.fail(outage{kind: "crash", what: "kill -9 %s's ulvsd, restarted 6 s later", after: "crash",
		window: chaosFailover + 2*time.Second, why: "crash: until the backup declares the master dead", bound: chaosFailover + time.Second,
		down: func(m *dirWatch) error { return c.l.stop(m.d, procUlvsd) }, out: 6 * time.Second, up: c.restart,
		back: " restarted: it preempts the backup"})
}

// linkCut takes the master's link down: the backup takes over within the
// failover bound; the link comes back and the director takes over again.
func (c *chaos) linkCut() error {
	link := func(state string) func(m *dirWatch) error {
		return func(m *dirWatch) error { return c.l.nodes[m.d.Name].IP("link", "set", "eth0", state) }
	}
	return c.fail(outage{kind: "linkcut", what: "eth0 of %s down for 8 s", after: "link cut",
		window: chaosFailover + 2*time.Second, why: "link cut: until the backup declares the master dead", bound: chaosFailover + time.Second,
		down: link("down"), out: 8 * time.Second, up: link("up"), back: "'s link back: it preempts the backup"})
}
