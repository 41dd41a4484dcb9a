package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/procstat"
)

// TestChaosVerdicts: the invariants' bookkeeping, without a lab: failed
// requests inside a window (up to its count) pass, others are reported; a
// download broken across a reload is reported unless it also crossed a
// crash; the report is written.
func TestChaosVerdicts(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var out bytes.Buffer
	c := &chaos{out: newPrinter(&out, false), start: t0, end: at(60), outDir: t.TempDir(), seed: 7,
		secs: map[int]*second{}, counts: map[string]int{}}
	c.events = []chaosEvent{
		{At: at(10), End: at(14), Kind: "reload", Target: "both"},
		{At: at(30), End: at(40), Kind: "crash", Target: "director1"},
	}
	c.windows = []window{{From: at(30), To: at(36)}, {From: at(50), To: at(52), Max: 1}}
	c.failures = []failure{
		{at(31), at(33), "timeout"},   // crash window
		{at(29), at(30.5), "timeout"}, // started before, ended inside
		{at(50.5), at(50.6), "reset"}, // one allowed
		{at(51), at(51.1), "reset"},   // the second is not
		{at(12), at(12.1), "reset"},   // in a reload storm: no window
		{at(44), at(46), "Get: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"}, // the observer stalled
		{at(47), at(49), "Get: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"}, // it did not
	}
	c.stalls = []span{{at(44.5), at(45.5)}}
	c.dls = []*download{
		{Start: at(9), End: at(17), Bytes: bigSize},
		{Start: at(11), End: at(15), Bytes: 100, Err: "unexpected EOF"}, // across the reload: broken
		{Start: at(12), End: at(31), Bytes: 100, Err: "reset"},          // across reload and crash: excused
	}
	c.checkRequests()
	c.checkDownloads()
	got := strings.Join(c.violations, "\n")
	for _, want := range []string{"t=51.0s a request", "t=12.0s a request", "t=47.0s a request", "t=11.0s to t=15.0s broke across a reload"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
	if len(c.violations) != 4 {
		t.Errorf("%d violations, want 4:\n%s", len(c.violations), got)
	}
	if c.counts["requests timed out while the observer stalled"] != 1 {
		t.Errorf("counts %v", c.counts)
	}
	if c.counts["downloads whole across a reload storm"] != 1 || c.counts["requests failed in a tolerated window"] != 3 {
		t.Errorf("counts %v", c.counts)
	}
	if err := c.report([]string{"--duration", "60s"}); err != nil {
		t.Fatal(err)
	}
}

// TestTakeoverWindow: a preemption seen at t opens [t-1s, t+3s]: requests
// opening at the move (just before it was seen) or in the 3 s after it
// pass; one opening well before or after is reported.
func TestTakeoverWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 16, 37, 7, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var out bytes.Buffer
	c := &chaos{out: newPrinter(&out, false), start: t0, secs: map[int]*second{}, counts: map[string]int{}}
	c.tolerateTakeover("director1", at(328))
	c.failures = []failure{
		{at(327.1), at(329.1), "Get: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"}, // run 1's
		{at(330.9), at(331), "reset"},   // inside
		{at(325), at(326.9), "reset"},   // ended before the window
		{at(331.2), at(331.3), "reset"}, // after it
	}
	c.checkRequests()
	got := strings.Join(c.violations, "\n")
	if len(c.violations) != 2 || !strings.Contains(got, "t=325.0s") || !strings.Contains(got, "t=331.2s") {
		t.Errorf("violations:\n%s\nwant the requests at 325.0 s and 331.2 s only", got)
	}
}

// TestCPUReadings: two readings of a /proc of the test's own give the
// machine's busy share and the lab processes' share of all CPUs between
// them, in percent; the first reading gives none.
func TestCPUReadings(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(cpu, proc string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, "4242"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "stat"), []byte("cpu  "+cpu+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		line := "4242 (ulvs d) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 " + proc + " 0 0 20 0 9 0 100" + strings.Repeat(" 0", 32) + "\n"
		if err := os.WriteFile(filepath.Join(root, "4242/stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := procstat.New(root)
	if err != nil {
		t.Fatal(err)
	}
	m := cpuMeter{proc: r}
	write("100 0 100 800 0 0 0 0 0 0", "10 10")
	if _, _, ok := m.read([]int{4242, 4243}); ok {
		t.Error("the first reading gave shares")
	}
	// 1,000 ticks later: 300 busy, 80 of them the lab's process.
	write("300 0 200 1500 0 0 0 0 0 0", "60 40")
	busy, lab, ok := m.read([]int{4242, 4243})
	if !ok || busy != 30 || lab != 8 {
		t.Errorf("read = %d %%, %d %%, %v; want 30 %%, 8 %%", busy, lab, ok)
	}
}
