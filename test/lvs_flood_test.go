package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestSYNFlood: a SYN flood from random sources, bounded in count, fills
// the bounded connection table without growing the daemon's memory beyond
// it, while a real client keeps being served.
func TestSYNFlood(t *testing.T) {
	t.Parallel()
	topotest.Require(t, "trafgen")
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	attacker := l.node("attacker", "198.18.0.66")
	dn := l.node("dir", "198.18.0.2")
	l.drReal("rs1", "198.18.0.11", "198.18.0.100")
	l.drReal("rs2", "198.18.0.12", "198.18.0.100")
	conf := `vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 61
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.18.0.100
    }
}
` + strings.SplitN(reloadConf(1, 1), "}\n", 2)[1]
	const maxConns = 20000
	d := l.ulvsd(dn, conf, "--max-conns", strconv.Itoa(maxConns))
	d.waitState("VI_1", "MASTER", 10*time.Second)
	waitReals(t, d, "198.18.0.11:80", "198.18.0.12:80")
	if b := curl(client, "http://198.18.0.100/"); b != "rs1" && b != "rs2" {
		t.Fatalf("no service before the flood: %q", b)
	}
	before := rssKiB(t, d.p.Pid())

	mac, err := dn.MAC("eth0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(l.dir, "syn.cfg")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{
  eth(da=%s),
  ipv4(saddr=drnd(), daddr=198.18.0.100, ttl=64),
  tcp(sp=drnd(), dp=80, syn, seq=drnd()),
}
`, mac)), 0o644)
	const synPackets = 200000
	flood, err := attacker.Start(l.dir, "trafgen", "-o", "eth0", "-i", cfg, "-n", strconv.Itoa(synPackets), "-q", "-t", "10us")
	if err != nil {
		t.Fatal(err)
	}
	floodStart := time.Now()
	// The real client is served all through the flood.
	served, tries := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ok, _ := flood.Exited(); ok {
			break
		}
		tries++
		// A request whose SYN is lost is retransmitted by TCP after 1 s (and
		// 3 s): give each the time a real client gives it.
		start := time.Now()
		b, err := topotest.Curl(client, 5*time.Second, "http://198.18.0.100/")
		if err == nil && (b == "rs1" || b == "rs2") {
			served++
		} else {
			t.Logf("request %d, %v into the flood, failed after %v: %q, %v", tries, start.Sub(floodStart).Round(time.Millisecond),
				time.Since(start).Round(time.Millisecond), b, err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the flood did not end within 60 s")
		}
	}
	if err := flood.Stop(time.Second); err != nil {
		t.Fatalf("trafgen: %v\n%s", err, flood.Log())
	}
	// One request may fail: three lost SYNs in a row (its own and TCP's
	// two retransmits) is bad luck on a loaded machine, not a pattern; a
	// table that refuses new clients (the early-drop regression this
	// guards) failed about one in a hundred, several per run.
	if tries == 0 || served < tries-1 {
		t.Errorf("during the flood %d of %d requests were served (at most one may fail)", served, tries)
	}
	// The table is bounded: never more entries than its size.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := dn.Output(ctx, l.bins.ulvsadm, "-Lnc", "--socket", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	entries := strings.Count(out, "\n") - 2
	after := rssKiB(t, d.p.Pid())
	t.Logf("%d SYNs from random sources: %d requests served of %d, %d table entries (max %d), RSS %d KiB -> %d KiB",
		synPackets, served, tries, entries, maxConns, before, after)
	if entries > maxConns {
		t.Errorf("%d connection entries, above the table's %d", entries, maxConns)
	}
	if entries < maxConns/2 {
		t.Errorf("only %d connection entries after %d SYNs: the flood did not reach the forwarder", entries, synPackets)
	}
	// Memory: the table's entries (about 111 B each) plus slack; the
	// daemon must not grow with the flood beyond that.
	if grow := after - before; grow > 64*1024 {
		t.Errorf("RSS grew by %d KiB under the flood (bound 64 MiB)", grow)
	}
	if b := curl(client, "http://198.18.0.100/"); b != "rs1" && b != "rs2" {
		t.Errorf("no service after the flood: %q", b)
	}
}
