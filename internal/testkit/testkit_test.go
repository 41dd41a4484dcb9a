package testkit

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	t.Parallel()
	n := 0
	if !Poll(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Poll stopped after %d calls, want 3", n)
	}
	start := time.Now()
	if Poll(30*time.Millisecond, 5*time.Millisecond, func() bool { return false }) {
		t.Error("Poll of a condition that never holds reported true")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Poll gave up after %v, before its timeout", d)
	}
}

func TestWriteScript(t *testing.T) {
	t.Parallel()
	p := WriteScript(t, t.TempDir(), "s.sh", "echo hello")
	out, err := exec.Command(p).Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Errorf("running the script: %q, %v", out, err)
	}
}
