package vrrp

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFailoverTimings runs two nodes on an in-memory LAN under
// testing/synctest and checks the takeover times to the microsecond: kill
// -9 of the master (its cable cut, no priority 0) → the backup is master
// 3 × advert + skew after the last advert it heard; graceful stop → skew
// after the priority 0 advert; and the higher priority preempts back.
func TestFailoverTimings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version int
		adv     time.Duration
		// skewB and downB are the backup's (priority 100) skew and master
		// down interval.
		skewB, downB time.Duration
	}{
		{"v2 advert_int 1", 2, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v3 advert_int 0.1", 3, 100 * time.Millisecond, 60937 * time.Microsecond, 360937 * time.Microsecond},
	}
	for _, tc := range tests {
		for _, graceful := range []bool{false, true} {
			name := tc.name + " crash"
			if graceful {
				name = tc.name + " graceful"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					lan, ha, hb := pair(t)
					clock := clockAdverts(lan)
					mk := func(prio int) Config {
						return Config{Instances: []Instance{inst("VI_1", 51, prio, func(i *Instance) {
							i.Version, i.AdvertInt = tc.version, tc.adv
							i.AuthType, i.AuthPass = AuthPass, "1111"
						})}}
					}
					a := startNode(t, ha, nil, mk(150))
					b := startNode(t, hb, nil, mk(100))
					time.Sleep(10 * tc.adv)
					synctest.Wait()
					if a.state("VI_1") != StateMaster || b.state("VI_1") != StateBackup {
						t.Fatalf("states a=%v b=%v, want MASTER/BACKUP", a.state("VI_1"), b.state("VI_1"))
					}
					if !ha.HasAddress(vip) || hb.HasAddress(vip) {
						t.Fatalf("VIP on a=%v b=%v, want a only", ha.HasAddress(vip), hb.HasAddress(vip))
					}
					var from time.Time
					var want time.Duration
					if graceful {
						from, want = time.Now(), tc.skewB
						a.stop()
					} else {
						ha.SetCable(false)
						from, want = clock.at(hostA), tc.downB
					}
					time.Sleep(5 * tc.adv)
					synctest.Wait()
					ev, ok := b.lastEvent("VI_1")
					if !ok || ev.State != StateMaster {
						t.Fatalf("b's last event %+v, want MASTER", ev)
					}
					if got := ev.Time.Sub(from); got != want {
						t.Errorf("b became master %v after the last advert, want exactly %v", got, want)
					}
					if !hb.HasAddress(vip) {
						t.Error("b does not hold the VIP")
					}
					if graceful {
						if ha.HasAddress(vip) {
							t.Error("a kept the VIP after a graceful stop")
						}
						if st := b.n.Status().Instances[0].Stats; st.PriZeroRcvd != 1 {
							t.Errorf("b counted %d priority 0 adverts, want 1", st.PriZeroRcvd)
						}
						// Bring a back: the higher priority preempts.
						a = startNode(t, ha, nil, mk(150))
					} else {
						ha.SetCable(true) // a is still master: both masters meet
					}
					time.Sleep(10 * tc.adv)
					synctest.Wait()
					if a.state("VI_1") != StateMaster || b.state("VI_1") != StateBackup {
						t.Errorf("after a returns: a=%v b=%v, want MASTER/BACKUP", a.state("VI_1"), b.state("VI_1"))
					}
					if !ha.HasAddress(vip) || hb.HasAddress(vip) {
						t.Errorf("VIP on a=%v b=%v, want a only", ha.HasAddress(vip), hb.HasAddress(vip))
					}
				})
			})
		}
	}
}

// TestMasterAdvertsEveryInterval checks the master's cadence is exact and
// that a hanging track script (killed at its timeout) does not delay it.
func TestMasterAdvertsEveryInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lan, ha, _ := pair(t)
		var mu sync.Mutex
		var sent []time.Time
		lan.Tap(func(_ *MemHost, p *Packet) {
			mu.Lock()
			sent = append(sent, time.Now())
			mu.Unlock()
		})
		fs := &fakeScripts{}
		fs.get("check").set(true, 10*time.Second) // hangs far past its 2 s timeout
		startNode(t, ha, fs, Config{
			Scripts:   []Script{{Name: "chk", Argv: []string{"check"}, Interval: 2 * time.Second, Timeout: 2 * time.Second, Weight: -10}},
			Instances: []Instance{inst("VI_1", 51, 255, func(i *Instance) { i.State = StateMaster; i.TrackScripts = []TrackRef{{Name: "chk"}} })},
		})
		time.Sleep(20 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(sent) < 10 {
			t.Fatalf("%d adverts in 20 s", len(sent))
		}
		for i := 1; i < len(sent); i++ {
			if d := sent[i].Sub(sent[i-1]); d != time.Second {
				t.Fatalf("advert %d came %v after the previous one, want 1s", i, d)
			}
		}
	})
}

