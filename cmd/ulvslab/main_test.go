package main

import (
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCommandLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		out  string // substring of stdout+stderr
	}{
		{nil, 2, "usage: ulvslab"},
		{[]string{"--help"}, 0, "commands:"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"--prefix", "Bad/Prefix", "status"}, 2, "--prefix"},
		{[]string{"up", "--mode", "fullnat"}, 2, `unknown mode "fullnat"`},
		{[]string{"up", "--http", "apache"}, 2, "--http must be"},
		{[]string{"up", "--config", "x.conf", "--servers", "2"}, 2, "--servers applies to the default config"},
		{[]string{"up", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"curl", "many"}, 2, "N must be a number"},
		{[]string{"curl", "0"}, 2, "N must be a number"},
		{[]string{"fail"}, 2, "name what fails"},
		{[]string{"serve"}, 2, "--name is required"},
		{[]string{"trace", "x"}, 2, `unexpected argument "x"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			code := run(tc.args, &out, &out)
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, tc.code, tc.out, out.String())
			}
		})
	}
}

// TestStateRoundTrip: what up writes, later commands read back whole.
func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := &state{Prefix: "t-", Dir: labDir(dir, "t-"), Mode: modeNAT, Directors: 2,
		Created: time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC), Source: "default",
		Targets:   []netip.AddrPort{netip.MustParseAddrPort("198.18.0.100:80")},
		Instances: []string{"VI_1"},
		Nodes: []*nodeState{{Name: "rs1", Role: roleReal, NS: "t-rs1", Port: "p3-rs1", MAC: "02:00:00:00:00:11",
			Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.1.11/24")}, Gateway: natGateway(), HTTPPorts: []uint16{80},
			Procs:  map[string]*procState{procHTTP: {Pid: 42, Log: "/x.log", Nginx: true}},
			Failed: []string{"http"}}},
	}
	if err := mkdir(st.Dir); err != nil {
		t.Fatal(err)
	}
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got, addrCmp, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("(-saved +loaded):\n%s", diff)
	}
	if !got.Nodes[0].failed("http") || got.node("rs1") == nil || len(got.byRole(roleReal)) != 1 {
		t.Error("helpers do not find what was saved")
	}
	if _, err := loadState(dir, "other-"); err == nil || !strings.Contains(err.Error(), "no lab is up") {
		t.Errorf("missing state: %v", err)
	}
}

func mkdir(d string) error { return os.MkdirAll(d, 0o755) }
