package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/testkit"
)

// TestMain lets a test run this binary as ulvsd (ULVSD_TEST_MAIN=1).
func TestMain(m *testing.M) {
	if os.Getenv("ULVSD_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestTermDuringSlowReload: SIGTERM stops the daemon at once even while a
// SIGHUP's reload is still reading a configuration that takes long to
// read. The reload ran on the signal loop: a file that never finished (an
// include loop) left SIGTERM ignored until kill -9.
func TestTermDuringSlowReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(cfg, []byte("global_defs {\n router_id slow\n}\n"), 0o644)
	sock := filepath.Join(dir, "ulvsd.sock")
	cmd := exec.Command(os.Args[0], "-n", "-l", "-f", cfg, "-p", filepath.Join(dir, "a.pid"), "-r", filepath.Join(dir, "b.pid"),
		"-c", filepath.Join(dir, "c.pid"), "--control", sock)
	cmd.Env = append(os.Environ(), "ULVSD_TEST_MAIN=1")
	logPath := filepath.Join(dir, "ulvsd.log")
	logf, _ := os.Create(logPath)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	logText := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	logHas := func(what string) func() bool { return func() bool { return strings.Contains(logText(), what) } }
	if !testkit.Poll(20*time.Second, 20*time.Millisecond, logHas("ulvsd started")) {
		t.Fatalf("ulvsd did not start:\n%s", logText())
	}
	// A configuration whose reading takes seconds (a million lines from
	// two nested loops: more than ulvsd reads, refused in the end).
	os.WriteFile(cfg, []byte("~SEQ(i,0,60000) ~SEQ(j,0,60000) # $i $j\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	if !testkit.Poll(20*time.Second, 5*time.Millisecond, logHas("reloading")) {
		t.Fatalf("no reload:\n%s", logText())
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		t.Logf("stopped %v after SIGTERM (%v)", time.Since(sent).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatalf("SIGTERM during a reload left ulvsd running for 10 s:\n%s", logText())
	}
	l := logText()
	stopped, refused := strings.Index(l, "ulvsd stopped"), strings.Index(l, "reload refused")
	if stopped < 0 {
		t.Fatalf("no clean stop:\n%s", l)
	}
	if refused >= 0 && refused < stopped {
		t.Errorf("the reload finished before SIGTERM was handled:\n%s", l)
	}
}
