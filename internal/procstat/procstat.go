// Package procstat reads the CPU and memory figures that ulvs's lab tools
// and benchmarks report — the machine's busy CPU, a process's CPU time,
// resident memory and state — from /proc, through prometheus/procfs (one
// parser of /proc for the whole tree, and the one node_exporter uses).
package procstat

import (
	"sync"

	"github.com/prometheus/procfs"
)

// Machine is the CPU time of all CPUs since boot, in seconds: Busy is
// everything but idle and iowait. Guest time, which the kernel already
// counts as user time, is not counted twice.
type Machine struct {
	Busy, Total float64
}

// machineOf sums /proc/stat's aggregate line.
func machineOf(c procfs.CPUStat) Machine {
	busy := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	return Machine{Busy: busy, Total: busy + c.Idle + c.Iowait}
}

// Reader reads one /proc (procfs.DefaultMountPoint, or a test's tree).
type Reader struct {
	fs procfs.FS
}

// New returns a Reader of the /proc mounted at root ("" for /proc).
func New(root string) (*Reader, error) {
	if root == "" {
		root = procfs.DefaultMountPoint
	}
	fs, err := procfs.NewFS(root)
	if err != nil {
		return nil, err
	}
	return &Reader{fs: fs}, nil
}

// Machine reads the machine's CPU time.
func (r *Reader) Machine() (Machine, error) {
	st, err := r.fs.Stat()
	if err != nil {
		return Machine{}, err
	}
	return machineOf(st.CPUTotal), nil
}

// Process is what /proc/PID/stat and status say of a process.
type Process struct {
	// CPU is its user and system time, in seconds.
	CPU float64
	// State is its one-letter state (R, S, D, Z, X, ...).
	State   string
	Threads int
	// RSS and HWM are its resident set and the peak of it, in bytes (zero
	// when status was not read).
	RSS, HWM uint64
}

// Process reads pid's stat; with memory set, its status too.
func (r *Reader) Process(pid int, memory bool) (Process, error) {
	p, err := r.fs.Proc(pid)
	if err != nil {
		return Process{}, err
	}
	st, err := p.Stat()
	if err != nil {
		return Process{}, err
	}
	out := Process{CPU: st.CPUTime(), State: st.State, Threads: st.NumThreads}
	if memory {
		s, err := p.NewStatus()
		if err != nil {
			return Process{}, err
		}
		out.RSS, out.HWM = s.VmRSS, s.VmHWM
	}
	return out, nil
}

// Alive reports whether pid exists and is neither a zombie nor dead.
func (r *Reader) Alive(pid int) bool {
	p, err := r.Process(pid, false)
	return err == nil && p.State != "Z" && p.State != "X"
}

// proc is the Reader of /proc, opened once (procfs.NewFS checks the mount).
var proc = sync.OnceValues(func() (*Reader, error) { return New("") })

// Proc returns the Reader of /proc.
func Proc() (*Reader, error) { return proc() }

// ReadMachine reads the machine's CPU time from /proc.
func ReadMachine() (Machine, error) {
	r, err := proc()
	if err != nil {
		return Machine{}, err
	}
	return r.Machine()
}

// ReadProcess reads a process from /proc (see Reader.Process).
func ReadProcess(pid int, memory bool) (Process, error) {
	r, err := proc()
	if err != nil {
		return Process{}, err
	}
	return r.Process(pid, memory)
}
