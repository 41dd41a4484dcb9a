package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profiler records the whole machine's kernel and user stacks with
// Debian's perf (linux-perf) while chosen loads run (-perf DIR): one
// DIR/<scenario>-<load>.data per run, and beside it a .json with the
// load's results and how long it ran, so that `lbbench flame` can turn
// samples into CPU per forwarded packet.
//
// The event is cpu-clock, a software timer: the VMs this runs on have no
// hardware counters (`perf stat -e cycles` says <not supported>). Every
// sample stands for samplePeriod of one CPU's time; frame pointers (Go's
// on amd64, the kernel's ORC unwinder) give the call graphs.
type profiler struct {
	dir   string
	loads map[string]bool
	logf  func(string, ...any)
}

// samplePeriod is the CPU time one sample stands for (perf record -c, in
// nanoseconds of cpu-clock): 4,000 samples per second per CPU.
const samplePeriod = 250_000

// profileMeta is the .json beside a profile.
type profileMeta struct {
	Scenario string             `json:"scenario"`
	Load     string             `json:"load"`
	Seconds  float64            `json:"seconds"`
	PeriodNs int                `json:"period_ns"`
	Values   map[string]float64 `json:"values"`
	Command  string             `json:"command"`
}

func slug(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer(" ", "-", "(", "", ")", "", "/", "-").Replace(s)
	return s
}

// around runs fn under perf record when the load is one to profile.
func (p *profiler) around(scenario, load string, fn func() (map[string]float64, error)) (map[string]float64, error) {
	if p == nil || !p.loads[load] {
		return fn()
	}
	base := filepath.Join(p.dir, slug(scenario)+"-"+slug(load))
	args := []string{"record", "-a", "-g", "-e", "cpu-clock", "-c", strconv.Itoa(samplePeriod), "-o", base + ".data", "--quiet"}
	cmd := exec.Command("perf", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		p.logf("perf record: %v (the load runs unprofiled)", err)
		return fn()
	}
	// perf needs a moment to open its events on every CPU.
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	vals, err := fn()
	secs := time.Since(start).Seconds()
	_ = cmd.Process.Signal(syscall.SIGINT)
	// perf re-raises the SIGINT it handled: that exit is the normal one.
	var ee *exec.ExitError
	if werr := cmd.Wait(); werr != nil && !(errors.As(werr, &ee) && ee.ExitCode() == -1) {
		p.logf("perf record: %v", werr)
	}
	meta := profileMeta{Scenario: scenario, Load: load, Seconds: secs, PeriodNs: samplePeriod, Values: vals,
		Command: "perf " + strings.Join(args, " ")}
	if b, jerr := json.MarshalIndent(meta, "", "  "); jerr == nil {
		if werr := os.WriteFile(base+".json", b, 0o644); werr != nil {
			p.logf("profile meta: %v", werr)
		}
	}
	p.logf("  profiled %s %s: %s.data (%.1fs)", scenario, load, base, secs)
	return vals, err
}

func newProfiler(dir, loads string, logf func(string, ...any)) (*profiler, error) {
	if dir == "" {
		return nil, nil
	}
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, fmt.Errorf("-perf needs perf (apt-get install linux-perf): %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &profiler{dir: dir, loads: map[string]bool{}, logf: logf}
	for _, l := range strings.Split(loads, ",") {
		if l = strings.TrimSpace(l); l != "" {
			p.loads[l] = true
		}
	}
	return p, nil
}
