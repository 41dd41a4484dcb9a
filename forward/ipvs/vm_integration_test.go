package ipvs_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/ipvs"
	"github.com/ulvs/ulvs/forward/syncmsg"
	"github.com/ulvs/ulvs/internal/testkit"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// Arguments of the agent's ipvs.* operations (package ipvsagent).
type (
	realArgs struct {
		Key  forward.ServiceKey
		Real forward.RealConfig
	}
	vipArgs struct {
		Addr    netip.Addr
		Enabled bool
	}
	syncArgs struct {
		Role forward.SyncRole
		Cfg  forward.SyncConfig
	}
)

// program starts a fresh backend in the guest (flushing the kernel's
// table) and adds the seed's services and real servers through it.
func (l *lab) program(svcs []seedService) {
	l.t.Helper()
	l.call("ipvs.new", ipvs.Config{Flush: true}, nil)
	for _, s := range svcs {
		l.call("ipvs.add_service", s.cfg, nil)
		for _, r := range s.reals {
			l.call("ipvs.add_real", realArgs{Key: s.cfg.Key, Real: r}, nil)
		}
	}
}

func (l *lab) url(s seedService) string {
	return fmt.Sprintf("http://%v/", netip.AddrPortFrom(s.cfg.Key.Addr, s.cfg.Key.Port))
}

