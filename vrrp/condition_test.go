package vrrp

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestConditionMovesMaster: a program condition that fails takes the
// master out (FAULT with weight 0, a lower priority with a negative
// weight), the backup takes over within its master down interval, and the
// master comes back when the condition holds again.
func TestConditionMovesMaster(t *testing.T) {
	t.Parallel()
	for _, weight := range []int{0, -60} {
		synctest.Test(t, func(t *testing.T) {
			_, ha, hb := pair(t)
			a := startNode(t, ha, nil, Config{Instances: []Instance{inst("VI_1", 51, 150)}})
			b := startNode(t, hb, nil, Config{Instances: []Instance{inst("VI_1", 51, 100)}})
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if a.state("VI_1") != StateMaster || b.state("VI_1") != StateBackup {
				t.Fatalf("a=%v b=%v", a.state("VI_1"), b.state("VI_1"))
			}
			a.n.SetCondition(Condition{Name: "ulvs_can_serve", Failed: true, Reason: "the forwarder stopped", Weight: weight,
				Instances: []string{"VI_1"}})
			// Master down interval: 3 x 1 s + skew; a FAULT master also
			// sends priority 0, which is faster.
			time.Sleep(4 * time.Second)
			synctest.Wait()
			want := StateFault
			if weight != 0 {
				want = StateBackup
			}
			if a.state("VI_1") != want || b.state("VI_1") != StateMaster {
				t.Fatalf("weight %d: a=%v b=%v, want %v and MASTER", weight, a.state("VI_1"), b.state("VI_1"), want)
			}
			if !ha.HasAddress(vip) == !hb.HasAddress(vip) || ha.HasAddress(vip) {
				t.Errorf("the VIP is on a=%v b=%v", ha.HasAddress(vip), hb.HasAddress(vip))
			}
			ts := a.n.Status().Instances[0].Trackers
			if len(ts) != 1 || ts[0].Kind != "condition" || !strings.Contains(ts[0].Status, "the forwarder stopped") {
				t.Errorf("tracking shown: %+v", ts)
			}
			a.n.SetCondition(Condition{Name: "ulvs_can_serve", Weight: weight, Instances: []string{"VI_1"}})
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if a.state("VI_1") != StateMaster || b.state("VI_1") != StateBackup {
				t.Errorf("after the condition held again: a=%v b=%v", a.state("VI_1"), b.state("VI_1"))
			}
		})
	}
}

// TestConditionScope: a condition applies only to the instances it names,
// and one set before Run takes effect at start.
func TestConditionScope(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, ha, _ := pair(t)
		cfg := Config{Instances: []Instance{inst("VI_1", 51, 150), inst("VI_2", 52, 150)}}
		tn := startNode(t, ha, nil, cfg, func(n *Node) {
			n.SetCondition(Condition{Name: "c", Failed: true, Reason: "r", Instances: []string{"VI_2"}})
		})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if tn.state("VI_1") != StateMaster || tn.state("VI_2") != StateFault {
			t.Errorf("VI_1=%v VI_2=%v, want MASTER and FAULT", tn.state("VI_1"), tn.state("VI_2"))
		}
	})
}
