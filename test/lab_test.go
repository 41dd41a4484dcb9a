package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// labCLI drives the ulvslab command as a person would, with a prefix and
// state directory of its own so that labs run side by side.
type labCLI struct {
	t        *testing.T
	bin      string
	prefix   string
	stateDir string
}

func newLabCLI(t *testing.T, name string) *labCLI {
	t.Helper()
	topotest.Require(t, "nginx", "nft", "ss")
	c := &labCLI{t: t, bin: topotest.Binary(t, "./cmd/ulvslab"), stateDir: t.TempDir(),
		prefix: fmt.Sprintf("ul%d%s-", os.Getpid()%100000, name)}
	// ulvslab finds ulvsd and ulvsadm beside itself.
	topotest.Binary(t, "./cmd/ulvsd")
	topotest.Binary(t, "./cmd/ulvsadm")
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"director1-ulvsd.log", "director2-ulvsd.log"} {
				if b, err := os.ReadFile(filepath.Join(c.stateDir, c.prefix, f)); err == nil {
					t.Logf("%s:\n%s", f, tail(string(b), 30))
				}
			}
		}
		// down is idempotent: after a passing test it finds nothing.
		if out, err := c.run("down"); err != nil {
			t.Errorf("ulvslab down: %v\n%s", err, out)
		}
		if left, _ := topo.Namespaces(c.prefix); len(left) > 0 {
			t.Errorf("namespaces left behind: %v", left)
		}
	})
	return c
}

// run runs `ulvslab --prefix P --state-dir D args...`.
func (c *labCLI) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--prefix", c.prefix, "--state-dir", c.stateDir}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *labCLI) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("ulvslab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var tallyLine = regexp.MustCompile(`(?m)^\s{4}(\S+)\s+(\d+)\s`)

// curlTally runs `ulvslab curl N` and reads its tally.
func (c *labCLI) curlTally(n int, extra ...string) (map[string]int, error) {
	out, err := c.run(append([]string{"curl", strconv.Itoa(n)}, extra...)...)
	got := map[string]int{}
	for _, m := range tallyLine.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.Atoi(m[2])
		got[m[1]] = v
	}
	if err != nil {
		return got, fmt.Errorf("%w\n%s", err, out)
	}
	return got, nil
}

// labState is the part of the lab's state file the tests read.
type labState struct {
	Nodes []struct {
		Name  string
		NS    string
		Procs map[string]struct{ Pid int }
	}
}

