package health

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/internal/testkit"
)

// TestFileCheckWeights: a FILE_CHECK with a weight moves the real
// server's weight by value×weight, and a value at or below -254 takes it
// down (track_file.c).
func TestFileCheckWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "weight")
		write := func(s string) {
			if err := os.WriteFile(f, []byte(s+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("0")
		h := newHarness(t, oneTCP(tcpTiming(100*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) {
			v.SMTPAlert = ptr(false)
			v.Reals[0].Checks = []Check{{Kind: KindFile, File: FileCheck{Path: f, Weight: 10}}}
		}))
		defer h.stop()
		diff(t, "start", []string{"add " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
		write("3")
		h.at(1 * time.Second)
		diff(t, "3×10", []string{"update " + svc + " 198.18.0.11:80 w=35"}, h.sink.takeOps())
		write("-100")
		h.at(2 * time.Second)
		diff(t, "fault", []string{"remove " + svc + " 198.18.0.11:80 w=35"}, h.sink.takeOps())
		write("0")
		h.at(3 * time.Second)
		// keepalived brings the server up before it applies the weight.
		diff(t, "back", []string{"add " + svc + " 198.18.0.11:80 w=0", "update " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
	})
}

// TestFileCheckFaultAtStart: a file in fault at start keeps the server out.
func TestFileCheckFaultAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(f, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, oneTCP(tcpTiming(100*time.Second, time.Second, time.Second, 0), func(v *VirtualServer) {
			v.SMTPAlert = ptr(false)
			v.Reals[0].Checks = []Check{{Kind: KindFile, File: FileCheck{Path: f}}}
		}))
		defer h.stop()
		diff(t, "start", nil, h.sink.takeOps())
		if err := os.WriteFile(f, []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.at(time.Second)
		diff(t, "cleared", []string{"add " + svc + " 198.18.0.11:80 w=5"}, h.sink.takeOps())
	})
}

// TestMiscDynamicWeight runs a real script: exit 2..255 sets the weight
// to status-2; exit 1 takes the server down. Real processes cannot run in
// a synctest bubble, so this one polls with a bound.
func TestMiscDynamicWeight(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	code := filepath.Join(d, "code")
	setCode := func(s string) {
		if err := os.WriteFile(code, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setCode("12")
	sc := filepath.Join(d, "check.sh")
	if err := os.WriteFile(sc, []byte("#!/bin/sh\nexit $(cat "+code+")\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sink := newRecSink()
	cfg := oneTCP(Timing{DelayLoop: 50 * time.Millisecond, Warmup: ptr(time.Duration(0))}, func(v *VirtualServer) {
		v.Reals[0].Checks = []Check{{Kind: KindMisc, Misc: MiscCheck{Script: spec(sc), Dynamic: true, Timeout: 5 * time.Second}}}
	})
	r, err := New(cfg, sink, Options{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitPool := func(what string, want []string) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, 10*time.Millisecond, what+": pool not as wanted", func() bool {
			return cmp.Equal(want, sink.pool(svc))
		})
	}
	waitPool("exit 12", []string{"198.18.0.11:80 w=10"})
	setCode("1")
	waitPool("exit 1", nil)
	setCode("0")
	// exit 0 keeps the last dynamic weight (keepalived's legacy case).
	waitPool("exit 0", []string{"198.18.0.11:80 w=10"})
	setCode("2")
	waitPool("exit 2", []string{"198.18.0.11:80 w=0"})
}
