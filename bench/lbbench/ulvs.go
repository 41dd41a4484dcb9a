package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/tunnel"
	"github.com/ulvs/ulvs/internal/topo"
)

// The ulvs scenarios run ulvs's data path, package forward's userspace
// backend, in the director. ulvsd cannot run a keepalived.conf yet, so
// lbbench drives the backend itself (`lbbench ulvs`) with the services a
// keepalived.conf would give it; once ulvsd can, these functions start
// ulvsd -f with that config instead.
func ulvsScenario(method string) func(l *lab) (*target, error) {
	return func(l *lab) (*target, error) {
		var decaps []*topo.Proc
		undo := func() {
			for _, p := range decaps {
				_ = stop(p)
			}
		}
		if method == "TUN" {
			for _, n := range l.reals {
				p, err := n.Start(l.dir, l.self, "decap")
				if err != nil {
					undo()
					return nil, err
				}
				decaps = append(decaps, p)
				if err := waitLog(p, "decapsulating", 10*time.Second); err != nil {
					undo()
					return nil, err
				}
			}
		}
		if method == "NAT" {
			if err := l.natRoutes(true); err != nil {
				undo()
				return nil, err
			}
		}
		p, err := l.director.Start(l.dir, l.self, "ulvs", "-method", method, "-workers", strconv.Itoa(l.workers))
		if err == nil {
			err = waitLog(p, "forwarding", 15*time.Second)
		}
		if err != nil {
			if p != nil {
				_ = stop(p)
			}
			if method == "NAT" {
				_ = l.natRoutes(false)
			}
			undo()
			return nil, err
		}
		t := vipTarget(l)
		t.balancer, t.pin = p.Pid(), true
		t.teardown = func() error {
			err := stop(p)
			if os.Getenv("LBBENCH_DEBUG") != "" {
				l.log("ulvs log:\n%s", p.Log())
			}
			if method == "NAT" {
				if e := l.natRoutes(false); err == nil {
					err = e
				}
			}
			undo()
			return err
		}
		return t, nil
	}
}

// waitLog waits until a process's log contains s.
func waitLog(p *topo.Proc, s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Log(), s) {
		if ok, err := p.Exited(); ok {
			return fmt.Errorf("%s exited (%v):\n%s", p.Cmd.Path, err, p.Log())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q from %s after %v:\n%s", s, strings.Join(p.Cmd.Args, " "), timeout, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// ulvsMain is `lbbench ulvs`: the userspace forwarder on eth0 with the
// bench's three services (HTTP rr, iperf3 sh so that its two connections
// meet, the UDP sink rr) until SIGTERM.
func ulvsMain(args []string) error {
	fs := flag.NewFlagSet("ulvs", flag.ContinueOnError)
	method := fs.String("method", "DR", "DR, NAT or TUN")
	workers := fs.Int("workers", 0, "forwarding workers (0: one per CPU)")
	ring := fs.Int("ring", 2, "TPACKET version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := forward.ParseMethod(*method)
	if err != nil {
		return err
	}
	u, err := forward.NewUserspace(&forward.Config{Interfaces: []string{"eth0"}, Workers: *workers, RingVersion: *ring,
		GuardTable: "lbbench"})
	if err != nil {
		return err
	}
	defer u.Close()
	for _, s := range []struct {
		proto uint8
		port  uint16
		sched string
	}{{forward.TCP, httpPort, "rr"}, {forward.TCP, iperfPort, "sh"}, {forward.UDP, udpPort, "rr"}} {
		key := forward.ServiceKey{Addr: vip, Port: s.port, Proto: s.proto}
		if err := u.AddService(forward.ServiceConfig{Key: key, Scheduler: s.sched, Method: m}); err != nil {
			return err
		}
		for _, a := range realAddrs {
			if err := u.AddReal(key, forward.RealConfig{Addr: a, Port: s.port, Weight: 1}); err != nil {
				return err
			}
		}
	}
	// Wait until the real servers' next hops are resolved, so that the
	// first measurement does not time ARP.
	deadline := time.Now().Add(10 * time.Second)
	for !resolved(u) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("forwarding", *method)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	// What the forwarder counted, for the bench's log.
	for _, s := range u.Services() {
		fmt.Printf("%v: %+v\n", s.Config.Key, s.Stats)
		for _, r := range s.Reals {
			fmt.Printf("  %v: %+v next hop %s\n", r.Config.Addr, r.Stats, r.NextHop)
		}
	}
	return nil
}

func resolved(u *forward.Userspace) bool {
	for _, s := range u.Services() {
		for _, r := range s.Reals {
			if r.NextHop == "" {
				return false
			}
		}
	}
	return true
}

// decapMain is `lbbench decap`: ulvs's userspace IPIP decapsulator on a
// real server (this kernel has no ipip module), until SIGTERM.
func decapMain([]string) error {
	_ = os.WriteFile("/proc/sys/net/ipv4/conf/all/rp_filter", []byte("0"), 0o644)
	d, err := tunnel.Open(tunnel.Config{})
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Println("decapsulating")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return d.Serve(ctx)
}