func (c *labCLI) state() labState {
	c.t.Helper()
	var s labState
	b, err := os.ReadFile(filepath.Join(c.stateDir, c.prefix, "state.json"))
	if err != nil {
		c.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// checkGone checks that down removed the namespaces, the state and every
// process the lab had recorded.
func (c *labCLI) checkGone(s labState) {
	c.t.Helper()
	if left, _ := topo.Namespaces(c.prefix); len(left) > 0 {
		c.t.Errorf("namespaces left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(c.stateDir, c.prefix)); !errors.Is(err, os.ErrNotExist) {
		c.t.Errorf("state directory left: %v", err)
	}
	for _, n := range s.Nodes {
		for kind, p := range n.Procs {
			topotest.Eventually(c.t, 5*time.Second, fmt.Sprintf("%s's %s (pid %d) still runs", n.Name, kind, p.Pid), func() bool {
				return !topo.PidInNamespace(p.Pid, n.NS) && syscall.Kill(p.Pid, 0) != nil
			})
		}
	}
}

// checkPcaps reads every pcap the trace wrote.
func checkPcaps(t *testing.T, dir string, want int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcapng"))
	if len(files) != want {
		t.Fatalf("trace wrote %v, want %d pcaps", files, want)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewNgReader(fh, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n := 0
		for {
			if _, _, err := r.ReadPacketData(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("%s: %v", f, err)
				}
				break
			}
			n++
		}
		fh.Close()
		// The handshake, the request, the answer and the close.
		if n < 5 {
			t.Errorf("%s holds %d frames, want the whole connection", f, n)
		}
	}
}

// TestLabModes runs `ulvslab up / curl / trace / down` in each mode, the
// three labs side by side.
func TestLabModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode  string
		trace []string // lines the trace must print
	}{
		{"dr", []string{"→ DR: dst MAC director1→rs", "→ DR: rs", "the answer never passes the director"}},
		{"nat", []string{"→ NAT: dst 198.18.0.100:80 → 198.18.1.1", "→ NAT: src 198.18.1.1", "director1 forwards the answer"}},
		{"tun", []string{"→ TUN: outer IPIP director1→rs", "proto 4 (IPIP", "→ TUN: rs"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			c := newLabCLI(t, tc.mode)
			c.must("up", "--mode", tc.mode, "--servers", "2")
			got, err := c.curlTally(10)
			if err != nil || got["rs1"] != 5 || got["rs2"] != 5 {
				t.Fatalf("10 requests through rr: %v, %v; want 5 each", got, err)
			}
			dir := t.TempDir()
			out := c.must("trace", "--out", dir)
			for _, want := range tc.trace {
				if !strings.Contains(out, want) {
					t.Errorf("the trace lacks %q:\n%s", want, out)
				}
			}
			checkPcaps(t, dir, 3)
			st := c.state()
			switch tc.mode {
			case "nat":
				// The real servers' gateway is a VRRP address: it moves with
				// the VIP, so NAT replies follow the new master.
				c.must("fail", "director1")
				start := time.Now()
				topotest.Eventually(t, failoverBound+failoverMargin, "no answer through director2", func() bool {
					_, err := c.curlTally(1)
					return err == nil
				})
				t.Logf("NAT answered through director2 %v after director1 died", time.Since(start).Round(time.Millisecond))
				if got, err := c.curlTally(6); err != nil || got["rs1"]+got["rs2"] != 6 {
					t.Fatalf("after the failover: %v, %v", got, err)
				}
				c.must("heal")
				c.must("down")
			case "tun":
				// A crashed `up` leaves no state file: down still finds the
				// lab by its namespaces' names.
				if err := os.Remove(filepath.Join(c.stateDir, c.prefix, "state.json")); err != nil {
					t.Fatal(err)
				}
				c.must("down")
			default:
				c.must("down")
			}
			c.checkGone(st)
		})
	}
}

// The demo's bounds, again here with their margins: a real server leaves
// the table within the checker bound, the backup takes over within
// 3 × advert_int + skew.
const (
	failoverBound  = 4 * time.Second
	failoverMargin = 4 * time.Second
)

// TestLabUserConfig maps the user's DR pair (001, master and backup files)
// onto the lab with the built-in HTTP server, and reaches its sorry server
// when both real servers are down.
func TestLabUserConfig(t *testing.T) {
	t.Parallel()
	c := newLabCLI(t, "cfg")
	seeds := topotest.SeedDir(t)
	out := c.must("up", "--http", "builtin", "--config", filepath.Join(seeds, "001-lvs-dr-master.conf"),
		"--config", filepath.Join(seeds, "001-lvs-dr-backup.conf"))
	for _, want := range []string{"192.168.166.100    → 198.18.0.100", "127.0.0.1          → 198.18.0.20"} {
		if !strings.Contains(out, want) {
			t.Errorf("up does not say it mapped %q:\n%s", want, out)
		}
	}
	if got, err := c.curlTally(4); err != nil || got["rs1"] != 2 || got["rs2"] != 2 {
		t.Fatalf("4 requests: %v, %v", got, err)
	}
	c.must("fail", "rs1", "rs2")
	// 001's checkers: connect_timeout 1 + nb_get_retry 3 × 1 + delay_loop 6
	// = 10 s, plus a margin of 5 s.
	topotest.Eventually(t, 15*time.Second, "the sorry server never answered", func() bool {
		got, _ := c.curlTally(1)
		return got["sorry"] == 1
	})
	status := c.must("status")
	if !strings.Contains(status, "[FAILED: http]") {
		t.Errorf("status does not show the failures:\n%s", status)
	}
	c.must("heal")
	if got, err := c.curlTally(4); err != nil || got["rs1"] != 2 || got["rs2"] != 2 {
		t.Fatalf("after heal: %v, %v", got, err)
	}
	st := c.state()
	c.must("down")
	c.checkGone(st)
}

// TestLabDemo runs `make demo`'s scenario: every step checks itself.
func TestLabDemo(t *testing.T) {
	t.Parallel()
	c := newLabCLI(t, "demo")
	out, err := c.run("demo", "--seeds", topotest.SeedDir(t), "--trace-out", t.TempDir())
	if err != nil || !strings.Contains(out, "demo passed: every step held") {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	t.Logf("demo:\n%s", tail(out, 3))
	if left, _ := topo.Namespaces(c.prefix); len(left) > 0 {
		t.Errorf("the demo left namespaces: %v", left)
	}
}
