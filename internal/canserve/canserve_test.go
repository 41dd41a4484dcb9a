package canserve

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

type verdict struct {
	OK      bool
	Reasons []string
}

// TestHysteresis: a failure is reported after FailAfter rounds, a recovery
// after ClearAfter rounds; a single bad or good round changes nothing.
func TestHysteresis(t *testing.T) {
	t.Parallel()
	bad := ""
	var got []verdict
	m := New(Config{FailAfter: 2, ClearAfter: 3,
		Probes:   []Probe{ProbeFunc{ProbeName: "forwarder", Fn: func() string { return bad }}},
		OnChange: func(ok bool, rs []string) { got = append(got, verdict{ok, rs}) }})
	for _, b := range []string{"", "stopped", "", "stopped", "stopped", "stopped again", "", "", "stopped", "", "", ""} {
		bad = b
		m.Round()
	}
	want := []verdict{{false, []string{"forwarder: stopped"}}, {true, nil}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	if ok, rs := m.Status(); !ok || rs != nil {
		t.Errorf("status %v %v", ok, rs)
	}
}

// TestTableProbe: a full table fails only while it refuses connections.
func TestTableProbe(t *testing.T) {
	t.Parallel()
	c := TableCounts{Entries: 10, Capacity: 100}
	p := Table("connections", func() TableCounts { return c })
	if why := p.Check(); why != "" {
		t.Errorf("not full: %q", why)
	}
	c.Entries = 100 // full, evicting, nothing refused
	if why := p.Check(); why != "" {
		t.Errorf("full without refusals: %q", why)
	}
	c.Refused = 7
	if why := p.Check(); !strings.Contains(why, "7 new connections refused") {
		t.Errorf("full and refusing: %q", why)
	}
	if why := p.Check(); why != "" {
		t.Errorf("no new refusals: %q", why)
	}
}

func TestErrProbe(t *testing.T) {
	t.Parallel()
	var err error
	p := Err("forwarder", func() error { return err })
	if p.Check() != "" {
		t.Error("no error must pass")
	}
	err = errors.New("worker 0 stopped: receive failed")
	if p.Check() != "worker 0 stopped: receive failed" {
		t.Errorf("got %q", p.Check())
	}
}

// TestSocketsProbe: with no descriptor left the probe fails, naming
// EMFILE and the limit. It runs in a child process: the limit is the
// process's.
func TestSocketsProbe(t *testing.T) {
	if os.Getenv("CANSERVE_EXHAUST") == "1" {
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		lim.Cur = 64
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		var held []int
		for {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err != nil {
				break
			}
			held = append(held, fd)
		}
		why := Sockets().Check()
		if !strings.Contains(why, "too many open files") || !strings.Contains(why, "descriptor limit 64") {
			t.Fatalf("exhausted: %q", why)
		}
		unix.Close(held[0])
		if why := Sockets().Check(); why != "" {
			t.Fatalf("one free: %q", why)
		}
		return
	}
	t.Parallel()
	if why := Sockets().Check(); why != "" {
		t.Fatalf("with descriptors to spare: %q", why)
	}
	out, err := runSelf(t, "TestSocketsProbe", "CANSERVE_EXHAUST=1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
