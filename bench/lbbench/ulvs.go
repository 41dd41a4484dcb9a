package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/forward/tunnel"
	"github.com/ulvs/ulvs/forward/xsk"
	"github.com/ulvs/ulvs/internal/topo"
)

// The ulvs scenarios run ulvsd in the director with a keepalived.conf that
// holds the bench's three services (HTTP rr, iperf3 sh so that its two
// connections meet, the UDP sink rr) and no health checkers, so its real
// servers are up from the start. TUN's real servers run ulvs's userspace
// IPIP decapsulator (this kernel has no ipip module).
// io is ulvsd's --io (afpacket or xdp).
func ulvsScenario(method, io string) func(l *lab) (*target, error) {
	return ulvsVariant(method, io, variant{})
}

// variant is an A/B variant of the ulvs scenarios (-variants): another
// ulvsd binary (bin; "" is -ulvsd) and options added to its command line.
type variant struct {
	label, bin string
	args       []string
}

// ulvsVariant is ulvsScenario run as v says (layer is --io); with
// --xdp-fastpath among v's options, the director's switch port runs the
// pass-all XDP program too.
func ulvsVariant(method, layer string, v variant) func(l *lab) (*target, error) {
	return func(l *lab) (*target, error) {
		ulvsd := l.ulvsd
		if v.bin != "" {
			ulvsd = v.bin
		}
		if ulvsd == "" {
			return nil, fmt.Errorf("no ulvsd binary (-ulvsd)")
		}
		var procs []*topo.Proc
		var pass io.Closer
		undo := func() {
			for i := len(procs) - 1; i >= 0; i-- {
				_ = stop(procs[i])
			}
			if method == "NAT" {
				_ = l.natRoutes(false)
			}
			if pass != nil {
				_ = pass.Close()
			}
		}
		if slices.Contains(v.args, "--xdp-fastpath") {
			// The fast path's XDP_TX frames reach the switch only while the
			// director's port, the veth's peer, runs a native XDP program:
			// a pass-all one (it costs every frame the director sends a
			// trip through that port's NAPI, which a NIC does not).
			if err := topo.InNamespace(l.tp.Switch, func() error {
				ifc, err := net.InterfaceByName(l.director.Port)
				if err != nil {
					return err
				}
				pass, err = xsk.AttachPass(ifc.Index)
				return err
			}); err != nil {
				return nil, fmt.Errorf("the pass program on the director's switch port: %w", err)
			}
		}
		if method == "TUN" {
			for _, n := range l.reals {
				p, err := n.Start(l.dir, l.self, "decap")
				if err == nil {
					procs = append(procs, p)
					err = waitLog(p, "decapsulating", 10*time.Second)
				}
				if err != nil {
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
		base := filepath.Join(l.dir, "ulvsd-"+method+"-"+layer)
		if v.label != "" {
			base += "-" + v.label
		}
		if err := os.WriteFile(base+".conf", []byte(ulvsConfig(method)), 0o644); err != nil {
			undo()
			return nil, err
		}
		sock := base + ".sock"
		_ = os.Remove(sock)
		args := []string{"-n", "-l", "-f", base + ".conf", "-p", base + ".pid",
			"-r", base + "-vrrp.pid", "-c", base + "-check.pid", "--control", sock, "--interfaces", "eth0", "--io", layer}
		args = append(args, v.args...)
		debug := os.Getenv("LBBENCH_DEBUG") != ""
		if debug {
			args = append(args, "--metrics", debugMetrics)
		}
		p, err := l.director.Start(l.dir, ulvsd, args...)
		if err != nil {
			undo()
			return nil, err
		}
		procs = append(procs, p)
		if err := waitFile(p, sock, 15*time.Second); err != nil {
			undo()
			return nil, err
		}
		t := vipTarget(l)
		t.balancer, t.lossFree = p.Pid(), true
		t.teardown = func() error {
			if debug {
				l.log("ulvsd drops and tables:\n%s", l.ulvsdMetrics())
			}
			err := stop(p)
			if debug {
				l.log("ulvsd log:\n%s", p.Log())
			}
			procs = procs[:len(procs)-1]
			undo()
			return err
		}
		return t, nil
	}
}

// debugMetrics is where ulvsd serves its metrics under LBBENCH_DEBUG.
const debugMetrics = "127.0.0.1:9650"

// ulvsdMetrics returns ulvsd's drop and table metrics (LBBENCH_DEBUG).
func (l *lab) ulvsdMetrics() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := l.director.Output(ctx, "curl", "-sS", "http://"+debugMetrics+"/metrics")
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ulvs_forward_dropped") || strings.HasPrefix(line, "ulvs_connection_table") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// ulvsConfig is the keepalived.conf of a ulvs scenario.
func ulvsConfig(method string) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id lbbench\n}\n")
	for _, s := range []struct {
		proto string
		port  int
		sched string
	}{{"TCP", httpPort, "rr"}, {"TCP", iperfPort, "sh"}, {"UDP", udpPort, "rr"}} {
		fmt.Fprintf(&b, "virtual_server %v %d {\n    lb_algo %s\n    lb_kind %s\n    protocol %s\n", vip, s.port, s.sched, method, s.proto)
		for _, a := range realAddrs {
			fmt.Fprintf(&b, "    real_server %v %d {\n        weight 1\n    }\n", a, s.port)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// waitFile waits until path exists (ulvsd's control socket) while p runs.
func waitFile(p *topo.Proc, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if ok, err := p.Exited(); ok {
			return fmt.Errorf("%s exited (%v):\n%s", p.Cmd.Path, err, p.Log())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %v:\n%s", path, timeout, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
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
