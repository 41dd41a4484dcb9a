package test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

func syncConf(state string, prio int) string {
	return fmt.Sprintf(`global_defs {
    router_id sync-test
    lvs_sync_daemon eth0 VI_1 id 9
}
vrrp_instance VI_1 {
    state %s
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 1
    virtual_ipaddress {
        198.18.0.100
    }
}
virtual_server 198.18.0.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 198.18.0.12 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`, state, prio)
}

// clientConn returns the real server of the client's connection in the
// director's table ("" when it has none).
func clientConn(d *daemon) string {
	for _, line := range strings.Split(d.mustAdm("-Lnc"), "\n") {
		if f := strings.Fields(line); len(f) >= 6 && strings.HasPrefix(f[3], "198.18.0.1:") {
			return f[5]
		}
	}
	return ""
}

// TestSyncFailover: lvs_sync_daemon keeps a download alive across a
// director failover. The master syncs the connection to the backup (its
// table shows it, bound to the same real server, before any failover);
// the master dies mid-transfer; the backup takes the VIP, and the client's
// next packets — not SYNs, which a director without the entry drops —
// reach the same real server, so the download finishes whole.
func TestSyncFailover(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	d1n := l.node("dir1", "198.18.0.2")
	d2n := l.node("dir2", "198.18.0.3")
	// 2 MiB sent at 256 KiB/s by nginx (the server paces it: a client-side
	// limit would let the whole file sit in the client's socket buffer
	// early, and the failover would change nothing).
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17)
	for i, a := range []string{"198.18.0.11", "198.18.0.12"} {
		l.drRealServing(fmt.Sprintf("rs%d", i+1), a, []string{"198.18.0.100"},
			topo.NginxConfig{LimitRate: "256k", Files: map[string][]byte{"/big": big}})
	}
	d1 := l.ulvsd(d1n, syncConf("MASTER", 150))
	d2 := l.ulvsd(d2n, syncConf("BACKUP", 100), "--metrics", "127.0.0.1:9651")
	d1.waitState("VI_1", "MASTER", 10*time.Second)
	d2.waitState("VI_1", "BACKUP", 10*time.Second)
	waitReals(t, d1, "198.18.0.11:80", "198.18.0.12:80")
	waitReals(t, d2, "198.18.0.11:80", "198.18.0.12:80")

	dl := l.download(client, "http://198.18.0.100/big")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("download: %s\ndir2 status:\n%s\ndir2 connections:\n%s", dl.Log(), d2.mustAdm("status"), d2.mustAdm("-Lnc"))
		}
	})
	var real string
	topotest.Eventually(t, 5*time.Second, "the download never showed in the master's table", func() bool {
		real = clientConn(d1)
		return real != ""
	})
	topotest.Eventually(t, 5*time.Second, "the backup never received the connection", func() bool {
		return clientConn(d2) == real
	})
	if st := d2.mustAdm("status"); !strings.Contains(st, "lvs_sync_daemon: backup on eth0 (instance VI_1)") {
		t.Errorf("the backup's status:\n%s", st)
	}

	// The master dies mid-transfer.
	d1.p.Kill()
	topotest.Run(t, d1n, "ip", "link", "set", "eth0", "down")
	d2.waitState("VI_1", "MASTER", 10*time.Second)
	wantDownload(t, dl, len(big), 45*time.Second, "failover")
	if st := d2.mustAdm("status"); !strings.Contains(st, "lvs_sync_daemon: master on eth0") {
		t.Errorf("the new master's status:\n%s", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	metrics, err := d2n.Output(ctx, "curl", "-sS", "http://127.0.0.1:9651/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^ulvs_sync_role 1$`, `(?m)^ulvs_sync_connections_total\{event="received"\} [1-9]`,
		`(?m)^ulvs_sync_messages_total\{direction="refused"\} 0$`} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("the new master's metrics do not match %s:\n%s", re, grepLines(metrics, "ulvs_sync"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