// TestVMIPVS proves the kernel IPVS backend on a kernel that has IPVS:
// Debian's, booted under QEMU. The seed configs are programmed through the
// backend, the kernel's table (/proc/net/ip_vs and ipvsadm -Ln in the
// guest) must equal what the backend reports, and traffic from a client
// namespace through the guest's IPVS must reach the real servers in their
// namespaces on the host side of the tap.
func TestVMIPVS(t *testing.T) {
	l := newLab(t)
	const n = 20 // connections per check: TCG forwards slowly

	t.Run("000 DR wrr with sorry server", func(t *testing.T) {
		l.t = t
		seed := loadSeed(t, "000-dr-wrr-tcpcheck-sorry.conf", nil)
		l.program(seed)
		l.checkConfig(seed, false)
		l.checkTable()
		// wrr with equal weights alternates: each real server gets half.
		if diff := cmp.Diff(map[string]int{"rs1": n / 2, "rs2": n / 2}, l.fetch(l.url(seed[0]), n)); diff != "" {
			t.Errorf("DR answers by real server (-want +got):\n%s", diff)
		}
		// The kernel folds its per-CPU counters into what it reports every
		// 2 s (the rate estimator's timer).
		st := l.eventually(func(st []forward.ServiceStatus) bool { return st[0].Stats.Conns == n })
		if got := st[0].Stats.Conns; got != n {
			t.Errorf("the kernel counted %d connections, want %d", got, n)
		}
		l.checkTable()
		// Both real servers quiescent (keepalived's inhibit_on_failure):
		// the sorry server takes the new connections.
		for i := range seed[0].reals {
			seed[0].reals[i].Weight = 0
			l.call("ipvs.update_real", realArgs{Key: seed[0].cfg.Key, Real: seed[0].reals[i]}, nil)
		}
		l.checkConfig(seed, true)
		l.checkTable()
		if diff := cmp.Diff(map[string]int{"sorry": 4}, l.fetch(l.url(seed[0]), 4)); diff != "" {
			t.Errorf("answers with every real server at weight 0 (-want +got):\n%s", diff)
		}
		seed[0].reals[0].Weight = 1
		l.call("ipvs.update_real", realArgs{Key: seed[0].cfg.Key, Real: seed[0].reals[0]}, nil)
		l.checkConfig(seed, false)
		if diff := cmp.Diff(map[string]int{"rs1": 4}, l.fetch(l.url(seed[0]), 4)); diff != "" {
			t.Errorf("answers with one real server back (-want +got):\n%s", diff)
		}
		l.checkTable()
	})

	t.Run("000 as NAT", func(t *testing.T) {
		l.t = t
		seed := loadSeed(t, "000-dr-wrr-tcpcheck-sorry.conf", asNAT)
		l.natRoutes(true)
		defer l.natRoutes(false)
		l.program(seed)
		l.checkConfig(seed, false)
		// The client talks to the VIP only: a reply from a real server's
		// own address would not complete its connection.
		if diff := cmp.Diff(map[string]int{"rs1": n / 2, "rs2": n / 2}, l.fetch(l.url(seed[0]), n)); diff != "" {
			t.Errorf("NAT answers by real server (-want +got):\n%s", diff)
		}
		l.checkTable()
		conns := l.conns()
		if len(conns) < n {
			t.Errorf("Conns: %d entries after %d connections", len(conns), n)
		}
		for _, c := range conns {
			if c.Virtual != netip.AddrPortFrom(seed[0].cfg.Key.Addr, 80) || c.Client.Addr() != clientAddr || c.Template {
				t.Errorf("unexpected connection %+v", c)
			}
		}
		// Stats both ways: NAT sees the replies too.
		st := l.eventually(func(st []forward.ServiceStatus) bool { return st[0].Stats.Conns == n })
		if s := st[0].Stats; s.InPkts == 0 || s.OutPkts == 0 || s.Conns != n {
			t.Errorf("NAT counters %+v: want %d connections and packets both ways", s, n)
		}
	})

	t.Run("003 DR persistence, two services", func(t *testing.T) {
		l.t = t
		seed := loadSeed(t, "003-lvs1-dual-master.conf", nil)
		if len(seed) != 2 || seed[0].cfg.Persistence != 5*time.Second {
			t.Fatalf("seed 003: %+v", seed)
		}
		l.program(seed)
		l.checkConfig(seed, false)
		l.checkTable()
		for _, s := range seed {
			// persistence_timeout: one client stays on one real server.
			got := l.fetch(l.url(s), 6)
			if len(got) != 1 {
				t.Errorf("%v: a persistent client was spread over %v", s.cfg.Key, got)
			}
		}
		var tmpl int
		for _, c := range l.conns() {
			if c.Template {
				tmpl++
				if c.Client != netip.AddrPortFrom(clientAddr, 0) {
					t.Errorf("template %+v: want client %v:0", c, clientAddr)
				}
			}
		}
		if tmpl != 2 {
			t.Errorf("%d persistence templates, want one per service", tmpl)
		}
		// PersistConns (from the templates) against ipvsadm --persistent-conn.
		l.checkTable()
	})

	t.Run("granularity, ops, scheduler flags, fwmark, IPv6, thresholds", func(t *testing.T) {
		l.t = t
		v6 := netip.MustParseAddr("2001:db8::100")
		svcs := []seedService{
			{cfg: forward.ServiceConfig{Key: forward.ServiceKey{Addr: labVIPs[1], Port: 80, Proto: forward.TCP},
				Scheduler: "wlc", Persistence: 300 * time.Second, Granularity: 24, Method: forward.DR},
				reals: []forward.RealConfig{
					{Addr: labReals[0], Port: 80, Weight: 3, UThreshold: 100, LThreshold: 10},
					{Addr: labReals[1], Port: 8080, Weight: 1, Method: forward.NAT, MethodSet: true},
				}},
			{cfg: forward.ServiceConfig{Key: forward.ServiceKey{Addr: labVIPs[1], Port: 53, Proto: forward.UDP},
				Scheduler: "sh", SchedFlags: 0x18, OnePacket: true, Method: forward.NAT},
				reals: []forward.RealConfig{{Addr: labReals[0], Port: 53, Weight: 1}}},
			{cfg: forward.ServiceConfig{Key: forward.ServiceKey{Addr: netip.IPv4Unspecified(), FWMark: 7},
				Scheduler: "mh", SchedFlags: 0x8, Persistence: 20 * time.Second, Method: forward.TUN},
				reals: []forward.RealConfig{{Addr: labReals[1], Weight: 2}}},
			{cfg: forward.ServiceConfig{Key: forward.ServiceKey{Addr: v6, Port: 443, Proto: forward.TCP},
				Scheduler: "rr", Persistence: 30 * time.Second, Granularity: 64, Method: forward.NAT},
				reals: []forward.RealConfig{{Addr: netip.MustParseAddr("2001:db8::11"), Port: 443, Weight: 1}}},
		}
		l.program(svcs)
		l.checkConfig(svcs, false)
		l.checkTable()
		// The same through ipvsadm's save format, which spells out the flags.
		out := l.shell("ipvsadm -Sn")
		for _, want := range []string{
			"-A -t 198.18.0.101:80 -s wlc -p 300 -M 255.255.255.0",
			"-a -t 198.18.0.101:80 -r 198.18.0.11:80 -g -w 3",
			"-a -t 198.18.0.101:80 -r 198.18.0.12:8080 -m -w 1",
			"-A -u 198.18.0.101:53 -s sh -o -b sh-fallback,sh-port",
			"-A -f 7 -s mh -p 20 -b mh-fallback",
			"-a -f 7 -r 198.18.0.12:0 -i -w 2",
			"-A -t [2001:db8::100]:443 -s rr -p 30 -M 64",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("ipvsadm -Sn lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("lvs_sync_daemon both ways with the kernel", func(t *testing.T) {
		l.t = t
		seed := loadSeed(t, "000-dr-wrr-tcpcheck-sorry.conf", nil)
		l.program(seed)
		vip := seed[0].cfg.Key.Addr
		dir := t.TempDir()

		// The kernel as sync master: what it multicasts, captured in the
		// client's namespace, parses as ulvs reads it and names the
		// client's connections through the guest.
		capture := filepath.Join(dir, "kernel.sync")
		rx, err := l.client.Start(dir, "socat", "-u",
			"UDP4-RECV:8848,reuseaddr,ip-add-membership=224.0.0.81:"+clientAddr.String(), "OPEN:"+capture+",creat,append")
		if err != nil {
			t.Fatal(err)
		}
		defer rx.Stop(time.Second)
		l.shell("ipvsadm --start-daemon master --mcast-interface eth0 --syncid 5")
		defer l.shell("ipvsadm --stop-daemon master 2>/dev/null || true")
		time.Sleep(500 * time.Millisecond) // socat joined, the kernel thread runs
		l.fetch(l.url(seed[0]), 4)
		var got []syncmsg.Conn
		topotest.Eventually(t, 15*time.Second, "no sync message from the kernel names the client", func() bool {
			b, _ := os.ReadFile(capture)
			got = got[:0]
			for len(b) >= syncmsg.HeaderLen {
				size := int(b[2])<<8 | int(b[3])
				if size < syncmsg.HeaderLen || size > len(b) {
					break
				}
				var m syncmsg.Message
				if err := syncmsg.Parse(b[:size], &m); err != nil {
					t.Fatalf("a kernel sync message does not parse: %v\n%x", err, b[:size])
				}
				if m.SyncID != 5 {
					t.Fatalf("sync ID %d, want 5", m.SyncID)
				}
				got = append(got, m.Conns...)
				b = b[size:]
			}
			for _, c := range got {
				if c.CAddr == clientAddr && c.VAddr == vip && c.VPort == 80 && c.Proto == forward.TCP &&
					c.Flags&syncmsg.FwdMask == syncmsg.DRoute && (c.DAddr == labReals[0] || c.DAddr == labReals[1]) {
					return true
				}
			}
			return false
		})
		t.Logf("the kernel synced %d connections", len(got))
		l.shell("ipvsadm --stop-daemon master")

		// The kernel as sync backup: a connection ulvs encodes appears in
		// its table, on the named real server.
		l.shell("ipvsadm --start-daemon backup --mcast-interface eth0")
		defer l.shell("ipvsadm --stop-daemon backup 2>/dev/null || true")
		msg, err := syncmsg.Append(syncmsg.NewMessage(nil, 0), &syncmsg.Conn{Proto: forward.TCP,
			Flags: syncmsg.DRoute, State: 1, CAddr: clientAddr, CPort: 4242, VAddr: vip, VPort: 80,
			DAddr: labReals[1], DPort: 80, Timeout: 900})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "ulvs.sync")
		if err := os.WriteFile(file, msg, 0o644); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%v:4242", clientAddr)
		topotest.Eventually(t, 15*time.Second, "the kernel did not take the connection ulvs sent", func() bool {
			topotest.Run(t, l.client, "socat", "-u", "OPEN:"+file,
				"UDP4-DATAGRAM:224.0.0.81:8848,ip-multicast-if="+clientAddr.String()+",ip-multicast-ttl=1")
			for _, line := range strings.Split(l.shell("ipvsadm -Lnc"), "\n") {
				if strings.Contains(line, want) && strings.Contains(line, "ESTABLISHED") &&
					strings.Contains(line, fmt.Sprintf("%v:80", labReals[1])) {
					return true
				}
			}
			return false
		})
	})

	t.Run("lvs_sync_daemon through the backend", func(t *testing.T) {
		l.t = t
		l.call("ipvs.new", ipvs.Config{Flush: true}, nil)
		daemons := func() string { return strings.TrimSpace(l.shell("ipvsadm -L --daemon")) }
		cfg := forward.SyncConfig{Interface: "eth0", SyncID: 7, Port: 8848, TTL: 1, Group: syncmsg.Group4}
		l.call("ipvs.set_sync", syncArgs{Role: forward.SyncBackup, Cfg: cfg}, nil)
		if d := daemons(); !strings.Contains(d, "backup sync daemon (mcast=eth0, syncid=7") {
			t.Errorf("after SetSync(backup): ipvsadm -L --daemon says %q", d)
		}
		l.call("ipvs.set_sync", syncArgs{Role: forward.SyncMaster, Cfg: cfg}, nil)
		if d := daemons(); !strings.Contains(d, "master sync daemon (mcast=eth0, syncid=7") || strings.Contains(d, "backup") {
			t.Errorf("after SetSync(master): ipvsadm -L --daemon says %q", d)
		}
		l.call("ipvs.set_sync", syncArgs{Role: forward.SyncOff}, nil)
		if d := daemons(); d != "" {
			t.Errorf("after SetSync(off): ipvsadm -L --daemon says %q", d)
		}
		// Close stops a daemon the backend started, even one started a
		// moment ago (the backend lets it settle: stopped at once, the
		// kernel kept the request waiting 60 s).
		l.call("ipvs.set_sync", syncArgs{Role: forward.SyncMaster, Cfg: cfg}, nil)
		start := time.Now()
		l.call("ipvs.close", nil, nil)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Close took %v", d)
		}
		if d := daemons(); d != "" {
			t.Errorf("after Close: ipvsadm -L --daemon says %q", d)
		}
	})

	t.Run("SetVIP, timeouts, Close", func(t *testing.T) {
		l.t = t
		seed := loadSeed(t, "003-lvs1-dual-master.conf", nil)
		l.program(seed)
		vip := seed[0].cfg.Key.Addr
		l.call("ipvs.set_vip", vipArgs{Addr: vip, Enabled: false}, nil)
		if out := l.shell("cat /proc/net/ip_vs"); strings.Contains(out, hexAddr(vip)) {
			t.Errorf("a disabled VIP's service is still in the kernel:\n%s", out)
		}
		l.checkTable()
		var st []forward.ServiceStatus
		l.call("ipvs.services", nil, &st)
		if len(st) != 2 || st[0].Enabled || !st[1].Enabled || len(st[0].Reals) != 2 {
			t.Errorf("after disabling %v: %+v", vip, st)
		}
		l.call("ipvs.set_vip", vipArgs{Addr: vip, Enabled: true}, nil)
		l.checkConfig(seed, false)
		l.checkTable()

		l.call("ipvs.set_timeouts", forward.Timeouts{TCP: 901 * time.Second, UDP: 301 * time.Second}, nil)
		if out, want := l.shell("ipvsadm -L --timeout"), "Timeout (tcp tcpfin udp): 901 120 301"; !strings.Contains(out, want) {
			t.Errorf("ipvsadm -L --timeout: %q, want %q", out, want)
		}
		l.call("ipvs.set_timeouts", forward.Timeouts{TCP: 900 * time.Second, UDP: 300 * time.Second}, nil)

		l.call("ipvs.close", nil, nil)
		if out := l.shell("cat /proc/net/ip_vs"); strings.Count(out, "\n") != 3 {
			t.Errorf("after Close the kernel still holds services:\n%s", out)
		}
	})
}

// eventually polls Services until ok holds (or 10 s pass) and returns the
// last answer.
func (l *lab) eventually(ok func([]forward.ServiceStatus) bool) []forward.ServiceStatus {
	l.t.Helper()
	var st []forward.ServiceStatus
	testkit.Poll(10*time.Second, 100*time.Millisecond, func() bool {
		st = l.services()
		return len(st) > 0 && ok(st)
	})
	return st
}

func hexAddr(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("%02X%02X%02X%02X", b[0], b[1], b[2], b[3])
}
