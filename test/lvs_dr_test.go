package test

import (
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// drMap maps the user's 001 DR pair onto the lab. The sorry server stays
// the seed's own 127.0.0.1:80: a web server on each director, reached by
// local delivery (IPVS's LOCALNODE).
var drMap = []string{
	"192.168.166.100", "198.18.0.100", // VIP
	"192.168.166.129", "198.18.0.11", // rs1
	"192.168.166.131", "198.18.0.12", // rs2
}

// TestSeedDRPair is the user's main scenario end to end: two directors
// running ulvsd with 001-lvs-dr-master.conf and 001-lvs-dr-backup.conf, two
// nginx real servers with the VIP on lo, a client with curl.
func TestSeedDRPair(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	d1n := l.node("dir1", "198.18.0.2")
	d2n := l.node("dir2", "198.18.0.3")
	rs1 := l.drReal("rs1", "198.18.0.11", "198.18.0.100")
	rs2 := l.drReal("rs2", "198.18.0.12", "198.18.0.100")
	// The sorry page on each director, listening on every address as a
	// director's web server does.
	l.nginx(d1n, "sorry")
	l.nginx(d2n, "sorry")

	d1 := l.ulvsd(d1n, seed(t, "001-lvs-dr-master.conf", drMap...))
	d2 := l.ulvsd(d2n, seed(t, "001-lvs-dr-backup.conf", drMap...))
	d1.waitState("VI_1", "MASTER", 10*time.Second)
	d2.waitState("VI_1", "BACKUP", 10*time.Second)
	waitReals(t, d1, "198.18.0.11:80", "198.18.0.12:80")

	// rr alternates between the two real servers.
	const vip = "http://198.18.0.100/"
	var seq []string
	for range 20 {
		seq = append(seq, curl(client, vip))
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] || (seq[i] != "rs1" && seq[i] != "rs2") {
			t.Fatalf("rr must alternate rs1 and rs2, got %v", seq)
		}
	}
	// ulvsadm shows both real servers with their counts.
	stats := d1.mustAdm("-Ln", "--stats")
	for _, rs := range []string{"198.18.0.11:80", "198.18.0.12:80"} {
		if conns := statsConns(stats, rs); conns != 10 {
			t.Errorf("ulvsadm -Ln --stats: %s has %d connections, want 10\n%s", rs, conns, stats)
		}
	}

	// nginx stops on rs1: its checker takes it out within connect_timeout
	// (1) + retry (3) × delay_before_retry (1) + delay_loop (6) = 10 s.
	start := time.Now()
	rs1.nginx.Kill()
	topotest.Eventually(t, 10*time.Second+3*time.Second, "rs1 was not removed within the checker bound", func() bool {
		return !strings.Contains(d1.mustAdm("-Ln"), "198.18.0.11:80")
	})
	t.Logf("rs1 removed %v after nginx stopped (bound 10 s)", time.Since(start).Round(time.Millisecond))
	if got := tally(client, vip, 6); got["rs2"] != 6 {
		t.Errorf("with rs1 down every request must reach rs2, got %v", got)
	}

	// The master director dies (process killed, link cut): the backup
	// holds the VIP within 3 × advert_int + skew ((256-90)/256 s) and
	// requests continue. The wait allows 3 s beyond that for a loaded
	// machine (each poll forks ulvsadm in the namespace); the time taken
	// is logged.
	waitReals(t, d2, "198.18.0.12:80")
	d1.p.Kill()
	topotest.Run(t, d1n, "ip", "link", "set", "eth0", "down")
	start = time.Now()
	d2.waitState("VI_1", "MASTER", 3*time.Second+648*time.Millisecond+3*time.Second)
	t.Logf("dir2 became master %v after dir1 died", time.Since(start).Round(time.Millisecond))
	topotest.Eventually(t, 5*time.Second, "requests did not continue through dir2", func() bool {
		return curl(client, vip) == "rs2"
	})

	// Both real servers down: the director's own sorry server answers,
	// shown as Local in the table.
	rs2.nginx.Kill()
	topotest.Eventually(t, 13*time.Second, "the sorry server never answered", func() bool {
		return curl(client, vip) == "sorry"
	})
	if tab := d2.mustAdm("-Ln"); !strings.Contains(tab, "  -> 127.0.0.1:80                 Local   1") {
		t.Errorf("the sorry server is not listed as Local:\n%s", tab)
	}
}
