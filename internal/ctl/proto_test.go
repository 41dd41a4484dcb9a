package ctl

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestServeAndCall(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ulvsd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	want := &IPVS{Version: "1.2.1", Size: 4096, Services: []Service{{Proto: "TCP",
		Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Sched: "rr", Netmask: 32}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, HandlerFunc(func(_ context.Context, r *Request) *Response {
			switch r.Op {
			case OpIPVS:
				return &Response{IPVS: want}
			case OpEdit:
				if r.Edit == nil || r.Edit.Cmd != EditZero {
					return &Response{Error: "unexpected edit"}
				}
				return &Response{}
			}
			return &Response{Error: "unknown op " + r.Op}
		}))
	}()
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	resp, err := Call(cctx, path, &Request{Op: OpIPVS})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, resp.IPVS, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := Call(cctx, path, &Request{Op: OpEdit, Edit: &Edit{Cmd: EditZero}}); err != nil {
		t.Errorf("edit: %v", err)
	}
	if _, err := Call(cctx, path, &Request{Op: "bogus"}); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Errorf("unknown op: err = %v", err)
	}
	// Garbage on the socket gets an error answer, and the server lives on.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("{not json\n"))
	buf := make([]byte, 256)
	n, _ := c.Read(buf)
	c.Close()
	if !strings.Contains(string(buf[:n]), "bad request") {
		t.Errorf("garbage answered with %q", buf[:n])
	}
	if _, err := Call(cctx, path, &Request{Op: OpIPVS}); err != nil {
		t.Errorf("server died after garbage: %v", err)
	}
	// A second daemon may not take the socket over.
	if _, err := Listen(path); err == nil {
		t.Error("Listen on a live socket must fail")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestCallWithoutDaemon(t *testing.T) {
	t.Parallel()
	_, err := Call(context.Background(), filepath.Join(t.TempDir(), "none.sock"), &Request{Op: OpIPVS})
	if err == nil || !strings.Contains(err.Error(), "is ulvsd running") {
		t.Errorf("err = %v", err)
	}
}
