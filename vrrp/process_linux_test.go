package vrrp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestProcConnector counts a process through the kernel's process events
// (not /proc scans): a program started under a name of its own is counted
// when it execs, forgotten when it exits. It needs root and the initial
// network namespace, where the connector answers.
func TestProcConnector(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the process events connector needs root")
	}
	src, err := openProcEvents()
	if err != nil {
		t.Skipf("no process events here (a network namespace other than the initial one?): %v", err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	name := "ulvsproc" + strconv.Itoa(os.Getpid()%100000)
	bin := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(sleep, bin); err != nil {
		t.Fatal(err)
	}
	c := newProcCounter("/proc", []TrackProcess{{Name: "p", Process: name}})
	c.scan(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var last procState
	reports := 0
	// A poll period far beyond the test: only events can move the count.
	go procWatch(ctx, c, time.Hour, src, func(st []procState) bool {
		mu.Lock()
		defer mu.Unlock()
		last, reports = st[0], reports+1
		return true
	})
	state := func() (procState, int) {
		mu.Lock()
		defer mu.Unlock()
		return last, reports
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the started process was not counted", func() bool {
		st, _ := state()
		return st.up && st.count == 1
	})
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	eventually(t, 5*time.Second, "the killed process was not forgotten", func() bool {
		st, _ := state()
		return !st.up && st.count == 0
	})
}
