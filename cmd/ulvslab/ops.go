package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/topo"
)

func runStatus(g *globals, args []string, out *printer) error {
	if err := parse(flags("status"), args); err != nil {
		return err
	}
	l, err := openLab(g, out)
	if err != nil {
		return err
	}
	st := l.st
	out.line("lab %q: %s mode, %d director(s), up since %s", st.Prefix, modeName(st.Mode), st.Directors, st.Created.Local().Format(time.DateTime))
	out.line("configuration: %s", st.Source)
	for _, m := range st.Mapping {
		out.line("    mapped: %s", m)
	}
	var targets []string
	for _, t := range st.Targets {
		targets = append(targets, "http://"+t.String()+"/")
	}
	out.line("client reaches: %s", strings.Join(targets, " "))
	out.line("")
	l.nodesTable()
	out.line("")
	out.line("processes:")
	for _, n := range st.Nodes {
		for _, kind := range []string{procUlvsd, procHTTP, procDecap, procBird} {
			p := n.Procs[kind]
			if p == nil {
				continue
			}
			what := kind
			if kind == procHTTP && p.Nginx {
				what = "nginx"
			}
			alive := "running"
			if !l.alive(n, kind) {
				alive = "NOT RUNNING"
			}
			out.line("  %-10s %-6s pid %-8d %s   log %s", n.Name, what, p.Pid, alive, p.Log)
		}
	}
	if st.ECMP {
		out.line("")
		out.cmd("ip netns exec %s ip route show %s    # the router's FIB", l.nodes["router"].NS, vipAddr(0))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fib, _ := l.nodes["router"].Output(ctx, "ip", "route", "show", vipAddr(0).String())
		cancel()
		out.block(fib)
		for _, d := range st.byRole(roleDirector) {
			if !l.alive(d, procUlvsd) {
				continue
			}
			out.line("")
			out.cmd("ulvsadm bgp --socket %s    # on %s", d.Socket, d.Name)
			out.block(l.adm(d, "bgp"))
		}
	} else {
		out.line("")
		out.line("VRRP:")
		out.block(l.vrrpSummary())
	}
	for _, d := range st.byRole(roleDirector) {
		if d.failed("node") || !l.alive(d, procUlvsd) {
			continue
		}
		out.line("")
		out.cmd("ulvsadm -Ln --socket %s    # on %s", d.Socket, d.Name)
		out.block(l.adm(d, "-Ln"))
	}
	return nil
}

// adm runs the real ulvsadm against a director and returns its output
// (or the error, as text to show).
func (l *lab) adm(d *nodeState, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.st.Bins.Ulvsadm, append(args, "--socket", d.Socket)...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s(ulvsadm: %v)", b, err)
	}
	return string(b)
}

// target picks the service to reach: --target, else the lab's first.
func (l *lab) target(s string) (netip.AddrPort, error) {
	if s == "" {
		return l.st.Targets[0], nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.AddrPort{}, usagef("--target %q: want VIP or VIP:PORT", s)
		}
		ap = netip.AddrPortFrom(a, 80)
	}
	return ap, nil
}

func runCurl(g *globals, args []string, out *printer) error {
	fs := flags("curl")
	target := fs.String("target", "", "VIP:PORT to reach (default: the lab's first service)")
	path := fs.String("path", "/", "URL path")
	if err := parse(fs, args); err != nil {
		return err
	}
	n := 10
	if fs.NArg() > 1 {
		return usagef("unexpected argument %q", fs.Arg(1))
	}
	if fs.NArg() == 1 {
		v, err := strconv.Atoi(fs.Arg(0))
		if err != nil || v < 1 || v > 100000 {
			return usagef("N must be a number of requests (1-100000), not %q", fs.Arg(0))
		}
		n = v
	}
	if err := needRoot(); err != nil {
		return err
	}
	l, err := openLab(g, out)
	if err != nil {
		return err
	}
	t, err := l.target(*target)
	if err != nil {
		return err
	}
	if l.st.ECMP {
		res, per := l.ecmpSpread(t, *path, n)
		out.line("from %d distinct client addresses:", min(n, ecmpClients))
		res.print(out)
		printPerDirector(out, per, n)
		if res.failed > 0 {
			return fmt.Errorf("ulvslab: %d of %d requests failed (first: %v)", res.failed, n, res.firstErr)
		}
		return nil
	}
	res := l.curl(t, *path, n)
	res.print(out)
	if res.failed > 0 {
		return fmt.Errorf("ulvslab: %d of %d requests failed (first: %v)", res.failed, n, res.firstErr)
	}
	return nil
}

