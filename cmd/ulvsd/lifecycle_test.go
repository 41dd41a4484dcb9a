package main

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ulvs/ulvs/internal/plan"
	"github.com/ulvs/ulvs/internal/script"
	"github.com/ulvs/ulvs/internal/testkit"
)

// TestLifecycleScriptTimeout: a startup or shutdown script that outlives
// its timeout (startup_script_timeout, shutdown_script_timeout) is killed
// and ulvsd goes on; one that fails is logged with its status.
func TestLifecycleScriptTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hang := testkit.WriteScript(t, dir, "hang.sh", "exec sleep 30")
	fail := testkit.WriteScript(t, dir, "fail.sh", "exit 3")
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(core)
	pol := script.Policy{KillGrace: 100 * time.Millisecond}
	start := time.Now()
	runLifecycleScript(log, "startup_script", &plan.LifecycleScript{Policy: pol, Spec: script.Spec{Argv: []string{hang}},
		Timeout: 300 * time.Millisecond})
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a hanging script held ulvsd %v with a 300 ms timeout", el)
	}
	runLifecycleScript(log, "shutdown_script", &plan.LifecycleScript{Policy: pol, Spec: script.Spec{Argv: []string{fail}},
		Timeout: 5 * time.Second})
	var msgs []string
	for _, e := range logs.All() {
		msgs = append(msgs, e.Message)
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{"startup_script timed out and was killed", "shutdown_script failed"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}