// TestTrackScriptMovesVIP is the user's nginx scenario (seed
// 001-nginx-vrrp-script: vrrp_script "killall -0 nginx" interval 1 weight
// -15 fall 2 rise 1; VI_1 vrid 66 prio 100 MASTER / 90 BACKUP) against the
// in-memory LAN: when nginx stops on the master its priority falls to 85
// and the VIP moves after fall × interval plus the backup's down timer;
// the notify scripts get the states.
func TestTrackScriptMovesVIP(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, hb := pair(t)
		v := netip.MustParseAddr("198.18.166.100")
		mk := func(state State, prio int) Config {
			return Config{
				Global: Global{McastGroup4: netip.MustParseAddr("224.24.1.1")},
				Scripts: []Script{{Name: "nginx", Argv: []string{"killall", "-0", "nginx", "&&", "exit", "0", "||", "exit", "1"},
					Interval: time.Second, Weight: -15, Fall: 2, Rise: 1}},
				Instances: []Instance{{Name: "VI_1", State: state, Interface: "eth0", VRID: 66, Priority: prio,
					AdvertInt: time.Second, AuthType: AuthPass, AuthPass: "111111",
					VIPs:         []VIP{{Prefix: netip.PrefixFrom(v, 24), Dev: "eth0"}},
					TrackScripts: []TrackRef{{Name: "nginx"}},
					NotifyMaster: &Notify{Argv: []string{"notify.sh", "master"}},
					NotifyBackup: &Notify{Argv: []string{"notify.sh", "backup"}},
					Notify:       &Notify{Argv: []string{"generic"}},
				}},
			}
		}
		fa, fb := &fakeScripts{}, &fakeScripts{}
		a := startNode(t, ha, fa, mk(StateMaster, 100))
		b := startNode(t, hb, fb, mk(StateBackup, 90))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster || !ha.HasAddress(v) || hb.HasAddress(v) {
			t.Fatalf("a=%v b=%v; VIP a=%v b=%v", a.state("VI_1"), b.state("VI_1"), ha.HasAddress(v), hb.HasAddress(v))
		}
		stopped := time.Now()
		const nginxCheck = "killall -0 nginx && exit 0 || exit 1"
		fa.get(nginxCheck).set(false, 0) // nginx stops on a
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if b.state("VI_1") != StateMaster || a.state("VI_1") != StateBackup || !hb.HasAddress(v) || ha.HasAddress(v) {
			t.Fatalf("after nginx stopped: a=%v b=%v; VIP a=%v b=%v", a.state("VI_1"), b.state("VI_1"), ha.HasAddress(v), hb.HasAddress(v))
		}
		if st := a.n.Status().Instances[0]; st.EffectivePriority != 85 {
			t.Errorf("a's effective priority %d, want 100-15", st.EffectivePriority)
		}
		// fall 2 at interval 1: failed by the second failing run (≤ 2 s),
		// then b (90) discards a's adverts (85) and takes over after its
		// down timer (3 s + 166/256 s).
		ev, _ := b.lastEvent("VI_1")
		if d := ev.Time.Sub(stopped); d > 2*time.Second+3648438*time.Microsecond {
			t.Errorf("VIP moved %v after nginx stopped, want ≤ 2 s + 3.648 s", d)
		}
		// notify_master / notify_backup get their configured arguments only.
		if got := len(fa.get("notify.sh master").Calls()); got != 1 {
			t.Errorf("a's notify_master ran %d times, want 1", got)
		}
		if got := fa.get("notify.sh backup").Calls(); len(got) != 2 || got[0] != "" {
			t.Errorf("a's notify_backup calls %q, want two without extra arguments", got)
		}
		gotA := fa.get("generic").Calls()
		wantA := []string{"INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100", "INSTANCE VI_1 BACKUP 85"}
		if diff := cmp.Diff(wantA, gotA); diff != "" {
			t.Errorf("a's generic notify calls (-want +got):\n%s", diff)
		}
		gotB := fb.get("generic").Calls()
		wantB := []string{"INSTANCE VI_1 BACKUP 90", "INSTANCE VI_1 MASTER 90"}
		if diff := cmp.Diff(wantB, gotB); diff != "" {
			t.Errorf("b's generic notify calls (-want +got):\n%s", diff)
		}
		// nginx back on a: 85 → 100 and a preempts again.
		fa.get(nginxCheck).set(true, 0)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != StateMaster || !ha.HasAddress(v) || hb.HasAddress(v) {
			t.Errorf("after nginx restarted: a=%v b=%v", a.state("VI_1"), b.state("VI_1"))
		}
	})
}