// tally counts answers by the node that gave them.
type tally struct {
	url      string
	n        int
	by       map[string]int
	failed   int
	firstErr error
	took     time.Duration
}

// curl sends n requests through t from the client, one connection each.
func (l *lab) curl(t netip.AddrPort, path string, n int) *tally {
	client := l.st.node("client")
	r := &tally{url: "http://" + t.String() + path, n: n, by: map[string]int{}}
	start := time.Now()
	for range n {
		body, err := get(client.NS, t, path, 0, 2*time.Second)
		if err != nil {
			r.failed++
			if r.firstErr == nil {
				r.firstErr = err
			}
			continue
		}
		r.by[body]++
	}
	r.took = time.Since(start)
	return r
}

// print shows the tally as a small bar chart, servers in name order.
func (r *tally) print(out *printer) {
	out.line("%d requests to %s from the client, one connection each (%v):", r.n, r.url, r.took.Round(time.Millisecond))
	names := make([]string, 0, len(r.by))
	for k := range r.by {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out.line("    %-10s %4d  %s", k, r.by[k], strings.Repeat("█", r.by[k]*40/max(r.n, 1)))
	}
	if r.failed > 0 {
		out.line("    %-10s %4d  (first: %v)", "failed", r.failed, r.firstErr)
	}
}

var realName = regexp.MustCompile(`^(rs[0-9]+|sorry)$`)

func runFail(g *globals, args []string, out *printer) error {
	fs := flags("fail")
	term := fs.Bool("term", false, "a director: SIGTERM to ulvsd (ECMP lab: it withdraws, forwards for its grace, then stops)")
	kill := fs.Bool("kill", false, "a director: SIGKILL to ulvsd only (the link stays up)")
	link := fs.Bool("link", false, "a director: its link down only (ulvsd keeps running)")
	if err := parse(fs, args); err != nil {
		return err
	}
	how := ""
	for _, f := range []struct {
		on   bool
		name string
	}{{*term, "term"}, {*kill, "kill"}, {*link, "link"}} {
		if f.on {
			if how != "" {
				return usagef("--term, --kill and --link exclude each other")
			}
			how = f.name
		}
	}
	if fs.NArg() == 0 {
		return usagef("name what fails: rs1, director1, or http:NODE")
	}
	if err := needRoot(); err != nil {
		return err
	}
	l, err := openLab(g, out)
	if err != nil {
		return err
	}
	for _, a := range fs.Args() {
		if how != "" {
			err = l.failDirector(a, how)
		} else {
			err = l.fail(a)
		}
		if err != nil {
			return err
		}
	}
	return l.st.save()
}

// failDirector stops a director one way: term (SIGTERM), kill (SIGKILL)
// or link (eth0 down). In the ECMP lab it then shows how long the router
// took to drop the director from its route.
func (l *lab) failDirector(name, how string) error {
	n := l.st.node(name)
	if n == nil || n.Role != roleDirector {
		return usagef("--%s takes a director (director1, ...), not %q", how, name)
	}
	if len(n.Failed) > 0 {
		l.out.line("%s: already failed (%s)", name, strings.Join(n.Failed, ","))
		return nil
	}
	switch how {
	case "term", "kill":
		sig, what := syscall.SIGTERM, "SIGTERM: withdraws its routes, forwards for its grace period, then stops"
		if how == "kill" {
			sig, what = syscall.SIGKILL, "SIGKILL: no goodbye; the kernel closes its BGP session"
		}
		p := n.Procs[procUlvsd]
		if p == nil || !l.alive(n, procUlvsd) {
			return fmt.Errorf("ulvslab: ulvsd on %s is not running", name)
		}
		if err := syscall.Kill(p.Pid, sig); err != nil {
			return fmt.Errorf("ulvslab: %w", err)
		}
		n.Failed = append(n.Failed, "ulvsd")
		l.out.line("%s: ulvsd pid %d, %s", name, p.Pid, what)
	case "link":
		if err := l.nodes[name].IP("link", "set", "eth0", "down"); err != nil {
			return err
		}
		n.Failed = append(n.Failed, "link")
		l.out.line("%s: eth0 down (ulvsd still runs; the router finds out by BFD, or by its hold time)", name)
	}
	if !l.st.ECMP {
		return nil
	}
	took, err := l.waitHops(l.announcing(), 15*time.Second)
	if err != nil {
		return err
	}
	l.out.line("router: %s routed through %v after %v", vipAddr(0), l.nextHops(), took.Round(time.Millisecond))
	return nil
}

