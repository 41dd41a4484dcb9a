package test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestLabECMPDemo: `ulvslab demo --ecmp`, the scale-out story, passes every
// step (spread over three directors, a traced flow, agreement, downloads
// across a SIGTERM and a cut link, heal, down) in under two minutes and
// leaves nothing behind; `ulvslab fail --kill` and `trace --flow` work on
// their own.
func TestLabECMPDemo(t *testing.T) {
	t.Parallel()
	topotest.Require(t, "bird")
	c := newLabCLI(t, "ecmp")
	start := time.Now()
	out, err := c.run("demo", "--ecmp")
	took := time.Since(start)
	if err != nil || !strings.Contains(out, "demo passed: every step held") {
		t.Fatalf("demo --ecmp: %v\n%s", err, out)
	}
	t.Logf("demo --ecmp:\n%s", tail(out, 3))
	if took > 2*time.Minute {
		t.Errorf("demo --ecmp took %v, want under two minutes", took)
	}
	if left, _ := topo.Namespaces(c.prefix); len(left) > 0 {
		t.Errorf("the demo left namespaces: %v", left)
	}
	c.must("up", "--ecmp", "--directors", "2", "--servers", "2")
	if out := c.must("trace", "--flow", "11"); !strings.Contains(out, "✓ router hash → director") {
		t.Errorf("trace:\n%s", out)
	}
	out = c.must("fail", "director1", "--kill")
	if !regexp.MustCompile(`routed through \[198\.18\.0\.3\] after`).MatchString(out) {
		t.Errorf("fail --kill:\n%s", out)
	}
	c.must("heal")
	if out := c.must("status"); !strings.Contains(out, "nexthop via 198.18.0.2") || !strings.Contains(out, "announced") {
		t.Errorf("status after heal:\n%s", out)
	}
}
