package ipvs

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/forward"
)

// daemonKernel is the fake kernel with a sync daemon that records its
// commands.
type daemonKernel struct {
	fakeKernel
	mu    sync.Mutex
	calls []string
}

func (k *daemonKernel) startDaemon(role forward.SyncRole, cfg forward.SyncConfig) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, fmt.Sprintf("start %s %s", role, cfg.Interface))
	return nil
}

func (k *daemonKernel) stopDaemon(role forward.SyncRole) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, fmt.Sprintf("stop %s", role))
	return nil
}

// testClock is a Clock whose Sleep advances it, after waiting for the
// test to let it (when gate is set).
type testClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  []time.Duration
	asleep chan struct{}
	gate   chan struct{}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Sleep(d time.Duration) {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	gate, asleep := c.gate, c.asleep
	c.mu.Unlock()
	if gate != nil {
		asleep <- struct{}{}
		<-gate
	}
	c.advance(d)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestSyncSettles: a daemon is stopped only after it has run daemonSettle
// (a Linux 6.1 kernel keeps an earlier stop waiting 60 s), the wait comes
// from the clock, and the backend's table stays usable while it lasts.
func TestSyncSettles(t *testing.T) {
	t.Parallel()
	k := &daemonKernel{}
	clock := &testClock{now: time.Unix(1000, 0), asleep: make(chan struct{}), gate: make(chan struct{})}
	b, err := newBackend(k, &Config{Logger: zaptest.NewLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg := forward.SyncConfig{Interface: "eth0", SyncID: 1}
	if err := b.SetSync(forward.SyncBackup, cfg); err != nil {
		t.Fatal(err)
	}
	clock.advance(300 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- b.SetSync(forward.SyncMaster, cfg) }()
	<-clock.asleep
	// While the daemon settles, the table is not locked.
	if err := b.AddService(forward.ServiceConfig{Key: web, Scheduler: "rr", Method: forward.DR}); err != nil {
		t.Fatalf("AddService while the sync daemon settles: %v", err)
	}
	if st := b.SyncStats(); st.Role != "backup" {
		t.Errorf("role while settling %q, want backup", st.Role)
	}
	close(clock.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Second) // the master has settled: no wait
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{700 * time.Millisecond}; !slices.Equal(clock.slept, want) {
		t.Errorf("slept %v, want %v", clock.slept, want)
	}
	if want := []string{"start backup eth0", "stop backup", "start master eth0", "stop master"}; !slices.Equal(k.calls, want) {
		t.Errorf("daemon commands %q, want %q", k.calls, want)
	}
	if err := b.SetSync(forward.SyncBackup, cfg); err == nil {
		t.Error("SetSync after Close: no error")
	}
}