// fail stops what the argument names: a real server's HTTP server (rsN,
// sorry, http:NODE) or a whole director (directorN: ulvsd killed without a
// goodbye, as a machine losing power, and its link taken down).
func (l *lab) fail(what string) error {
	name, http := what, false
	if rest, ok := strings.CutPrefix(what, "http:"); ok {
		name, http = rest, true
	} else if realName.MatchString(what) {
		http = true
	}
	n := l.st.node(name)
	if n == nil {
		return usagef("no node %q in the lab", name)
	}
	if http {
		if n.Procs[procHTTP] == nil {
			return usagef("%s runs no HTTP server", name)
		}
		if n.failed("http") {
			l.out.line("%s: HTTP server already stopped", name)
			return nil
		}
		if err := l.stop(n, procHTTP); err != nil {
			return err
		}
		n.Failed = append(n.Failed, "http")
		l.out.line("%s: HTTP server stopped (pid %d killed); `ulvslab heal` restarts it", name, n.Procs[procHTTP].Pid)
		return nil
	}
	if n.Role != roleDirector {
		return usagef("%s is a %s: fail takes rsN, directorN or http:NODE", name, n.Role)
	}
	if n.failed("node") {
		l.out.line("%s: already down", name)
		return nil
	}
	if err := l.stop(n, procUlvsd); err != nil {
		return err
	}
	if err := l.nodes[name].IP("link", "set", "eth0", "down"); err != nil {
		return err
	}
	n.Failed = append(n.Failed, "node")
	l.out.line("%s: ulvsd killed (pid %d, no VRRP goodbye) and eth0 down, as a director losing power", name, n.Procs[procUlvsd].Pid)
	return nil
}

func runHeal(g *globals, args []string, out *printer) error {
	if err := parse(flags("heal"), args); err != nil {
		return err
	}
	if err := needRoot(); err != nil {
		return err
	}
	l, err := openLab(g, out)
	if err != nil {
		return err
	}
	return l.heal()
}

