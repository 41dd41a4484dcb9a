package ipvs_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// oracleRun is one `ulvsadm simulate` run: n connections to vip from the
// first n host addresses of net, source port 40000, each staying open;
// before connection number at (counted from 1, as simulate's --at does)
// the second real server's weight becomes newWeight.
type oracleRun struct {
	vip       netip.Addr
	net       netip.Prefix
	n         int
	at        int
	newWeight int32
}

// TestVMSchedOracle makes the guest kernel's IPVS schedule a scripted
// sequence of TCP connections and requires its choices, read from
// /proc/net/ip_vs_conn, to equal `ulvsadm simulate --trace` for the same
// real servers, flags and sequence: package sched against the kernel,
// decision for decision.
func TestVMSchedOracle(t *testing.T) {
	l := newLab(t)
	ulvsadm := topotest.Binary(t, "./cmd/ulvsadm")
	reals := []forward.RealConfig{
		{Addr: labReals[0], Weight: 3},
		{Addr: labReals[1], Weight: 1},
		{Addr: labSorry, Weight: 2},
	}
	const n = 30
	cases := []struct {
		sched string
		flags string
		bits  uint32
		dh    bool
	}{
		{sched: "rr"}, {sched: "wrr"}, {sched: "lc"}, {sched: "wlc"},
		{sched: "sh"}, {sched: "sh", flags: "sh-port", bits: 0x10},
		{sched: "mh"}, {sched: "mh", flags: "mh-port", bits: 0x10},
		{sched: "dh", dh: true},
	}
	for k, c := range cases {
		name := c.sched
		if c.flags != "" {
			name += "," + c.flags
		}
		if k >= oraclePorts {
			t.Fatalf("more cases than oraclePorts")
		}
		port := uint16(oracleBase + k)
		reals := append([]forward.RealConfig(nil), reals...)
		for i := range reals {
			reals[i].Port = port
		}
		t.Run(name, func(t *testing.T) {
			l.t = t
			base := clientNets.Addr().As4()
			base[2] += byte(k)
			var runs []oracleRun
			if c.dh {
				// dh hashes the destination: one service per VIP.
				for i, v := range labVIPs {
					b := base
					b[3] = byte(64 * i)
					runs = append(runs, oracleRun{vip: v, net: netip.PrefixFrom(netip.AddrFrom4(b), 26), n: 10, at: 5, newWeight: 4})
				}
			} else {
				runs = []oracleRun{{vip: labVIPs[0], net: netip.PrefixFrom(netip.AddrFrom4(base), 24), n: n, at: n / 2, newWeight: 4}}
			}
			l.call("ipvs.new", map[string]bool{"Flush": true}, nil)
			for _, r := range runs {
				key := forward.ServiceKey{Addr: r.vip, Port: port, Proto: forward.TCP}
				l.call("ipvs.add_service", forward.ServiceConfig{Key: key, Scheduler: c.sched, SchedFlags: c.bits, Method: forward.DR}, nil)
				for _, rc := range reals {
					l.call("ipvs.add_real", realArgs{Key: key, Real: rc}, nil)
				}
			}
			var open []net.Conn
			defer func() {
				for _, c := range open {
					c.Close()
				}
			}()
			for _, r := range runs {
				key := forward.ServiceKey{Addr: r.vip, Port: port, Proto: forward.TCP}
				hosts := hostAddrs(r.net, r.n)
				for _, h := range hosts {
					if err := l.client.IP("addr", "add", netip.PrefixFrom(h, 32).String(), "dev", "eth0"); err != nil {
						t.Fatal(err)
					}
				}
				for i, h := range hosts {
					if i+1 == r.at {
						rc := reals[1]
						rc.Weight = r.newWeight
						l.call("ipvs.update_real", realArgs{Key: key, Real: rc}, nil)
					}
					var conn net.Conn
					var err error
					topotest.InNS(t, l.client, func() {
						d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(h, 40000)), Timeout: 10 * time.Second}
						conn, err = d.Dial("tcp", netip.AddrPortFrom(r.vip, port).String())
					})
					if err != nil {
						t.Fatalf("connection %d from %v through the guest: %v", i, h, err)
					}
					open = append(open, conn)
				}
			}
			kernel := map[netip.Addr]string{}
			for _, cn := range l.conns() {
				if !cn.Template && cn.Client.Port() == 40000 {
					kernel[cn.Client.Addr()] = cn.Real.String()
				}
			}
			for _, r := range runs {
				args := []string{"simulate", "-trace", "-s", c.sched, "-n", fmt.Sprint(r.n), "-vip",
					netip.AddrPortFrom(r.vip, port).String(), "-client-net", r.net.String(),
					"-at", fmt.Sprintf("%d:weight:%v:%d:%d", r.at, reals[1].Addr, reals[1].Port, r.newWeight)}
				if c.flags != "" {
					args = append(args, "-b", c.flags)
				}
				for _, rc := range reals {
					args = append(args, "-r", fmt.Sprintf("%v:%d:%d", rc.Addr, rc.Port, rc.Weight))
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				out, err := exec.CommandContext(ctx, ulvsadm, args...).CombinedOutput()
				cancel()
				if err != nil {
					t.Fatalf("ulvsadm %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				var got strings.Builder
				for _, h := range hostAddrs(r.net, r.n) {
					d, ok := kernel[h]
					if !ok {
						d = "none"
					}
					fmt.Fprintf(&got, "%v -> %s\n", netip.AddrPortFrom(h, 40000), d)
				}
				if diff := cmp.Diff(strings.Split(string(out), "\n"), strings.Split(got.String(), "\n")); diff != "" {
					t.Errorf("%s on %v: the kernel's choices differ from ulvsadm simulate --trace (-simulate +kernel):\n%s\nulvsadm %s",
						name, r.vip, diff, strings.Join(args, " "))
				}
			}
		})
	}
}

// hostAddrs returns the first n host addresses of p, as ulvsadm simulate
// numbers its clients.
func hostAddrs(p netip.Prefix, n int) []netip.Addr {
	var out []netip.Addr
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
		out = append(out, a)
	}
	return out
}
