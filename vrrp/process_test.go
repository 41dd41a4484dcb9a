package vrrp

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeProc is a proc file system in a directory: /PID/stat and
// /PID/cmdline, as much of them as process tracking reads.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc { return &fakeProc{t: t, root: t.TempDir()} }

// add writes a process; state is "S" or "Z" (a zombie).
func (f *fakeProc) add(pid, ppid int, comm, state string, argv ...string) {
	f.t.Helper()
	d := filepath.Join(f.root, strconv.Itoa(pid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		f.t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (%s) %s %d 1 1 0 -1 4194560 ...\n", pid, comm, state, ppid)
	if err := os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644); err != nil {
		f.t.Fatal(err)
	}
	cmd := ""
	if len(argv) > 0 {
		cmd = strings.Join(argv, "\x00") + "\x00"
	}
	if err := os.WriteFile(filepath.Join(d, "cmdline"), []byte(cmd), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) remove(pid int) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(f.root, strconv.Itoa(pid))); err != nil {
		f.t.Fatal(err)
	}
}

func intRef(v int) *int { return &v }

// TestProcMatch is keepalived's matching (track_process.c read_procs,
// check_params): the name, or the command line's first word and its
// parameters as param_match says; zombies do not count.
func TestProcMatch(t *testing.T) {
	t.Parallel()
	fp := newFakeProc(t)
	fp.add(10, 1, "nginx", "S", "nginx: master process /usr/sbin/nginx")
	fp.add(11, 10, "nginx", "S", "nginx: worker process")
	fp.add(12, 1, "nginx", "Z")
	fp.add(20, 1, "haproxy", "S", "/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg", "-p", "/run/haproxy.pid")
	fp.add(21, 1, "haproxy", "S", "/usr/sbin/haproxy", "-f", "/etc/haproxy/other.cfg")
	fp.add(30, 1, "sshd", "S", "sshd: /usr/sbin/sshd -D")
	fp.add(31, 1, "bash", "S", "/bin/bash")
	for _, tc := range []struct {
		name string
		tp   TrackProcess
		want int
	}{
		{"by name, zombie left out", TrackProcess{Process: "nginx"}, 2},
		{"exact name only (not pgrep's regex)", TrackProcess{Process: "ssh"}, 0},
		{"full command, first word", TrackProcess{Process: "/usr/sbin/haproxy", FullCommand: true}, 2},
		{"parameters imply exact", TrackProcess{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy/other.cfg"}}, 1},
		{"partial", TrackProcess{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy/haproxy.cfg"}, ParamMatch: "partial"}, 1},
		{"initial", TrackProcess{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy/"}, ParamMatch: "initial"}, 2},
		{"param_match alone: no parameters", TrackProcess{Process: "/bin/bash", ParamMatch: "exact"}, 1},
		{"param_match alone excludes parameters", TrackProcess{Process: "/usr/sbin/haproxy", ParamMatch: "exact"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.tp.Name = "p"
			c := newProcCounter(fp.root, []TrackProcess{tc.tp})
			c.scan(time.Now())
			if got := c.count[0]; got != tc.want {
				t.Errorf("count %d, want %d", got, tc.want)
			}
		})
	}
}

// TestProcQuorumAndDelays: quorum and quorum_max bound the count; a
// quorum lost waits terminate_delay, one gained by a fork waits
// fork_delay, and crossing back cancels the pending change.
func TestProcQuorumAndDelays(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	c := newProcCounter(t.TempDir(), []TrackProcess{
		{Name: "q2", Process: "app", Quorum: 2, QuorumMax: intRef(3), TerminateDelay: 2 * time.Second, ForkDelay: time.Second},
		{Name: "none", Process: "app", QuorumMax: intRef(0)},
	})
	app := []int{0, 1} // both trackers match "app"
	state := func() string {
		var s []string
		for _, p := range c.snapshot() {
			s = append(s, fmt.Sprintf("%s:%v/%d", p.name, p.up, p.count))
		}
		return strings.Join(s, " ")
	}
	steps := []struct {
		at   time.Duration
		do   func(now time.Time)
		want string
	}{
		{0, func(time.Time) {}, "q2:false/0 none:true/0"},
		{0, func(now time.Time) { c.set(now, 100, app, false) }, "q2:false/1 none:false/1"},
		// The second process execs: quorum at once.
		{0, func(now time.Time) { c.set(now, 101, app, false) }, "q2:true/2 none:false/2"},
		// One exits: lost, but terminate_delay holds it up...
		{time.Second, func(now time.Time) { c.exit(now, 101) }, "q2:true/1 none:false/1"},
		// ... and a fork within the delay cancels the loss.
		{2 * time.Second, func(now time.Time) { c.fork(now, 100, 102) }, "q2:true/2 none:false/2"},
		{5 * time.Second, func(now time.Time) { c.fire(now) }, "q2:true/2 none:false/2"},
		// Four is above quorum_max 3: a loss, so terminate_delay holds
		// it (fork_delay is for gains).
		{6 * time.Second, func(now time.Time) { c.fork(now, 100, 103); c.fork(now, 100, 104) }, "q2:true/4 none:false/4"},
		{8 * time.Second, func(now time.Time) { c.fire(now) }, "q2:false/4 none:false/4"},
		// Back to three by exits: a gain, not by fork: at once.
		{9 * time.Second, func(now time.Time) { c.exit(now, 104) }, "q2:true/3 none:false/3"},
		// All gone: q2 lost after the delay; "none" (quorum_max 0) is up.
		{10 * time.Second, func(now time.Time) {
			for _, p := range []int{100, 102, 103} {
				c.exit(now, p)
			}
		}, "q2:true/0 none:true/0"},
		{12 * time.Second, func(now time.Time) { c.fire(now) }, "q2:false/0 none:true/0"},
		// A fork of a counted process is the only gain fork_delay holds:
		// here a new process counted by exec, then two of its forks.
		{13 * time.Second, func(now time.Time) { c.set(now, 200, app, false) }, "q2:false/1 none:false/1"},
		{13 * time.Second, func(now time.Time) { c.fork(now, 200, 201) }, "q2:false/2 none:false/2"},
		{13*time.Second + 900*time.Millisecond, func(now time.Time) { c.fire(now) }, "q2:false/2 none:false/2"},
		{14 * time.Second, func(now time.Time) { c.fire(now) }, "q2:true/2 none:false/2"},
	}
	for i, s := range steps {
		s.do(at(s.at))
		if got := state(); got != s.want {
			t.Fatalf("step %d at %v: %s, want %s", i, s.at, got, s.want)
		}
	}
}

// TestProcScanSeesForks: a scan takes a new process whose parent is
// counted for the same tracker for a fork (fork_delay applies); others
// count at once; a process that went is forgotten.
func TestProcScanSeesForks(t *testing.T) {
	t.Parallel()
	fp := newFakeProc(t)
	c := newProcCounter(fp.root, []TrackProcess{{Name: "w", Process: "worker", Quorum: 2, ForkDelay: time.Second}})
	t0 := time.Unix(0, 0)
	fp.add(10, 1, "worker", "S")
	c.scan(t0)
	fp.add(11, 10, "worker", "S")
	c.scan(t0)
	if st := c.snapshot()[0]; st.up || st.count != 2 {
		t.Fatalf("after a fork: %+v, want down until fork_delay", st)
	}
	c.fire(t0.Add(time.Second))
	if st := c.snapshot()[0]; !st.up {
		t.Fatalf("after fork_delay: %+v, want up", st)
	}
	fp.remove(11)
	c.scan(t0.Add(2 * time.Second))
	if st := c.snapshot()[0]; st.up || st.count != 1 {
		t.Fatalf("after an exit: %+v, want down", st)
	}
	fp.add(12, 1, "worker", "S") // not a child of 10: an exec
	c.scan(t0.Add(3 * time.Second))
	if st := c.snapshot()[0]; !st.up || st.count != 2 {
		t.Fatalf("after an unrelated start: %+v, want up at once", st)
	}
}

// TestParseProcEvent decodes connector messages as linux/cn_proc.h lays
// them out, and leaves out threads.
func TestParseProcEvent(t *testing.T) {
	t.Parallel()
	msg := func(what uint32, data ...uint32) []byte {
		b := make([]byte, dataStart+24)
		le := binary.LittleEndian
		le.PutUint32(b[0:], uint32(len(b)))
		le.PutUint32(b[nlHdrLen:], cnIdxProc)
		le.PutUint32(b[nlHdrLen+4:], cnValProc)
		le.PutUint32(b[evOffset:], what)
		for i, d := range data {
			le.PutUint32(b[dataStart+4*i:], d)
		}
		return b
	}
	var got []string
	for _, b := range [][]byte{
		msg(procEventFork, 10, 10, 11, 11), // a process
		msg(procEventFork, 10, 10, 12, 11), // a thread of 11
		msg(procEventExec, 11, 11),
		msg(procEventComm, 11, 11),
		msg(procEventComm, 12, 11), // a thread renamed
		msg(procEventExit, 12, 11), // a thread
		msg(procEventExit, 11, 11),
		msg(0x40, 11, 11), // uid change
	} {
		if e, ok := parseProcEvent(b); ok {
			got = append(got, fmt.Sprintf("%d %d %d", e.kind, e.pid, e.ppid))
		}
	}
	want := []string{"1 11 10", "2 11 0", "3 11 0", "4 11 0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