// heal restarts whatever fail stopped and waits until the lab is whole:
// every instance has a master and every healed real server is back in the
// masters' tables.
func (l *lab) heal() error {
	var healedReals []netip.Addr
	for _, n := range l.st.Nodes {
		if len(n.Failed) == 0 {
			continue
		}
		for _, f := range n.Failed {
			switch f {
			case "http":
				builtin := !n.Procs[procHTTP].Nginx
				if err := l.startHTTP(n, builtin); err != nil {
					return err
				}
				if n.Role == roleReal { // a sorry server is in a table only while its service lacks quorum
					healedReals = append(healedReals, n.addr4())
				}
				l.out.line("%s: HTTP server restarted (pid %d)", n.Name, n.Procs[procHTTP].Pid)
			case "node":
				if err := l.nodes[n.Name].IP("link", "set", "eth0", "up"); err != nil {
					return err
				}
				if err := l.startUlvsd(n); err != nil {
					return err
				}
				l.out.line("%s: eth0 up, ulvsd restarted (pid %d)", n.Name, n.Procs[procUlvsd].Pid)
			case "ulvsd":
				if err := waitFor(10*time.Second, "the stopped ulvsd on "+n.Name+" to exit", func() (bool, error) {
					return !l.alive(n, procUlvsd), nil
				}); err != nil {
					return err
				}
				// A killed ulvsd leaves its pid files, and its pid may
				// linger as a zombie until reaped: the new one would
				// take it for a running daemon.
				base := filepath.Join(l.st.Dir, n.Name)
				for _, f := range []string{base + ".pid", base + "-vrrp.pid", base + "-checkers.pid"} {
					_ = os.Remove(f)
				}
				if err := l.startUlvsd(n); err != nil {
					return err
				}
				l.out.line("%s: ulvsd restarted (pid %d)", n.Name, n.Procs[procUlvsd].Pid)
			case "link":
				if err := l.nodes[n.Name].IP("link", "set", "eth0", "up"); err != nil {
					return err
				}
				l.out.line("%s: eth0 up", n.Name)
			}
		}
		n.Failed = nil
		if err := l.st.save(); err != nil {
			return err
		}
	}
	if err := l.waitReady(30 * time.Second); err != nil {
		return err
	}
	// Every healed real server back in the table of every instance's
	// master. A master that cannot be asked (its control socket slow under
	// load) or an instance between masters is not "whole": wait for it too,
	// rather than let the next requests meet a table still missing a
	// server.
	for _, r := range healedReals {
		err := waitFor(20*time.Second, fmt.Sprintf("%s back in the masters' tables", r), func() (bool, error) {
			for _, in := range l.st.Instances {
				m := l.master(in)
				if m == nil || !l.inTable(m, r) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	l.out.line("the lab is whole again")
	return nil
}

// inTable reports whether a director's table lists the real server with a
// weight above 0 in some service.
func (l *lab) inTable(d *nodeState, real netip.Addr) bool {
	resp, err := ctlCall(d.Socket, ctl.OpIPVS)
	if err != nil || resp.IPVS == nil {
		return false
	}
	for _, s := range resp.IPVS.Services {
		for _, de := range s.Dests {
			if de.Addr == real && de.Weight > 0 {
				return true
			}
		}
	}
	return false
}

func runDown(g *globals, args []string, out *printer) error {
	if err := parse(flags("down"), args); err != nil {
		return err
	}
	if err := needRoot(); err != nil {
		return err
	}
	st, err := loadState(g.stateDir, g.prefix)
	if errors.Is(err, errNoLab) {
		// A crash before the state was written, or a state removed by
		// hand: the namespaces are still found by their names.
		st = &state{Prefix: g.prefix, Dir: labDir(g.stateDir, g.prefix)}
	} else if err != nil {
		return err
	}
	return teardown(st, out)
}

// labNodeName matches the names the lab gives its namespaces after the
// prefix, so that down never removes another lab whose prefix merely
// starts with this one.
var labNodeName = regexp.MustCompile(`^(sw|client|router|director[0-9]+|rs[0-9]+|sorry)$`)

// teardown stops the lab's recorded processes, removes its namespaces
// (killing whatever still runs inside them), and its state directory.
func teardown(st *state, out *printer) error {
	var errs []error
	l := &lab{st: st, out: out}
	stopped := 0
	for _, n := range st.Nodes {
		for _, kind := range []string{procUlvsd, procDecap, procHTTP, procBird} {
			if l.alive(n, kind) {
				if err := l.stop(n, kind); err != nil {
					errs = append(errs, err)
				} else {
					stopped++
				}
			}
		}
	}
	names, err := topo.Namespaces(st.Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	names = slices.DeleteFunc(names, func(ns string) bool { return !labNodeName.MatchString(strings.TrimPrefix(ns, st.Prefix)) })
	if err := topo.RemoveNamespaces(names...); err != nil {
		errs = append(errs, err)
	}
	left, _ := topo.Namespaces(st.Prefix)
	left = slices.DeleteFunc(left, func(ns string) bool { return !labNodeName.MatchString(strings.TrimPrefix(ns, st.Prefix)) })
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("ulvslab: namespaces left: %s", strings.Join(left, " ")))
	}
	if st.Dir != "" {
		if err := os.RemoveAll(st.Dir); err != nil {
			errs = append(errs, fmt.Errorf("ulvslab: %w", err))
		}
	}
	if len(names) == 0 && stopped == 0 {
		out.line("nothing to remove: no lab with prefix %q", st.Prefix)
	} else {
		out.line("lab %q removed: %d processes stopped, %d namespaces deleted (with their links)", st.Prefix, stopped, len(names))
	}
	return errors.Join(errs...)
}
