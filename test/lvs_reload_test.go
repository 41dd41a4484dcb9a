package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// reloadConf is one director's config: a DR service over two real servers
// with TCP checks, and the weight of each.
func reloadConf(w1, w2 int) string {
	return fmt.Sprintf(`global_defs {
    router_id reload-test
}
virtual_server 198.18.0.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 {
        weight %d
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 198.18.0.12 80 {
        weight %d
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`, w1, w2)
}

// TestReload: a weight changed through SIGHUP keeps a long transfer alive
// and only steers new connections; a broken config on SIGHUP changes
// nothing and is reported with its file:line.
func TestReload(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	dn := l.node("dir", "198.18.0.2")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for i, a := range []string{"198.18.0.11", "198.18.0.12"} {
		// The server paces the download (a client-side limit would let
		// the whole file sit in the client's socket buffer at once).
		l.drRealServing(fmt.Sprintf("rs%d", i+1), a, []string{"198.18.0.100"},
			topo.NginxConfig{LimitRate: "256k", Files: map[string][]byte{"/big": big}})
	}
	// No VRRP here: the VIP is on the director by hand, as keepalived users
	// without an instance do.
	topotest.Run(t, dn, "ip", "addr", "add", "198.18.0.100/32", "dev", "eth0")
	d := l.ulvsd(dn, reloadConf(1, 1))
	waitReals(t, d, "198.18.0.11:80", "198.18.0.12:80")

	// A slow download (about 4 s at 256 KiB/s), on whichever server rr
	// picked.
	dl := l.download(client, "http://198.18.0.100/big")
	var busy string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("download: %s\nconnections:\n%s", dl.Log(), d.mustAdm("-Lnc"))
		}
	})
	topotest.Eventually(t, 5*time.Second, "the download never showed in the connection table", func() bool {
		c := d.mustAdm("-Lnc")
		for _, line := range strings.Split(c, "\n") {
			// The download is the client's only connection; its state
			// depends on how far it got when the table is read.
			if strings.Contains(line, " 198.18.0.1:") {
				f := strings.Fields(line)
				busy = strings.TrimSuffix(f[len(f)-1], ":80")
				return true
			}
		}
		return false
	})
	other := map[string]string{"198.18.0.11": "rs2", "198.18.0.12": "rs1"}[busy]

	// Quiesce the busy server by reload: weight 0.
	w1, w2 := 0, 1
	if busy == "198.18.0.12" {
		w1, w2 = 1, 0
	}
	if err := os.WriteFile(d.conf, []byte(reloadConf(w1, w2)), 0o644); err != nil {
		t.Fatal(err)
	}
	d.signal("HUP")
	topotest.Eventually(t, 5*time.Second, "the reload did not set weight 0", func() bool {
		for _, line := range strings.Split(d.mustAdm("-Ln"), "\n") {
			if f := strings.Fields(line); len(f) > 3 && f[1] == busy+":80" {
				return f[3] == "0"
			}
		}
		return false
	})
	// New connections avoid the quiesced server...
	if got := tally(client, "http://198.18.0.100/", 5); got[other] != 5 {
		t.Errorf("after the reload every new request must go to %s, got %v", other, got)
	}
	// ...and the transfer that was running finishes whole.
	wantDownload(t, dl, len(big), 20*time.Second, "reload")

	// A broken config changes nothing.
	before := d.mustAdm("-Ln")
	// keepalived reads an unknown scheduler or a missing brace with a
	// warning and runs; an instance without its router id is an error.
	broken := reloadConf(1, 1) + "vrrp_instance VI_X {\n    virtual_router_id 300\n"
	if err := os.WriteFile(d.conf, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	d.signal("HUP")
	topotest.Eventually(t, 5*time.Second, "the refused reload was not reported", func() bool {
		return strings.Contains(d.p.Log(), "reload refused")
	})
	if after := d.mustAdm("-Ln"); after != before {
		t.Errorf("a broken config changed the table:\n%s\nbecame\n%s", before, after)
	}
	for _, want := range []string{d.conf + ":22", "(VI_X) the virtual router id must be set"} {
		if !strings.Contains(d.p.Log(), want) {
			t.Errorf("the log does not name %q", want)
		}
	}
	if st := d.mustAdm("status"); !strings.Contains(st, "last error: reload refused") {
		t.Errorf("ulvsadm status does not show the refused reload:\n%s", st)
	}
	if got := curl(client, "http://198.18.0.100/"); got != "rs1" && got != "rs2" {
		t.Errorf("forwarding stopped after a refused reload: %q", got)
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestMetrics scrapes /metrics and checks its numbers against the traffic
// sent and the daemon's state.
func TestMetrics(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	dn := l.node("dir", "198.18.0.2")
	l.drReal("rs1", "198.18.0.11", "198.18.0.100")
	l.drReal("rs2", "198.18.0.12", "198.18.0.100")
	conf := `vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.18.0.100
    }
}
` + strings.SplitN(reloadConf(1, 1), "}\n", 2)[1]
	d := l.ulvsd(dn, conf, "--metrics", "127.0.0.1:9650")
	d.waitState("VI_1", "MASTER", 10*time.Second)
	waitReals(t, d, "198.18.0.11:80", "198.18.0.12:80")
	const n = 12
	for range n {
		if b := curl(client, "http://198.18.0.100/"); b != "rs1" && b != "rs2" {
			t.Fatalf("request failed: %q", b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := dn.Output(ctx, "curl", "-sS", "http://127.0.0.1:9650/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`ulvs_service_connections_total{service="TCP 198.18.0.100:80"} %d`, n),
		fmt.Sprintf(`ulvs_real_server_connections_total{real_server="198.18.0.11:80",service="TCP 198.18.0.100:80"} %d`, n/2),
		fmt.Sprintf(`ulvs_real_server_connections_total{real_server="198.18.0.12:80",service="TCP 198.18.0.100:80"} %d`, n/2),
		`ulvs_service_enabled{service="TCP 198.18.0.100:80"} 1`,
		`ulvs_vrrp_state{iname="VI_1",intf="eth0",vrid="51"} 2`,
		`ulvs_vrrp_become_master_total{iname="VI_1",intf="eth0",vrid="51"} 1`,
		`ulvs_vrrp_checksum_errors_total{iname="VI_1",intf="eth0",vrid="51"} 0`,
		`ulvs_checker_up{real_server="[198.18.0.11]:80",service="[198.18.0.100]:tcp:80",target="[198.18.0.11]:80",type="TCP_CHECK"} 1`,
		`ulvs_connection_table_capacity{table="connections"} 1.048576e+06`,
		`ulvs_forward_dropped_packets_total{reason="table_full"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Packets in: at least the SYN, request and ACKs of every connection.
	var inPkts float64
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `ulvs_service_packets_total{direction="in",service="TCP 198.18.0.100:80"}`) {
			fmt.Sscan(strings.Fields(line)[1], &inPkts)
		}
	}
	if inPkts < 4*n {
		t.Errorf("ulvs_service_packets_total in = %v, want at least %d for %d connections", inPkts, 4*n, n)
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", out)
	}
}

// TestRuntimeEditsUntilReload: edits in ipvsadm's syntax apply at once and
// last until the next reload, which puts the configuration back, as with
// keepalived and ipvsadm.
func TestRuntimeEditsUntilReload(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	dn := l.node("dir", "198.18.0.2")
	l.drReal("rs1", "198.18.0.11", "198.18.0.100")
	l.drReal("rs2", "198.18.0.12", "198.18.0.100")
	l.drReal("rs3", "198.18.0.13", "198.18.0.100")
	topotest.Run(t, dn, "ip", "addr", "add", "198.18.0.100/32", "dev", "eth0")
	d := l.ulvsd(dn, reloadConf(1, 1))
	waitReals(t, d, "198.18.0.11:80", "198.18.0.12:80")
	// The table without its connection counts, which traffic changes.
	table := func() string {
		var b strings.Builder
		for _, line := range strings.Split(d.mustAdm("-Ln"), "\n") {
			f := strings.Fields(line)
			if len(f) == 6 && f[0] == "->" {
				f = f[:4]
			}
			b.WriteString(strings.Join(f, " ") + "\n")
		}
		return b.String()
	}
	configured := table()

	// Add rs3 by hand and quiesce rs1: only rs2 and rs3 take new requests.
	d.mustAdm("-a", "-t", "198.18.0.100:80", "-r", "198.18.0.13:80", "-g", "-w", "1")
	d.mustAdm("-e", "-t", "198.18.0.100:80", "-r", "198.18.0.11:80", "-g", "-w", "0")
	got := tally(client, "http://198.18.0.100/", 6)
	if got["rs2"] != 3 || got["rs3"] != 3 {
		t.Errorf("after the edits, want rs2 and rs3 three times each, got %v", got)
	}
	// -Z zeroes the counters ulvsadm shows.
	d.mustAdm("-Z")
	if c := statsConnsService(d.mustAdm("-Ln", "--stats"), "TCP  198.18.0.100:80"); c != 0 {
		t.Errorf("after -Z the service shows %d connections", c)
	}
	// A service added by hand, and a bad edit refused with ipvsadm's words.
	d.mustAdm("-A", "-t", "198.18.0.100:8080", "-s", "rr")
	if _, err := d.adm("-d", "-t", "198.18.0.100:80", "-r", "198.18.0.99:80"); err == nil {
		t.Error("deleting a real server that does not exist was accepted")
	}

	// The reload puts the configuration back.
	d.signal("HUP")
	topotest.Eventually(t, 10*time.Second, "the reload did not replace the runtime edits", func() bool {
		return table() == configured
	})

	if got := tally(client, "http://198.18.0.100/", 4); got["rs1"] != 2 || got["rs2"] != 2 {
		t.Errorf("after the reload, want rs1 and rs2 twice each, got %v", got)
	}
}
