package vrrp

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/testkit"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// nginxSeed is one of the user's nginx documents mapped into the lab: the
// seed's VRIDs, priorities, weights, intervals, fall/rise; interface eth0;
// VIPs moved into 198.18.0.0/24.
type nginxSeed struct {
	name string
	// global is the seed's global_defs (mapped).
	global Global
	// script is the seed's vrrp_script with its check replaced by one for
	// this node's nginx (see nginxCheck).
	script Script
	// n1, n2 are the two nodes' VI_1 (state, priority).
	n1State, n2State State
	n1Prio, n2Prio   int
	vrid             int
	pass             string
	// moves says whether stopping nginx on n1 must move the VIP to n2.
	moves bool
	// wantPrio is n1's effective priority with nginx stopped.
	wantPrio int
}

// nginxCheck is the lab's stand-in for the seeds' checks ("killall -0
// nginx", /etc/keepalived/check_nginx_auto_pull.sh, /root/nginx_check.sh):
// the namespaces share one PID space, so "killall -0 nginx" would see the
// other node's nginx; this checks this node's nginx by its pid file, with
// the same shell operators the user's line has.
func nginxCheck(dir string) []string {
	return strings.Fields("kill -0 $(cat " + filepath.Join(dir, "nginx.pid") + ") && exit 0 || exit 1")
}

var nginxSeeds = []nginxSeed{
	{
		// 001-nginx-vrrp-script.conf: weight -15, interval 1, fall 2, rise
		// 1; VI_1 vrid 66 MASTER 100 (the backup, from the document's
		// second node, BACKUP 90); vrrp_mcast_group4 224.24.1.1.
		name:    "001-nginx-vrrp-script",
		global:  Global{RouterID: "CentOS7.3", McastGroup4: netip.MustParseAddr("224.24.1.1")},
		script:  Script{Name: "nginx", Interval: time.Second, Weight: -15, Fall: 2, Rise: 1},
		n1State: StateMaster, n1Prio: 100, n2State: StateBackup, n2Prio: 90, vrid: 66, pass: "111111",
		moves: true, wantPrio: 85,
	},
	{
		// 003-nginx-server1/2.conf: check_nginx_alive interval 3 weight 1;
		// VI_1 vrid 51 MASTER 100 on server1, BACKUP 80 on server2. A weight
		// of 1 cannot bridge 100 vs 80: nginx stopping on server1 only takes
		// its priority from 101 to 100, and the VIP stays.
		name:    "003-nginx-server1-2",
		global:  Global{RouterID: "keep_101"},
		script:  Script{Name: "check_nginx_alive", Interval: 3 * time.Second, Weight: 1},
		n1State: StateMaster, n1Prio: 100, n2State: StateBackup, n2Prio: 80, vrid: 51, pass: "1111",
		moves: false, wantPrio: 100,
	},
	{
		// 004-nginx-check.conf: check_nginx interval 2 weight -5, "user root
		// root"; VI_1 vrid 51 MASTER 100. The document has no second node;
		// the lab's backup has 98, between 95 and 100, so the weight moves
		// the VIP.
		name:    "004-nginx-check",
		global:  Global{RouterID: "LVS_DEVEL"},
		script:  Script{Name: "check_nginx", Interval: 2 * time.Second, Weight: -5, User: "root", Group: "root"},
		n1State: StateMaster, n1Prio: 100, n2State: StateBackup, n2Prio: 98, vrid: 51, pass: "1111",
		moves: true, wantPrio: 95,
	},
}

