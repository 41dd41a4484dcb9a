package vrrp

import (
	"bytes"
	"context"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/internal/script"
)

// runner runs a script; *script.Script is one.
type runner interface {
	Run(ctx context.Context, timeout time.Duration, extra ...string) script.Result
}

// trackStatus is a tracked script's state.
type trackStatus uint8

const (
	trackInit trackStatus = iota
	trackOK
	trackFailed
)

func (s trackStatus) String() string {
	return [...]string{"INIT", "OK", "FAILED"}[s]
}

// scriptTrack is one vrrp_script with keepalived's result counter
// (vrrp_script_child_thread): result runs from 0 to rise+fall-1 and the
// script is OK while result >= rise, so from failed it takes rise
// consecutive successes to be OK and from OK fall consecutive failures to
// fail. A script that has not run yet is INIT with result rise-1 ("one
// success is enough"); init_fail starts it failed instead.
type scriptTrack struct {
	cfg    Script
	run    runner
	result int
	status trackStatus
	cancel context.CancelFunc
}

func newScriptTrack(cfg Script, r runner) *scriptTrack {
	st := &scriptTrack{cfg: cfg, run: r}
	if cfg.InitFail {
		st.status = trackFailed
	} else {
		st.result = cfg.Rise - 1
	}
	return st
}

// update applies one run's outcome and reports whether the status changed.
func (st *scriptTrack) update(ok bool) bool {
	rise, fall := st.cfg.Rise, st.cfg.Fall
	prev := st.status
	if ok {
		if st.result < rise-1 {
			st.result++
		} else {
			st.result = rise + fall - 1
		}
	} else {
		if st.result > rise {
			st.result--
		} else {
			st.result = 0
		}
	}
	if st.result >= rise {
		st.status = trackOK
	} else {
		st.status = trackFailed
	}
	return st.status != prev
}

// scriptLoop runs the script every interval (start to start, as keepalived
// schedules it) and reports each outcome on out. A run that outlives its
// timeout is killed by the runner and counts as a failure.
func scriptLoop(ctx context.Context, name string, st *scriptTrack, out chan<- trackMsg) {
	timeout := st.cfg.Timeout
	if timeout == 0 {
		timeout = st.cfg.Interval
	}
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next = next.Add(st.cfg.Interval)
		res := st.run.Run(ctx, timeout)
		select {
		case out <- trackMsg{kind: "script", name: name, ok: res.OK(), res: res, st: st}:
		case <-ctx.Done():
			return
		}
		t.Reset(max(time.Until(next), 0))
	}
}

// trackMsg is a tracker's report to the node's loop.
type trackMsg struct {
	kind  string // "script", "file" or "link"
	name  string
	ok    bool
	value int
	res   script.Result
	st    *scriptTrack // the tracker that ran, to ignore stale reports
	ft    *fileTrack
	procs []procState
	pw    *procWatcher
	// prefix is the address an "addr" message says was removed from
	// the interface name.
	prefix netip.Prefix
}

// procWatcher is the running process tracker of a configuration.
type procWatcher struct {
	cfgs   []TrackProcess
	cancel context.CancelFunc
}

// procTrack is one vrrp_track_process's reported state.
type procTrack struct {
	cfg   TrackProcess
	up    bool
	count int
}

// fileTrack is one track_file: the integer the file holds.
type fileTrack struct {
	cfg    TrackFile
	value  int
	cancel context.CancelFunc
}

// readTrackFile returns the integer in path; a missing or unreadable file,
// or one that does not start with an integer, reads as 0.
func readTrackFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(bytes.TrimSpace(b)))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return v
}

// initTrackFile writes init_file's value when the file is missing, or
// always with "overwrite".
func initTrackFile(tf TrackFile) error {
	if tf.InitFile == nil {
		return nil
	}
	if _, err := os.Stat(tf.Path); err == nil && !tf.InitOverwrite {
		return nil
	}
	return os.WriteFile(tf.Path, []byte(strconv.Itoa(*tf.InitFile)+"\n"), 0o644)
}

