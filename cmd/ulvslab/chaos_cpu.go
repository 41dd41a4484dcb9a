package main

import "github.com/ulvs/ulvs/internal/procstat"

// The machine's CPU, beside the lab's: on a shared machine a failed
// request may be others' doing, and the timeline should say so. Each
// second the observer notes how busy the whole machine was and how much
// of that the directors' ulvsd and the observer itself took (both in
// percent of all CPUs).

// cpuMeter turns successive readings into per-second percentages.
type cpuMeter struct {
	// proc reads /proc (nil: the real one).
	proc  *procstat.Reader
	last  procstat.Machine
	procs map[int]float64
}

// read returns the machine's busy share and the given processes' share of
// all CPUs since the last read, in percent (ok false on the first read).
func (m *cpuMeter) read(pids []int) (busyPct, labPct int, ok bool) {
	if m.proc == nil {
		r, err := procstat.Proc()
		if err != nil {
			return 0, 0, false
		}
		m.proc = r
	}
	now, err := m.proc.Machine()
	if err != nil {
		return 0, 0, false
	}
	procs := map[int]float64{}
	var lab float64
	for _, pid := range pids {
		p, err := m.proc.Process(pid, false)
		if err != nil {
			continue
		}
		procs[pid] = p.CPU
		if old, seen := m.procs[pid]; seen && p.CPU >= old {
			lab += p.CPU - old
		}
	}
	dt, db := now.Total-m.last.Total, now.Busy-m.last.Busy
	ok = m.last.Total != 0 && dt > 0 && db >= 0
	m.last, m.procs = now, procs
	if !ok {
		return 0, 0, false
	}
	return int(db * 100 / dt), int(min(lab*100/dt, 100)), true
}
