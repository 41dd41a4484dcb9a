package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// These tests run ulvsd with keepalived.conf keywords whose effect is on
// the host: the effect is looked at in the namespaces, not in ulvsd's own
// account of it.

// ipIn runs ip in a node and returns its output.
func ipIn(t *testing.T, n *topo.Node, args ...string) string {
	t.Helper()
	return topotest.Run(t, n, "ip", args...)
}

// exited waits for ulvsd to end after a signal.
func (d *daemon) exited(timeout time.Duration) {
	d.l.t.Helper()
	topotest.Eventually(d.l.t, timeout, "ulvsd did not exit", func() bool { ok, _ := d.p.Exited(); return ok })
}

// TestNetNamespace: ulvsd started in one namespace with net_namespace
// naming another runs wholly inside the other, as keepalived does: its
// instance owns the VIP there, the namespace it was started in never sees
// it, and it leaves with ulvsd. A namespace that does not exist is an error
// at its line for -t and for the daemon.
func TestNetNamespace(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	launch := l.node("launch", "198.18.0.9")
	dn := l.node("dir", "198.18.0.2")
	cfg := func(ns string) string {
		return fmt.Sprintf(`global_defs {
    router_id netns
    net_namespace %s
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 81
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.18.0.100/24
    }
}
`, ns)
	}
	d := l.ulvsd(launch, cfg(dn.NS))
	d.waitState("VI_1", "MASTER", 10*time.Second)
	topotest.Eventually(t, 5*time.Second, "the VIP is not in the namespace net_namespace names", func() bool {
		return strings.Contains(ipIn(t, dn, "addr", "show", "eth0"), "198.18.0.100/24")
	})
	if out := ipIn(t, launch, "addr"); strings.Contains(out, "198.18.0.100") {
		t.Errorf("the VIP is in the namespace ulvsd was started in:\n%s", out)
	}
	if !topo.PidInNamespace(d.p.Pid(), dn.NS) {
		t.Errorf("ulvsd (pid %d) does not run in %s", d.p.Pid(), dn.NS)
	}
	d.signal("TERM")
	d.exited(10 * time.Second)
	if out := ipIn(t, dn, "addr", "show", "eth0"); strings.Contains(out, "198.18.0.100") {
		t.Errorf("the VIP stayed after ulvsd stopped:\n%s", out)
	}

	missing := filepath.Join(l.dir, "missing.conf")
	if err := os.WriteFile(missing, []byte(cfg("ulvs-no-such-ns")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-t", "-f", missing}, {"-n", "-l", "-f", missing, "--control", filepath.Join(l.dir, "m.sock"),
		"-p", filepath.Join(l.dir, "m.pid"), "-r", filepath.Join(l.dir, "m-vrrp.pid"), "-c", filepath.Join(l.dir, "m-check.pid")}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := launch.Output(ctx, l.bins.ulvsd, args...)
		cancel()
		if err != nil {
			out += err.Error() // the command's output is in the error
		}
		if err == nil || !strings.Contains(out, "missing.conf:3: error: net_namespace ulvs-no-such-ns") {
			t.Errorf("ulvsd %v with a missing namespace: %v\n%s", args[0], err, out)
		}
	}
}

