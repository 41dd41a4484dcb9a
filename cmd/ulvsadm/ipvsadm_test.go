package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/sched"
)

// fakeDaemon answers the control socket with a fixed table and records
// the edits it receives.
type fakeDaemon struct {
	mu    sync.Mutex
	edits []ctl.Edit
}

func (f *fakeDaemon) Handle(_ context.Context, r *ctl.Request) *ctl.Response {
	switch r.Op {
	case ctl.OpIPVS:
		return &ctl.Response{IPVS: &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{{
			Proto: "TCP", Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Sched: "rr", Netmask: 32,
			Dests: []ctl.Dest{{Addr: netip.MustParseAddr("198.18.0.11"), Port: 80, Method: "Route", Weight: 1, Active: 1}},
		}}}}
	case ctl.OpConns:
		return &ctl.Response{Conns: []ctl.Conn{{Proto: "TCP", Expires: 61, State: "ESTABLISHED",
			Source: netip.MustParseAddrPort("198.18.128.1:40000"), Virtual: netip.MustParseAddrPort("198.18.0.100:80"),
			Dest: netip.MustParseAddrPort("198.18.0.11:80")}}}
	case ctl.OpEdit:
		f.mu.Lock()
		f.edits = append(f.edits, *r.Edit)
		f.mu.Unlock()
		return &ctl.Response{}
	}
	return &ctl.Response{Error: "unknown op"}
}

func startFake(t *testing.T) (*fakeDaemon, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ulvsd.sock")
	ln, err := ctl.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &fakeDaemon{}
	go ctl.Serve(ctx, ln, f)
	return f, path
}

func TestListLikeIPVSAdm(t *testing.T) {
	t.Parallel()
	_, sock := startFake(t)
	out, stderr, rc := runCmd(t, "-Ln", "--socket", sock)
	want := "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"TCP  198.18.0.100:80 rr\n" +
		"  -> 198.18.0.11:80               Route   1      1          0         \n"
	if rc != 0 || out != want {
		t.Errorf("rc %d stderr %q\n%s", rc, stderr, cmp.Diff(want, out))
	}
	out, _, rc = runCmd(t, "-Lnc", "--socket", sock)
	if rc != 0 || !strings.Contains(out, "TCP 01:01  ESTABLISHED 198.18.128.1:40000 198.18.0.100:80    198.18.0.11:80") {
		t.Errorf("-Lnc: rc %d\n%s", rc, out)
	}
	out, _, rc = runCmd(t, "-L", "-n", "-t", "198.18.0.100:80", "--socket", sock)
	if rc != 0 || !strings.HasPrefix(out, "Prot LocalAddress:Port Scheduler Flags\n") || !strings.Contains(out, "TCP  198.18.0.100:80 rr") {
		t.Errorf("-L -t: rc %d\n%s", rc, out)
	}
	_, stderr, rc = runCmd(t, "-L", "-n", "-t", "198.18.0.1:80", "--socket", sock)
	if rc != 1 || !strings.Contains(stderr, "No such service") {
		t.Errorf("unknown service: rc %d %q", rc, stderr)
	}
	out, _, rc = runCmd(t, "-Ln", "--json", "--socket", sock)
	if rc != 0 || !strings.Contains(out, `"sched": "rr"`) {
		t.Errorf("--json: rc %d\n%s", rc, out)
	}
}

func TestEditsInIPVSAdmSyntax(t *testing.T) {
	t.Parallel()
	f, sock := startFake(t)
	for _, args := range [][]string{
		{"-A", "-t", "198.18.0.100:443", "-s", "sh", "-b", "sh-port", "-p", "50", "-M", "255.255.255.0"},
		{"-a", "-t", "198.18.0.100:443", "-r", "198.18.0.12", "-m", "-w", "3"},
		{"-e", "-u", "198.18.0.100:53", "-r", "198.18.0.13:5353", "-w", "0", "-x", "100", "-y", "50"},
		{"-d", "-f", "7", "-r", "198.18.0.14"},
		{"-Z"},
		{"--set", "900,120,300"},
	} {
		if _, stderr, rc := runCmd(t, append(args, "--socket", sock)...); rc != 0 {
			t.Fatalf("%v: rc %d %s", args, rc, stderr)
		}
	}
	a := netip.MustParseAddr
	want := []ctl.Edit{
		{Cmd: "A", Service: &ctl.ServiceSpec{Proto: "TCP", Addr: a("198.18.0.100"), Port: 443, Sched: "sh",
			Flags: sched.FlagSched2 | ctl.FlagPersistent, Timeout: 50, Netmask: 24}},
		{Cmd: "a", Service: &ctl.ServiceSpec{Proto: "TCP", Addr: a("198.18.0.100"), Port: 443},
			Dest: &ctl.DestSpec{Addr: a("198.18.0.12"), Port: 443, Method: "Masq", Weight: 3}},
		{Cmd: "e", Service: &ctl.ServiceSpec{Proto: "UDP", Addr: a("198.18.0.100"), Port: 53},
			Dest: &ctl.DestSpec{Addr: a("198.18.0.13"), Port: 5353, Method: "Route", Weight: 0, UThreshold: 100, LThreshold: 50}},
		{Cmd: "d", Service: &ctl.ServiceSpec{FWMark: 7}, Dest: &ctl.DestSpec{Addr: a("198.18.0.14"), Method: "Route", Weight: 1}},
		{Cmd: "Z"},
		{Cmd: "set", Timeouts: &ctl.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := cmp.Diff(want, f.edits, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("edits (-want +got):\n%s", d)
	}
}

func TestBadEdits(t *testing.T) {
	t.Parallel()
	_, sock := startFake(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-A", "-s", "rr"}, "needs a virtual service"},
		{[]string{"-A", "-t", "198.18.0.1:80", "-s", "fastest"}, "unknown scheduler"},
		{[]string{"-A", "-t", "198.18.0.1:80", "-s", "rr", "-b", "sh-port"}, "sched"},
		{[]string{"-a", "-t", "198.18.0.1:80"}, "needs a real server"},
		{[]string{"-A", "-D", "-t", "198.18.0.1:80"}, "only one command"},
		{[]string{"-A", "-t", "nonsense:80"}, "illegal address"},
		{[]string{"-A", "-t", "198.18.0.1:80", "-M", "255.0.255.0"}, "mask"},
	} {
		_, stderr, rc := runCmd(t, append(tc.args, "--socket", sock)...)
		if rc == 0 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: rc %d, stderr %q; want an error containing %q", tc.args, rc, stderr, tc.msg)
		}
	}
}
