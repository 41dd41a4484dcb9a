package conf

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readWithin reads path, failing the test if it takes longer than d (the
// read is left running: it is the bug being shown).
func readWithin(t *testing.T, d time.Duration, path string) (*Result, error) {
	t.Helper()
	type out struct {
		res *Result
		err error
	}
	ch := make(chan out, 1)
	start := time.Now()
	go func() {
		res, err := Read(path, Options{})
		ch <- out{res, err}
	}()
	select {
	case o := <-ch:
		t.Logf("read in %v", time.Since(start).Round(time.Millisecond))
		return o.res, o.err
	case <-time.After(d):
		t.Fatalf("reading %s still runs after %v", path, d)
		return nil, nil
	}
}

// TestIncludeWorkBounded: files that include each other through a
// wildcard branch at every level; the 32-deep guard alone let three of
// them run for 10 minutes at 2.6 GB (ulvsd -t, and a SIGHUP wedged the
// daemon). The total work of a read is bounded: it ends at once with an
// error naming the bound.
func TestIncludeWorkBounded(t *testing.T) {
	t.Parallel()
	files := map[string]string{"keepalived.conf": "include conf.d/*.conf\n"}
	for _, n := range []string{"a", "b", "c"} {
		files["conf.d/"+n+".conf"] = "include " + "*.conf\nvrrp_script s" + n + " {\n script /bin/true\n}\n"
	}
	dir := writeFiles(t, files)
	res, err := readWithin(t, 20*time.Second, filepath.Join(dir, "keepalived.conf"))
	if err == nil || !strings.Contains(res.Diags.String(), fmt.Sprintf("more than %d files included in all", maxIncludes)) {
		t.Errorf("err = %v", err)
	}

	// Bytes count too: a big file included again and again.
	big := strings.Repeat("# padding padding padding padding padding padding padding\n", 1<<16) // ~3.8 MB
	files = map[string]string{"keepalived.conf": strings.Repeat("include big.inc\n", 40), "big.inc": big}
	dir = writeFiles(t, files)
	res, err = readWithin(t, 20*time.Second, filepath.Join(dir, "keepalived.conf"))
	if err == nil || !strings.Contains(res.Diags.String(), "MiB in all") {
		t.Errorf("err = %v", err)
	}

	// A large tree that is no loop still reads whole.
	files = map[string]string{"keepalived.conf": "include d*/*.conf\n"}
	for i := range 20 {
		for j := range 50 {
			files[fmt.Sprintf("d%02d/%02d.conf", i, j)] = fmt.Sprintf("vrrp_script s%d_%d {\n script /bin/true\n}\n", i, j)
		}
	}
	dir = writeFiles(t, files)
	res, err = readWithin(t, 20*time.Second, filepath.Join(dir, "keepalived.conf"))
	if err != nil || len(res.Config.Scripts) != 1000 {
		t.Errorf("1,000 included files: err %v", err)
	}
}

// TestIncludeBracesBounded: 200 brace groups on one include line would
// expand to 2^200 patterns; the expansion stops past maxIncludes.
func TestIncludeBracesBounded(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"keepalived.conf": "include " + strings.Repeat("{a,b}", 200) + "\n"})
	res, err := readWithin(t, 10*time.Second, filepath.Join(dir, "keepalived.conf"))
	if err == nil || !strings.Contains(res.Diags.String(), fmt.Sprintf("expand to more than %d patterns", maxIncludes)) {
		t.Errorf("err = %v", err)
	}
	for _, tc := range []struct {
		in   string
		max  int
		n    int
		want bool
	}{
		{"{a,b}{c,d}", 4, 4, true}, {"{a,b}{c,d}", 3, 3, false}, {"{a,b}{c,d}", -1, 4, true},
		{"x{y}{a,b}", 2, 2, true}, {"x{y}{a,b}", 1, 1, false}, {"plain", 1, 1, true}, {"plain", 0, 0, false},
	} {
		out, ok := expandBracesMax(tc.in, tc.max)
		if len(out) != tc.n || ok != tc.want {
			t.Errorf("expandBracesMax(%q, %d) = %q, %v; want %d patterns, %v", tc.in, tc.max, out, ok, tc.n, tc.want)
		}
	}
}

// TestLoopLinesBounded: nested ~SEQ loops multiply (two of 60,001 values
// made 3.6e9 lines, minutes of -t); the lines loops make in all are
// bounded.
func TestLoopLinesBounded(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"keepalived.conf": "~SEQ(i,0,60000) ~SEQ(j,0,60000) # $i $j\n"})
	res, err := readWithin(t, 20*time.Second, filepath.Join(dir, "keepalived.conf"))
	if err == nil || !strings.Contains(res.Diags.String(), fmt.Sprintf("more than %d lines in all", maxGenLines)) {
		t.Errorf("err = %v", err)
	}
}
