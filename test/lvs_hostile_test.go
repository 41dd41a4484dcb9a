package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestFloodHelper is the flooder TestMetricsFlood runs as nobody inside
// the director's namespace: it opens FLOOD_N connections to FLOOD_ADDR
// (every other one sends a keep-alive request and then idles, the rest
// send nothing), prints how many it holds, and holds them until killed.
func TestFloodHelper(t *testing.T) {
	if !topotest.InReexec("TestFloodHelper") {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("FLOOD_N"))
	addr := os.Getenv("FLOOD_ADDR")
	var mu sync.Mutex
	var held []net.Conn
	var wg sync.WaitGroup
	next := make(chan int)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
				if err != nil {
					continue
				}
				if i%2 == 0 {
					fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	fmt.Printf("HELD %d\n", len(held))
	time.Sleep(time.Hour)
}

// fdCount is how many descriptors a process has open.
func fdCount(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// startAsNobody runs this test binary's helper fn as user nobody in n.
func startAsNobody(t *testing.T, l *lab, n *topo.Node, fn string, env ...string) *topo.Proc {
	t.Helper()
	// The test binary sits in a private build directory: copy it where
	// nobody may run it.
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	exe := filepath.Join(dir, "helper.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil || os.WriteFile(exe, b, 0o755) != nil {
		t.Fatalf("copy the test binary: %v", err)
	}
	args := []string{"--reuid=65534", "--regid=65534", "--clear-groups", "env", "ULVS_REEXEC=" + fn}
	args = append(append(args, env...), exe, "-test.run=^"+fn+"$")
	p, err := n.Start(l.dir, "setpriv", args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// TestMetricsFlood: an unprivileged local user opens thousands of
// connections to the metrics port and holds them. The director keeps its
// descriptors for its checkers: no real server is taken out and every
// request through the VIP is answered, while ulvsadm still gets answers
// and the metrics themselves come back once the flood ends. Without a cap
// on the listener the flood took every descriptor, the checkers failed
// with "too many open files", every real server was deleted and the VIP
// answered nothing while the director stayed master.
func TestMetricsFlood(t *testing.T) {
	t.Parallel()
	topotest.Require(t, "setpriv", "prlimit")
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	dn := l.node("dir", "198.18.0.2")
	l.drReal("rs1", "198.18.0.11", "198.18.0.100")
	l.drReal("rs2", "198.18.0.12", "198.18.0.100")
	conf := `vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 71
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
	// A director's limit, scaled down so that a few thousand connections
	// reach it (the machine: 20,000 of 20,000).
	const limit = 2048
	topotest.Run(t, dn, "prlimit", "--pid", strconv.Itoa(d.p.Pid()), fmt.Sprintf("--nofile=%d:%d", limit, limit))
	before := fdCount(d.p.Pid())

	flood := startAsNobody(t, l, dn, "TestFloodHelper", "FLOOD_ADDR=127.0.0.1:9650", "FLOOD_N=6000")
	topotest.Eventually(t, 60*time.Second, "the flooder never reported", func() bool {
		return strings.Contains(flood.Log(), "HELD ")
	})
	t.Logf("flooder: %s", strings.TrimSpace(lastLine(flood.Log())))
	// Requests through the VIP for longer than a checker needs to take a
	// real server out (delay_loop 1, connect_timeout 1).
	failed, sent := 0, 0
	peak := 0
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); {
		sent++
		if b := curl(client, "http://198.18.0.100/"); b != "rs1" && b != "rs2" {
			failed++
			t.Logf("request %d failed: %q", sent, b)
		}
		peak = max(peak, fdCount(d.p.Pid()))
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("during the flood: %d of %d requests answered; ulvsd's descriptors %d before, at most %d during (limit %d)",
		sent-failed, sent, before, peak, limit)
	if failed > 0 {
		t.Errorf("%d of %d requests through the VIP failed during the flood", failed, sent)
	}
	out := d.mustAdm("-Ln")
	for _, r := range []string{"198.18.0.11:80", "198.18.0.12:80"} {
		if !strings.Contains(out, r) {
			t.Errorf("the flood took %s out of the table:\n%s", r, out)
		}
	}
	if peak > before+200 {
		t.Errorf("ulvsd went from %d to %d descriptors under the flood", before, peak)
	}
	if st := d.state("VI_1"); st != "MASTER" {
		t.Errorf("VI_1 is %s", st)
	}
	flood.Kill()
	// The metrics answer again once the flood is gone.
	topotest.Eventually(t, 40*time.Second, "metrics never answered after the flood", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m, err := dn.Output(ctx, "curl", "-sS", "--max-time", "4", "http://127.0.0.1:9650/metrics")
		return err == nil && strings.Contains(m, "ulvs_checker_up")
	})
}

// TestCannotServeFailover: a director that can no longer open sockets
// (its descriptors exhausted) gives up mastership: its instance goes to
// FAULT, the backup takes the VIP within the failover bound and answers;
// when descriptors are back the director returns and, with the higher
// priority, takes over again. keepalived (and ulvs before) stayed master
// with a dead VIP.
func TestCannotServeFailover(t *testing.T) {
	t.Parallel()
	topotest.Require(t, "prlimit")
	l := newLab(t)
	client := l.node("client", "198.18.0.1")
	d1n := l.node("dir1", "198.18.0.2")
	d2n := l.node("dir2", "198.18.0.3")
	l.drReal("rs1", "198.18.0.11", "198.18.0.100")
	l.drReal("rs2", "198.18.0.12", "198.18.0.100")
	conf := func(state string, prio int) string {
		return fmt.Sprintf(`vrrp_instance VI_1 {
    state %s
    interface eth0
    virtual_router_id 72
    priority %d
    advert_int 1
    virtual_ipaddress {
        198.18.0.100
    }
}
`, state, prio) + strings.SplitN(reloadConf(1, 1), "}\n", 2)[1]
	}
	d1 := l.ulvsd(d1n, conf("MASTER", 150))
	d2 := l.ulvsd(d2n, conf("BACKUP", 100))
	d1.waitState("VI_1", "MASTER", 10*time.Second)
	d2.waitState("VI_1", "BACKUP", 10*time.Second)
	waitReals(t, d1, "198.18.0.11:80", "198.18.0.12:80")
	waitReals(t, d2, "198.18.0.11:80", "198.18.0.12:80")

	// Not one descriptor more for director1: the limit below what it
	// holds (a checker's socket, open for a moment, takes a number above
	// the long-lived ones; when it closes it frees no number below the
	// limit).
	pid := strconv.Itoa(d1.p.Pid())
	n := fdCount(d1.p.Pid())
	start := time.Now()
	topotest.Run(t, d1n, "prlimit", "--pid", pid, fmt.Sprintf("--nofile=%d:%d", n-4, 20000))
	d2.waitState("VI_1", "MASTER", 10*time.Second)
	took := time.Since(start)
	t.Logf("director2 master %v after director1 ran out of descriptors", took.Round(time.Millisecond))
	// Detection (2 rounds of 1 s) + the FAULT master's priority 0 advert
	// + skew, with a second of slack for a loaded machine.
	if took > 5*time.Second {
		t.Errorf("failover took %v, bound 5 s", took)
	}
	for _, want := range []string{"this director cannot serve", "cannot open a socket", "too many open files"} {
		if !strings.Contains(d1.p.Log(), want) {
			t.Errorf("director1's log lacks %q", want)
		}
	}
	for i := range 5 {
		if b := curl(client, "http://198.18.0.100/"); b != "rs1" && b != "rs2" {
			t.Errorf("request %d through the backup: %q", i, b)
		}
	}
	// Descriptors back: director1 serves again and preempts.
	topotest.Run(t, d1n, "prlimit", "--pid", pid, "--nofile=20000:20000")
	d1.waitState("VI_1", "MASTER", 20*time.Second)
	if !strings.Contains(d1.p.Log(), "this director can serve again") {
		t.Error("director1 did not log its recovery")
	}
	waitReals(t, d1, "198.18.0.11:80", "198.18.0.12:80")
	if b := curl(client, "http://198.18.0.100/"); b != "rs1" && b != "rs2" {
		t.Errorf("request after the recovery: %q", b)
	}
	sc := bufio.NewScanner(strings.NewReader(d1.mustAdm("status")))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "cannot serve") {
			t.Errorf("ulvsadm status after the recovery: %s", sc.Text())
		}
	}
}