// TestNginxScenario is the user's nginx-behind-VRRP story on two ulvs
// nodes, each with its own nginx: a vrrp_script checks nginx, stopping
// nginx on the master lowers its priority and (where the weights allow)
// the VIP moves, and the notify scripts receive the states.
func TestNginxScenario(t *testing.T) {
	t.Parallel()
	for _, sd := range nginxSeeds {
		t.Run(sd.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, "n1", "n2")
			topotest.Require(t, "nginx", "curl")
			v := netip.MustParseAddr("198.18.0.100")
			nginx := map[string]*topo.Proc{}
			nodes := map[string]*ulvs{}
			notes := map[string]string{}
			for _, name := range []string{"n1", "n2"} {
				dir := t.TempDir()
				if err := os.Chmod(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				p, err := l.nodes[name].StartNginx(topo.NginxConfig{Dir: dir})
				if err != nil {
					t.Fatal(err)
				}
				nginx[name] = p
				notes[name] = filepath.Join(dir, "notify.log")
				note := testkit.WriteScript(t, dir, "notify.sh", `echo "$*" >> `+notes[name])
				s := sd.script
				s.Argv = nginxCheck(dir)
				state, prio := sd.n1State, sd.n1Prio
				if name == "n2" {
					state, prio = sd.n2State, sd.n2Prio
				}
				nodes[name] = l.startULVS(name, Config{Global: sd.global, Scripts: []Script{s}, Instances: []Instance{{
					Name: "VI_1", State: state, Interface: "eth0", VRID: sd.vrid, Priority: prio, AdvertInt: time.Second,
					AuthType: AuthPass, AuthPass: sd.pass, VIPs: []VIP{{Prefix: netip.PrefixFrom(v, 24), Dev: "eth0"}},
					TrackScripts: []TrackRef{{Name: s.Name}},
					NotifyMaster: &Notify{Argv: []string{note, "MASTER"}},
					NotifyBackup: &Notify{Argv: []string{note, "BACKUP"}},
					NotifyFault:  &Notify{Argv: []string{note, "FAULT"}},
				}}})
			}
			client := l.nodes["client"]
			l.waitHolder("n1", v, 15*time.Second)
			body, err := topotest.Curl(client, 2*time.Second, "http://198.18.0.100/")
			if err != nil || body != "n1" {
				t.Fatalf("VIP serves %q (%v), want n1", body, err)
			}
			topotest.Eventually(t, 5*time.Second, "notify_master did not run on n1", func() bool {
				return strings.Contains(readFile(notes["n1"]), "MASTER")
			})

			stopped := time.Now()
			_ = nginx["n1"].Stop(5 * time.Second)
			topotest.Eventually(t, 2*sd.script.Interval*time.Duration(max(sd.script.Fall, 1))+5*time.Second,
				"n1's priority did not drop", func() bool {
					return nodes["n1"].Status().Instances[0].EffectivePriority == sd.wantPrio
				})
			if !sd.moves {
				// Three script intervals: the priority drops, the VIP stays.
				time.Sleep(3 * sd.script.Interval)
				if h := l.holders(v); len(h) != 1 || h[0] != "n1" {
					t.Errorf("holders %v, want [n1]: weight %d cannot move the VIP", h, sd.script.Weight)
				}
				return
			}
			// fall × interval to notice, then n2's master down timer.
			fall := max(sd.script.Fall, 1)
			bound := time.Duration(fall)*sd.script.Interval + 3*time.Second +
				time.Duration((256-sd.n2Prio)*1000000/256)*time.Microsecond + time.Second + loadMargin
			l.waitHolder("n2", v, bound)
			t.Logf("VIP moved %v after nginx stopped (bound %v)", time.Since(stopped).Round(time.Millisecond), bound)
			// The client follows n2's gratuitous ARP; on a loaded machine
			// that may come a moment after the address.
			topotest.Eventually(t, 5*time.Second, "the VIP does not serve n2's page", func() bool {
				body, err = topotest.Curl(client, 2*time.Second, "http://198.18.0.100/")
				return err == nil && body == "n2"
			})
			topotest.Eventually(t, 5*time.Second, "notify scripts did not get the new states", func() bool {
				return strings.HasSuffix(strings.TrimSpace(readFile(notes["n1"])), "BACKUP") &&
					strings.HasSuffix(strings.TrimSpace(readFile(notes["n2"])), "MASTER")
			})
		})
	}
}

// TestSeedScriptLineKeepalivedVsULVS records what keepalived 2.2.7 does
// with the user's script line "killall -0 nginx && exit 0 || exit 1": it
// resolves killall by PATH and execs it with the operators as process
// names, so the check fails (exit 1) although nginx runs, and the priority
// drops by the weight for good. ulvs runs such a line through /bin/sh,
// which is what the user means: with nginx running it succeeds.
func TestSeedScriptLineKeepalivedVsULVS(t *testing.T) {
	t.Parallel()
	l := newLab(t, "k", "u")
	topotest.Require(t, "nginx", "killall")
	if _, err := l.nodes["k"].StartNginx(topo.NginxConfig{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	const line = "killall -0 nginx && exit 0 || exit 1"
	k := l.startKeepalived("k", `vrrp_script nginx {
  script "`+line+`"
  interval 1
  weight -15
  fall 2
  rise 1
}
`+kaInstance{Name: "VI_1", State: "MASTER", Iface: "eth0", VRID: 66, Prio: 100, Advert: "1",
		VIPs: []string{"198.18.0.100/24"}, Extra: "  track_script {\n    nginx\n  }\n"}.String())
	u := l.startULVS("u", Config{
		Scripts: []Script{{Name: "nginx", Argv: strings.Fields(line), Interval: time.Second, Weight: -15, Fall: 2, Rise: 1}},
		Instances: []Instance{{Name: "VI_1", State: StateMaster, Interface: "eth0", VRID: 67, Priority: 100,
			VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/24")}}, TrackScripts: []TrackRef{{Name: "nginx"}}}},
	})
	// keepalived logs the failure and then, in a later line, the priority
	// change: wait for the verdict (either outcome), not just the first line.
	topotest.Eventually(t, 10*time.Second, "keepalived did not report the script's effect", func() bool {
		log := k.proc.Log()
		return strings.Contains(log, "effective priority from 100 to 85") ||
			strings.Contains(log, "VRRP_Script(nginx) succeeded")
	})
	log := k.proc.Log()
	if !strings.Contains(log, "VRRP_Script(nginx) failed") || !strings.Contains(log, "effective priority from 100 to 85") {
		t.Errorf("keepalived 2.2.7 no longer fails the line as execve'd killall; its log:\n%s", tail(log, 20))
	}
	topotest.Eventually(t, 10*time.Second, "ulvs did not report the script as OK", func() bool {
		st := u.Status().Instances[0]
		return len(st.Trackers) == 1 && st.Trackers[0].Status == "OK" && st.EffectivePriority == 100
	})
}
