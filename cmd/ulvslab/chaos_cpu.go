package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The machine's CPU, beside the lab's: on a shared machine a failed
// request may be others' doing, and the timeline should say so. Each
// second the observer notes how busy the whole machine was and how much
// of that the directors' ulvsd and the observer itself took (both in
// percent of all CPUs).

// cpuTicks is /proc/stat's aggregate cpu line: all ticks, and the busy
// ones (everything but idle and iowait).
func cpuTicks(stat string) (total, busy uint64, ok bool) {
	for _, l := range strings.Split(stat, "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		for i, s := range f[1:] {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return 0, 0, false
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return total, busy, true
	}
	return 0, 0, false
}

// procTicks is a process's user and system ticks from /proc/PID/stat
// (fields 14 and 15; the command name may hold spaces and parentheses).
func procTicks(stat string) (uint64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return u + s, true
}

// cpuMeter turns successive readings into per-second percentages.
type cpuMeter struct {
	total, busy uint64
	procs       map[int]uint64
}

// read returns the machine's busy share and the given processes' share of
// all CPUs since the last read, in percent (ok false on the first read).
func (m *cpuMeter) read(pids []int) (busyPct, labPct int, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	total, busy, good := cpuTicks(string(b))
	if !good {
		return 0, 0, false
	}
	procs := map[int]uint64{}
	var lab uint64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		t, good := procTicks(string(b))
		if !good {
			continue
		}
		procs[pid] = t
		if old, seen := m.procs[pid]; seen && t >= old {
			lab += t - old
		}
	}
	dt, db := total-m.total, busy-m.busy
	ok = m.total != 0 && total > m.total && busy >= m.busy
	m.total, m.busy, m.procs = total, busy, procs
	if !ok {
		return 0, 0, false
	}
	return int(db * 100 / dt), int(min(lab*100/dt, 100)), true
}