// TestStartupShutdownScripts: startup_script runs before anything starts
// (it makes the interface the instance runs on), shutdown_script after
// everything stopped (the VIP is gone when it runs; it removes the
// interface).
func TestStartupShutdownScripts(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	dn := l.node("dir", "198.18.0.2")
	if err := os.Chmod(l.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(l.dir, "lifecycle.log")
	script := func(name, body string) string {
		p := filepath.Join(l.dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	up := script("up.sh", "ip link add vs0 type veth peer name vs1 && ip link set vs1 up && ip link set vs0 up && "+
		"ip addr add 198.18.60.1/24 dev vs0 && echo up >> "+logf)
	down := script("down.sh", "echo \"down vip=$(ip -o addr show dev vs0 | grep -c 198.18.60.100)\" >> "+logf+"; ip link del vs0")
	d := l.ulvsd(dn, fmt.Sprintf(`global_defs {
    router_id lifecycle
    enable_script_security
    script_user root
    startup_script %s
    shutdown_script %s
    shutdown_script_timeout 5
}
vrrp_instance VI_1 {
    state MASTER
    interface vs0
    virtual_router_id 82
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.18.60.100/24
    }
}
`, up, down))
	d.waitState("VI_1", "MASTER", 10*time.Second)
	topotest.Eventually(t, 5*time.Second, "the VIP is not on the interface startup_script made", func() bool {
		return strings.Contains(ipIn(t, dn, "addr", "show", "vs0"), "198.18.60.100/24")
	})
	d.signal("TERM")
	d.exited(15 * time.Second)
	b, _ := os.ReadFile(logf)
	if got := strings.TrimSpace(string(b)); got != "up\ndown vip=0" {
		t.Errorf("lifecycle log %q, want startup then shutdown after the VIP left", got)
	}
	if out := ipIn(t, dn, "link"); strings.Contains(out, "vs0") {
		t.Errorf("shutdown_script did not run to its end:\n%s", out)
	}
}

// TestHostKeywords is one director running ulvsd with a keepalived.conf
// that uses static_ipaddress, vrrp_track_process, no_accept and an
// HTTP_GET regex, and looks at each effect from outside: the static
// address is on the interface, the no_accept VIP does not answer while the
// director's own address does, a real server whose page stops matching
// leaves the table, nginx dying puts the instance in FAULT, and stopping
// ulvsd removes the static address and the firewall table.
func TestHostKeywords(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	dn := l.node("dir", "198.18.0.2")
	rs := l.node("rs1", "198.18.0.11")
	nginxBin, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatal(err)
	}
	// The namespaces share one PID space: the director's nginx runs under
	// a name of its own, the name track_process matches.
	name := "ngxd" + strconv.Itoa(os.Getpid()%100000)
	bin := filepath.Join(l.dir, name)
	if err := os.Symlink(nginxBin, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dirNginx, err := dn.StartNginx(topo.NginxConfig{Dir: filepath.Join(l.dir, "dir-nginx"), Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	l.nginx(rs, "rs1", topo.NginxConfig{Files: map[string][]byte{"/status": []byte("state: up\n")}})
	d := l.ulvsd(dn, fmt.Sprintf(`global_defs {
    router_id hostkw
    nftables
}
static_ipaddress {
    198.18.50.1/24 dev eth0
}
vrrp_track_process web {
    process %s
    quorum 1
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 83
    priority 150
    advert_int 1
    no_accept
    virtual_ipaddress {
        198.18.0.100/24
    }
    track_process {
        web
    }
}
virtual_server 198.18.0.101 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 {
        HTTP_GET {
            url {
                path /status
                regex "^state: up$"
                regex_options multiline
            }
            connect_timeout 1
            retry 0
            delay_before_retry 1
        }
    }
}
`, name))
	d.waitState("VI_1", "MASTER", 10*time.Second)
	if out := ipIn(t, dn, "addr", "show", "eth0"); !strings.Contains(out, "198.18.50.1/24") {
		t.Errorf("static_ipaddress is not on eth0:\n%s", out)
	}
	if body := curl(client, "http://198.18.0.2/"); body != "dir" {
		t.Errorf("the director's own address: %q, want its page", body)
	}
	if body, err := topotest.Curl(client, 2*time.Second, "http://198.18.0.100/"); err == nil {
		t.Errorf("the no_accept VIP answered %q", body)
	}
	waitReals(t, d, "198.18.0.11:80")
	pages, _ := filepath.Glob(filepath.Join(l.dir, "rs1-nginx-*", "www", "status"))
	if len(pages) != 1 {
		t.Fatalf("rs1's status page: %v", pages)
	}
	if err := os.WriteFile(pages[0], []byte("state: down\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	topotest.Eventually(t, 10*time.Second, "the real server whose page stopped matching is still listed", func() bool {
		return !strings.Contains(d.mustAdm("-Ln"), "198.18.0.11:80")
	})
	dirNginx.Kill()
	d.waitState("VI_1", "FAULT", 5*time.Second)
	if out := ipIn(t, dn, "addr", "show", "eth0"); strings.Contains(out, "198.18.0.100") {
		t.Errorf("the VIP stayed in FAULT:\n%s", out)
	}
	d.signal("TERM")
	d.exited(15 * time.Second)
	if out := ipIn(t, dn, "addr", "show", "eth0"); strings.Contains(out, "198.18.50.1") {
		t.Errorf("the static address stayed after ulvsd stopped:\n%s", out)
	}
	if out := topotest.Run(t, dn, "nft", "list", "tables"); strings.Contains(out, "keepalived") {
		t.Errorf("the no_accept table stayed after ulvsd stopped:\n%s", out)
	}
}
