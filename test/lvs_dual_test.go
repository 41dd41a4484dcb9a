package test

import (
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// swapRoles gives the second director of a dual-master pair its config:
// the same file with each instance's state and priority exchanged, as the
// user's documents describe the other node.
func swapRoles(conf string, hi, lo string) string {
	r := strings.NewReplacer("state MASTER", "state BACKUP", "state BACKUP", "state MASTER",
		"priority "+hi, "priority "+lo, "priority "+lo, "priority "+hi)
	return r.Replace(conf)
}

// TestDualMaster brings up the user's dual-master LVS pairs: two VIPs, one
// master each, both forwarding.
func TestDualMaster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		conf1      func(t *testing.T) string
		conf2      func(t *testing.T) string
		vip1, vip2 string
		reals      []string
	}{
		{
			name: "001-lvs-dr-dual-master",
			conf1: func(t *testing.T) string {
				return seed(t, "001-lvs-dr-dual-master.conf", dualMap001...)
			},
			conf2: func(t *testing.T) string {
				return swapRoles(seed(t, "001-lvs-dr-dual-master.conf", dualMap001...), "100", "90")
			},
			vip1: "198.18.0.100", vip2: "198.18.0.200", reals: []string{"198.18.0.11", "198.18.0.12"},
		},
		{
			name: "003-lvs1-dual-master with 003-lvs2-instances",
			conf1: func(t *testing.T) string {
				return seed(t, "003-lvs1-dual-master.conf", dualMap003...)
			},
			conf2: func(t *testing.T) string {
				// 003's second node lists only its instances ("the LVS part is
				// the same"): its virtual servers are lvs1's.
				lvs1 := seed(t, "003-lvs1-dual-master.conf", dualMap003...)
				return seed(t, "003-lvs2-instances.conf", dualMap003...) + "\n" + lvs1[strings.Index(lvs1, "virtual_server"):]
			},
			vip1: "198.18.0.131", vip2: "198.18.0.132", reals: []string{"198.18.0.111", "198.18.0.112"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			client := l.node("client", "198.18.0.1")
			d1 := l.ulvsd(l.node("dir1", "198.18.0.2"), tc.conf1(t))
			d2 := l.ulvsd(l.node("dir2", "198.18.0.3"), tc.conf2(t))
			for i, a := range tc.reals {
				l.drReal("rs"+string(rune('1'+i)), a, tc.vip1, tc.vip2)
			}
			d1.waitState("VI_1", "MASTER", 10*time.Second)
			d2.waitState("VI_2", "MASTER", 10*time.Second)
			d1.waitState("VI_2", "BACKUP", 5*time.Second)
			d2.waitState("VI_1", "BACKUP", 5*time.Second)
			for _, vip := range []string{tc.vip1, tc.vip2} {
				topotest.Eventually(t, 15*time.Second, vip+" is not forwarded", func() bool {
					b := curl(client, "http://"+vip+"/")
					return b == "rs1" || b == "rs2"
				})
			}
			// Each VIP's traffic goes through its own master: the other
			// director forwards none of it.
			served := func(d *daemon, vip string) int {
				return statsConnsService(d.mustAdm("-Ln", "--stats"), "TCP  "+vip+":80")
			}
			for range 4 {
				curl(client, "http://"+tc.vip1+"/")
				curl(client, "http://"+tc.vip2+"/")
			}
			if served(d1, tc.vip1) < 4 || served(d2, tc.vip2) < 4 || served(d1, tc.vip2) != 0 || served(d2, tc.vip1) != 0 {
				t.Errorf("dir1 served %d of %s and %d of %s; dir2 %d and %d: each VIP must go through its master only",
					served(d1, tc.vip1), tc.vip1, served(d1, tc.vip2), tc.vip2, served(d2, tc.vip1), served(d2, tc.vip2))
			}
		})
	}
}

var dualMap001 = []string{
	"192.168.166.100", "198.18.0.100", "192.168.166.200", "198.18.0.200",
	"192.168.166.129", "198.18.0.11", "192.168.166.131", "198.18.0.12",
}

var dualMap003 = []string{
	"interface enp0s8", "interface eth0",
	"192.168.56.131", "198.18.0.131", "192.168.56.132", "198.18.0.132",
	"192.168.56.111", "198.18.0.111", "192.168.56.112", "198.18.0.112",
}

// statsConnsService reads a service's Conns column from ulvsadm --stats.
func statsConnsService(stats, service string) int {
	for _, l := range strings.Split(stats, "\n") {
		if strings.HasPrefix(l, service+" ") {
			f := strings.Fields(l)
			if len(f) >= 3 {
				var n int
				for _, c := range f[2] {
					if c < '0' || c > '9' {
						return -1
					}
					n = n*10 + int(c-'0')
				}
				return n
			}
		}
	}
	return -1
}
