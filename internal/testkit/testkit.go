// Package testkit holds the helpers every package's tests share: bounded
// waits instead of sleeps (Eventually, Poll) and script files (WriteScript).
// Netns topologies are package topo/topotest's; in-memory fakes live beside
// the interface they fake (see docs/architecture.md, "Tests").
package testkit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Poll calls cond every interval until it returns true, or until timeout
// has passed; it reports whether cond held.
func Poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// Eventually polls cond every interval until it returns true, and fails
// the test with msg when timeout passes first. It is the bounded wait
// tests use instead of sleeping.
func Eventually(t testing.TB, timeout, interval time.Duration, msg string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, interval, cond) {
		t.Fatalf("after %v: %s", timeout, msg)
	}
}

// WriteScript writes an executable shell script (#!/bin/sh, then body) as
// dir/name and returns its path.
func WriteScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
