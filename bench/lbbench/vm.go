package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/ipvs"
	"github.com/ulvs/ulvs/internal/vm"
)

// The VM scenarios put kernel IPVS, which this machine's kernel lacks, and
// ulvs side by side inside one QEMU guest (Debian's kernel, TCG) that
// takes the director's place on the bridge. Both run emulated, so they
// compare with each other, not with the scenarios on the host.

// guestAddr is the guest's own address on the bridge.
var guestAddr = netip.MustParseAddr("198.18.0.4")

// vmOptions locate what the VM needs.
type vmOptions struct {
	cache string // the kit (scripts/ipvs-vm.sh fetch)
	agent string // the static ipvsagent binary
}

// bootVM starts the guest on a tap in the lab's switch, with IPVS and
// nftables (the userspace forwarder's kernel guard) available.
func (l *lab) bootVM(o vmOptions) error {
	kit, err := vm.FindKit(o.cache)
	if err != nil {
		return err
	}
	initrd := filepath.Join(l.dir, "initrd.cpio")
	nftBin := "/usr/sbin/nft"
	if _, err := kit.BuildInitramfs(initrd, vm.InitramfsConfig{Agent: o.agent,
		Modules:  []string{"ip_vs", "ip_vs_rr", "ip_vs_sh", "nf_tables"},
		Programs: map[string]string{"/usr/sbin/nft": nftBin}}); err != nil {
		return err
	}
	steps := [][]string{
		{"-n", l.tp.Switch, "tuntap", "add", "dev", "vmtap0", "mode", "tap"},
		{"-n", l.tp.Switch, "link", "set", "vmtap0", "master", "br0"},
		{"-n", l.tp.Switch, "link", "set", "vmtap0", "up"},
	}
	for _, s := range steps {
		if err := runIP(s...); err != nil {
			return err
		}
	}
	m, err := vm.Start(context.Background(), vm.Config{Kit: kit, Initrd: initrd, NetNS: l.tp.Switch, Tap: "vmtap0",
		MemoryMB: 1024})
	if err != nil {
		return err
	}
	l.vm = m
	l.log("VM booted in %v", m.BootTime().Round(10*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = m.Shell(ctx, fmt.Sprintf(`ip link set eth0 up
ip addr add %v/24 dev eth0
`, guestAddr))
	return err
}

// moveVIP puts the VIP on the guest (toGuest) or back on the director
// namespace, and makes the client forget where it was.
func (l *lab) moveVIP(toGuest bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := netip.PrefixFrom(vip, 32).String()
	var err error
	if toGuest {
		if err = l.director.IP("addr", "del", p, "dev", "eth0"); err == nil {
			_, err = l.vm.Exec(ctx, "ip", "addr", "add", p, "dev", "eth0")
		}
	} else {
		if _, err = l.vm.Exec(ctx, "ip", "addr", "del", p, "dev", "eth0"); err == nil {
			err = l.director.IP("addr", "add", p, "dev", "eth0")
		}
	}
	if err != nil {
		return err
	}
	_ = l.client.IP("neigh", "flush", "to", vip.String())
	return nil
}

// vmScenario runs kernel IPVS ("ipvs"), ulvs ("ulvs"), ulvs on a
// TPACKET_V2 ring ("ulvs-v2"), ulvs over AF_XDP ("ulvs-xdp": native XDP
// on the guest's virtio-net) or that with the XDP fast path
// ("ulvs-xdp-fast": virtio-net needs no peer program) in DR mode in the
// guest, with the bench's TCP services.
func vmScenario(kind string) func(l *lab) (*target, error) {
	return func(l *lab) (*target, error) {
		if l.vm == nil {
			return nil, fmt.Errorf("no VM: run with -vm (scripts/ipvs-vm.sh fetch prepares it)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var err error
		switch kind {
		case "ipvs":
			err = l.vm.Call(ctx, "ipvs.new", ipvs.Config{Flush: true}, nil)
		case "ulvs-v2":
			err = l.vm.Call(ctx, "userspace.new", map[string]any{"Interfaces": []string{"eth0"}, "Workers": 1, "RingVersion": 2}, nil)
		case "ulvs-xdp":
			err = l.vm.Call(ctx, "userspace.new", map[string]any{"Interfaces": []string{"eth0"}, "Workers": 1, "IO": forward.IOXDP}, nil)
		case "ulvs-xdp-fast":
			err = l.vm.Call(ctx, "userspace.new", map[string]any{"Interfaces": []string{"eth0"}, "Workers": 1, "IO": forward.IOXDP,
				"XDPFastPath": true}, nil)
		default:
			err = l.vm.Call(ctx, "userspace.new", map[string]any{"Interfaces": []string{"eth0"}, "Workers": 1}, nil)
		}
		if err != nil {
			return nil, err
		}
		for _, s := range []struct {
			port  uint16
			sched string
		}{{httpPort, "rr"}, {iperfPort, "sh"}} {
			key := forward.ServiceKey{Addr: vip, Port: s.port, Proto: forward.TCP}
			if err == nil {
				err = l.vm.Call(ctx, "ipvs.add_service", forward.ServiceConfig{Key: key, Scheduler: s.sched, Method: forward.DR}, nil)
			}
			for _, a := range realAddrs {
				if err == nil {
					err = l.vm.Call(ctx, "ipvs.add_real", map[string]any{"Key": key,
						"Real": forward.RealConfig{Addr: a, Port: s.port, Weight: 1}}, nil)
				}
			}
		}
		if err == nil {
			err = l.moveVIP(true)
		}
		if err != nil {
			_ = l.vm.Call(ctx, "ipvs.close", nil, nil)
			return nil, err
		}
		t := &target{src: clientAddr, http: netip.AddrPortFrom(vip, httpPort), iperf: netip.AddrPortFrom(vip, iperfPort)}
		t.teardown = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := l.vm.Call(ctx, "ipvs.close", nil, nil)
			if e := l.moveVIP(false); err == nil {
				err = e
			}
			return err
		}
		return t, nil
	}
}

func runIP(args ...string) error {
	if out, err := execIP(args...); err != nil {
		return fmt.Errorf("ip %v: %w: %s", args, err, out)
	}
	return nil
}

func execIP(args ...string) ([]byte, error) { return exec.Command("ip", args...).CombinedOutput() }