// fileLoop polls the file every period and reports changes. keepalived
// watches with inotify; a poll reads a few bytes and reacts within period.
func fileLoop(ctx context.Context, ft *fileTrack, last int, period time.Duration, out chan<- trackMsg) {
	tf := ft.cfg
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if v := readTrackFile(tf.Path); v != last {
			last = v
			select {
			case out <- trackMsg{kind: "file", name: tf.Name, value: v, ft: ft}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// contribution is keepalived's priority rule for an OK/failed tracked
// object with weight w: a positive weight is added while OK, a negative
// one while failed, and reverse swaps the direction (weight_multiplier
// -1).
func contribution(ok bool, w int, reverse bool) int {
	m := 1
	if reverse {
		m = -1
	}
	switch {
	case ok && w > 0:
		return w * m
	case !ok && w < 0:
		return w * m
	}
	return 0
}

// trackResult is the outcome of evaluating an instance's tracking.
type trackResult struct {
	prio        uint8
	fault, init bool
	status      []TrackStatus
}

// trackState is everything tracked, owned by the node's loop.
type trackState struct {
	scripts map[string]*scriptTrack
	files   map[string]*fileTrack
	links   map[string]bool
	procs   map[string]*procTrack
	// conds are the program's own conditions (SetCondition); they outlive
	// Run and reloads.
	conds map[string]Condition
}

// eval computes an instance's effective priority and FAULT from its own
// and its sync group's tracked objects (keepalived vrrp_track.c:
// initialise_tracking_priorities, vrrp_set_effective_priority).
func (ts *trackState) eval(in *Instance, base uint8, grp *SyncGroup, ifaces []string) trackResult {
	r := trackResult{}
	total := 0
	// keepalived ignores the weights of a sync group member's tracked
	// objects unless sync_group_tracking_weight: any failure is a FAULT.
	unweighted := grp != nil && !grp.TrackingWeight
	weight := func(ref *TrackRef, def int) int {
		w := def
		if ref.Weight != nil {
			w = *ref.Weight
		}
		if unweighted {
			return 0
		}
		return w
	}
	reverse := func(ref *TrackRef, def bool) bool {
		if ref.Reverse != nil {
			return *ref.Reverse
		}
		return def
	}
	for _, name := range ifaces {
		if up, ok := ts.links[name]; ok && !up {
			r.fault = true
			r.status = append(r.status, TrackStatus{Kind: "interface", Name: name, Status: "DOWN"})
		}
	}
	var scripts, ifs, files, procs []TrackRef
	scripts = append(scripts, in.TrackScripts...)
	ifs = append(ifs, in.TrackInterfaces...)
	files = append(files, in.TrackFiles...)
	procs = append(procs, in.TrackProcesses...)
	if grp != nil {
		scripts = append(scripts, grp.TrackScripts...)
		ifs = append(ifs, grp.TrackInterfaces...)
		files = append(files, grp.TrackFiles...)
		procs = append(procs, grp.TrackProcesses...)
	}
	for i := range procs {
		ref := &procs[i]
		pt, ok := ts.procs[ref.Name]
		if !ok {
			continue // unknown: conf says so at the reference
		}
		w := weight(ref, pt.cfg.Weight)
		st := "DOWN"
		if pt.up {
			st = "UP"
		}
		r.status = append(r.status, TrackStatus{Kind: "process", Name: ref.Name,
			Status: st + " (" + strconv.Itoa(pt.count) + " running)", Weight: w})
		if w == 0 {
			// keepalived: weight 0 means a lost quorum is a FAULT, and
			// "weight 0 reverse" a FAULT while the quorum is up.
			if pt.up == reverse(ref, pt.cfg.Reverse) {
				r.fault = true
			}
			continue
		}
		total += contribution(pt.up, w, reverse(ref, pt.cfg.Reverse))
	}
	for i := range scripts {
		ref := &scripts[i]
		st, ok := ts.scripts[ref.Name]
		if !ok {
			continue // unknown or disabled (insecure) scripts are not tracked
		}
		w := weight(ref, st.cfg.Weight)
		r.status = append(r.status, TrackStatus{Kind: "script", Name: ref.Name, Status: st.status.String(), Weight: w})
		if st.status == trackInit {
			r.init = true
		}
		good := st.status == trackOK
		if w == 0 {
			if st.status == trackFailed {
				r.fault = true
			}
			continue
		}
		total += contribution(good, w, reverse(ref, st.cfg.Reverse))
	}
	for i := range ifs {
		ref := &ifs[i]
		up, ok := ts.links[ref.Name]
		if !ok {
			up = false // an interface that does not exist is down
		}
		w := weight(ref, 0)
		status := "UP"
		if !up {
			status = "DOWN"
		}
		r.status = append(r.status, TrackStatus{Kind: "interface", Name: ref.Name, Status: status, Weight: w})
		if w == 0 {
			if !up {
				r.fault = true
			}
			continue
		}
		total += contribution(up, w, reverse(ref, false))
	}
	for i := range files {
		ref := &files[i]
		ft, ok := ts.files[ref.Name]
		if !ok {
			continue
		}
		def := ft.cfg.Weight
		if !ft.cfg.WeightSet {
			def = 1
		}
		w := weight(ref, def)
		r.status = append(r.status, TrackStatus{Kind: "file", Name: ref.Name, Status: strconv.Itoa(ft.value), Weight: w})
		if w == 0 {
			if ft.value != 0 {
				r.fault = true
			}
			continue
		}
		v := ft.value * w
		if reverse(ref, ft.cfg.Reverse) {
			v = -v
		}
		if v <= -254 {
			r.fault = true
			continue
		}
		total += v
	}
	for _, name := range slices.Sorted(maps.Keys(ts.conds)) {
		c := ts.conds[name]
		if !c.appliesTo(in.Name) {
			continue
		}
		w := c.Weight
		if unweighted {
			w = 0
		}
		st := "OK"
		if c.Failed {
			st = "FAILED: " + c.Reason
		}
		r.status = append(r.status, TrackStatus{Kind: "condition", Name: name, Status: st, Weight: w})
		switch {
		case c.Failed && w == 0:
			r.fault = true
		case c.Failed:
			total += min(w, 0)
		}
	}
	if base == PrioOwner {
		r.prio = PrioOwner
		return r
	}
	r.prio = uint8(min(max(int(base)+total, 1), 254))
	return r
}
