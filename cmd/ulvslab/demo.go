package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
)

// Bounds the demo asserts, each from the default config plus a margin for
// a loaded machine (written here, as the tests write theirs).
const (
	// A stopped real server leaves the table within connect_timeout (1) +
	// retry (1) × delay_before_retry (1) + delay_loop (2) = 4 s.
	drainBound  = 4 * time.Second
	drainMargin = 4 * time.Second
	// The backup takes over within 3 × advert_int (1 s) + skew (< 1 s).
	failoverBound  = 4 * time.Second
	failoverMargin = 3 * time.Second
)

// demo runs the main story step by step.
type demo struct {
	g     *globals
	out   *printer
	start time.Time
	step  int
	steps int
	lab   *lab
}

func runDemo(g *globals, args []string, out *printer) error {
	fs := flags("demo")
	seeds := fs.String("seeds", defaultSeeds, "directory of keepalived.conf files to read first (skipped when absent)")
	traceOut := fs.String("trace-out", "/tmp/ulvslab-demo-trace", "directory for the trace's pcap files")
	ecmp := fs.Bool("ecmp", false, "the scale-out story instead: three directors behind a BIRD router with ECMP (docs/ecmp.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := needRoot(); err != nil {
		return err
	}
	d := &demo{g: g, out: out, start: time.Now(), steps: 7}
	if *ecmp {
		*seeds = ""
	} else if _, err := os.Stat(*seeds); err == nil {
		d.steps++
	} else {
		*seeds = ""
	}
	// A lab left by an interrupted run would make `up` refuse: remove it.
	if _, err := loadState(g.stateDir, g.prefix); err == nil {
		out.line("removing the lab an earlier run left behind")
		if err := runDown(g, nil, out); err != nil {
			return err
		}
	} else if left, _ := topo.Namespaces(g.prefix); len(left) > 0 {
		out.line("removing namespaces an earlier run left behind")
		if err := runDown(g, nil, out); err != nil {
			return err
		}
	}
	var err error
	if *ecmp {
		err = d.runECMP()
	} else {
		err = d.run(*seeds, *traceOut)
	}
	if err != nil && d.lab != nil {
		out.line("")
		out.fail("%v", err)
		d.diagnose()
		out.line("removing the lab")
		if derr := teardown(d.lab.st, out); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if err != nil {
		return fmt.Errorf("ulvslab demo: FAILED after %v: %w", time.Since(d.start).Round(100*time.Millisecond), err)
	}
	out.line("")
	out.step("demo passed: every step held, in %v", time.Since(d.start).Round(100*time.Millisecond))
	return nil
}

// next announces a step with the time since the start.
func (d *demo) next(format string, args ...any) {
	d.step++
	d.out.line("")
	d.out.step("[%d/%d] %s   (t=%.1fs)", d.step, d.steps, fmt.Sprintf(format, args...), time.Since(d.start).Seconds())
}

// show prints the ulvslab command a person would type for what follows.
func (d *demo) show(args string) {
	if d.g.prefix != defaultPrefix {
		args = "--prefix " + d.g.prefix + " " + args
	}
	d.out.cmd("ulvslab %s", args)
}

// check prints a check's outcome and fails the demo when it does not hold.
func (d *demo) check(ok bool, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if !ok {
		d.out.fail("%s", msg)
		return errors.New(msg)
	}
	d.out.ok("%s", msg)
	return nil
}

func (d *demo) run(seeds, traceOut string) error {
	out := d.out
	if seeds != "" {
		d.next("your keepalived.conf files, read exactly as keepalived reads them")
		out.cmd("ulvslab configs --brief %s", seeds)
		if err := showConfigs(seeds, true, out); err != nil {
			return err
		}
		out.line("    (`ulvslab configs` describes each one in full)")
	}

	d.next("bring up the lab: a client, two directors in VRRP, three nginx real servers, DR mode")
	d.show("up --mode dr --directors 2 --servers 3")
	l, err := up(d.g, upOptions{mode: "dr", directors: 2, servers: 3, http: "auto"}, modeDR, true, out)
	if err != nil {
		return err
	}
	d.lab = l
	vip := l.st.Targets[0]
	rs1 := l.st.node("rs1")
	dir1, dir2 := l.st.node("director1"), l.st.node("director2")

	d.next("30 requests through the VIP: round robin spreads them evenly")
	d.show("curl 30")
	res := l.curl(vip, "/", 30)
	res.print(out)
	if err := d.check(res.failed == 0 && res.by["rs1"] == 10 && res.by["rs2"] == 10 && res.by["rs3"] == 10,
		"every request answered, 10 each by rs1, rs2 and rs3"); err != nil {
		return err
	}
	if err := d.check(l.master("VI_1") == dir1, "director1 is the VRRP master and forwards"); err != nil {
		return err
	}
	out.cmd("ulvsadm -Ln    # on director1")
	out.block(l.adm(dir1, "-Ln"))

	d.next("stop nginx on rs1: the health checker drains it")
	d.show("fail rs1")
	t0 := time.Now()
	if err := l.fail("rs1"); err != nil {
		return err
	}
	if err := l.st.save(); err != nil {
		return err
	}
	err = waitFor(drainBound+drainMargin, "rs1 to leave director1's table", func() (bool, error) {
		return !l.inTable(dir1, rs1.addr4()), nil
	})
	if err := d.check(err == nil, "rs1 left director1's table %.1fs after nginx stopped (HTTP_GET bound %v, margin %v)",
		time.Since(t0).Seconds(), drainBound, drainMargin); err != nil {
		return err
	}
	out.cmd("ulvsadm -Ln    # on director1")
	out.block(l.adm(dir1, "-Ln"))
	d.show("curl 12")
	res = l.curl(vip, "/", 12)
	res.print(out)
	if err := d.check(res.failed == 0 && res.by["rs1"] == 0 && res.by["rs2"] == 6 && res.by["rs3"] == 6,
		"every request answered, none by rs1, 6 each by rs2 and rs3"); err != nil {
		return err
	}

	d.next("kill the master director: the backup takes the VIP")
	d.show("fail director1")
	t0 = time.Now()
	if err := l.fail("director1"); err != nil {
		return err
	}
	if err := l.st.save(); err != nil {
		return err
	}
	err = waitFor(failoverBound+failoverMargin, "director2 to become master", func() (bool, error) {
		return l.master("VI_1") == dir2, nil
	})
	if err := d.check(err == nil, "director2 became master %.1fs after director1 died (bound 3 × advert_int + skew = %v, margin %v)",
		time.Since(t0).Seconds(), failoverBound, failoverMargin); err != nil {
		return err
	}
	addrOut, _ := l.nodes["director2"].Output(context.Background(), "ip", "-br", "addr", "show", "dev", "eth0")
	out.cmd("ip -n %s -br addr show dev eth0", dir2.NS)
	out.block(addrOut)
	if err := d.check(strings.Contains(addrOut, vip.Addr().String()+"/"), "the VIP %s is on director2's eth0", vip.Addr()); err != nil {
		return err
	}
	out.cmd("ulvsadm vrrp    # on director2")
	out.block(l.adm(dir2, "vrrp"))
	var firstOK time.Duration
	err = waitFor(5*time.Second, "a request answered through director2", func() (bool, error) {
		_, gerr := get(l.st.node("client").NS, vip, "/", 0, time.Second)
		firstOK = time.Since(t0)
		return gerr == nil, nil
	})
	if err := d.check(err == nil, "requests answered again %.1fs after director1 died", firstOK.Seconds()); err != nil {
		return err
	}
	d.show("curl 12")
	res = l.curl(vip, "/", 12)
	res.print(out)
	if err := d.check(res.failed == 0 && res.by["rs1"] == 0 && res.by["rs2"]+res.by["rs3"] == 12,
		"every request answered through director2, by rs2 and rs3"); err != nil {
		return err
	}

	d.next("heal: nginx back on rs1, director1 back (it preempts: higher priority)")
	d.show("heal")
	if err := l.heal(); err != nil {
		return err
	}
	err = waitFor(failoverBound+failoverMargin, "director1 to be master again", func() (bool, error) {
		return l.master("VI_1") == dir1 && l.inTable(dir1, rs1.addr4()), nil
	})
	if err := d.check(err == nil, "director1 is master again and lists rs1"); err != nil {
		return err
	}
	d.show("curl 30")
	res = l.curl(vip, "/", 30)
	res.print(out)
	if err := d.check(res.failed == 0 && res.by["rs1"] == 10 && res.by["rs2"] == 10 && res.by["rs3"] == 10,
		"every request answered, 10 each again"); err != nil {
		return err
	}

	d.next("trace one connection: what DR does to a packet")
	d.show("trace --out " + traceOut)
	tr, err := l.trace(vip, "/", traceOut)
	if tr != nil {
		tr.print(out)
	}
	if err != nil {
		return err
	}
	dr := slices.ContainsFunc(tr.Steps, func(s traceStep) bool {
		return s.Node == "director1" && len(s.Notes) > 0 && strings.HasPrefix(s.Notes[0], "DR: dst MAC director1→rs")
	})
	if err := d.check(dr, "director1 rewrote only the destination MAC"); err != nil {
		return err
	}

	d.next("tear down")
	d.show("down")
	var pids []int
	for _, n := range l.st.Nodes {
		for _, p := range n.Procs {
			pids = append(pids, p.Pid)
		}
	}
	if err := teardown(l.st, out); err != nil {
		return err
	}
	d.lab = nil
	left, _ := topo.Namespaces(d.g.prefix)
	if err := d.check(len(left) == 0, "no namespace left (with them every veth and the bridge)"); err != nil {
		return err
	}
	err = waitFor(2*time.Second, "the lab's processes to be gone", func() (bool, error) {
		for _, p := range pids {
			if syscall.Kill(p, 0) == nil {
				return false, nil
			}
		}
		return true, nil
	})
	return d.check(err == nil, "none of the lab's %d processes is left", len(pids))
}

// diagnose prints what helps after a failed step: VRRP states and the
// directors' last log lines.
func (d *demo) diagnose() {
	l := d.lab
	d.out.line("VRRP now:")
	d.out.block(l.vrrpSummary())
	for _, n := range l.st.byRole(roleDirector) {
		if p := n.Procs[procUlvsd]; p != nil {
			d.out.line("last lines of %s's ulvsd log (%s):", n.Name, p.Log)
			d.out.line("%s", tailFile(p.Log, 15))
		}
	}
}
