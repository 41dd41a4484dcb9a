package procstat

import (
	"os"
	"path/filepath"
	"testing"
)

// A /proc tree of a test's own: the figures come from the files, in the
// units the callers use (seconds, bytes), guest time not counted twice,
// and a command name with spaces and parentheses does not shift the
// fields.
func TestReader(t *testing.T) {
	root := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// user nice system idle iowait irq softirq steal guest guest_nice, in
	// ticks of 1/100 s; guest (30) is already in user (100).
	write("stat", "cpu  100 5 50 800 40 3 2 0 30 0\ncpu0 50 2 25 400 20 1 1 0 15 0\nbtime 1700000000\n")
	write("4242/stat", "4242 (ulvs d) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 321 123 0 0 20 0 9 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
	write("4242/status", "Name:\tulvsd\nState:\tS (sleeping)\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t9\n")
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Machine()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Machine{Busy: 1.60, Total: 10.00}); !near(m.Busy, want.Busy) || !near(m.Total, want.Total) {
		t.Errorf("Machine = %+v, want %+v", m, want)
	}
	p, err := r.Process(4242, true)
	if err != nil {
		t.Fatal(err)
	}
	if !near(p.CPU, 4.44) || p.State != "S" || p.Threads != 9 || p.RSS != 1024<<10 || p.HWM != 2048<<10 {
		t.Errorf("Process = %+v, want CPU 4.44 s, state S, 9 threads, RSS 1 MiB, HWM 2 MiB", p)
	}
	if !r.Alive(4242) || r.Alive(4243) {
		t.Errorf("Alive(4242) %v, Alive(4243) %v; want true, false", r.Alive(4242), r.Alive(4243))
	}
	write("4242/stat", "4242 (ulvsd) Z 1 4242 4242 0 -1 4194560 1000 0 0 0 321 123 0 0 20 0 9 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
	if r.Alive(4242) {
		t.Error("a zombie is alive")
	}
	if _, err := r.Process(4242, true); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "4242/status")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Process(4242, true); err == nil {
		t.Error("a missing status file read without error")
	}
}

// The real /proc: this process is alive and has used some CPU.
func TestSelf(t *testing.T) {
	p, err := ReadProcess(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if p.RSS == 0 || p.Threads == 0 || p.State == "" {
		t.Errorf("this process: %+v", p)
	}
	m, err := ReadMachine()
	if err != nil || m.Total <= 0 || m.Busy > m.Total {
		t.Errorf("the machine: %+v, %v", m, err)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
