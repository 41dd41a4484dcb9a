package netcap

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestCapAndEviction: 50 clients that send one request and stay idle, and
// 50 that connect and send nothing, hold at most the cap's descriptors;
// a scrape still gets its answer (an idle one makes room for it).
func TestCapAndEviction(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const max = 8
	ln := Limit(raw, max)
	var open, peak atomic.Int32
	srv := &http.Server{ReadHeaderTimeout: 500 * time.Millisecond, IdleTimeout: time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }),
		ConnState: func(c net.Conn, s http.ConnState) {
			ln.ConnState(c, s)
			switch s {
			case http.StateNew:
				n := open.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}}
	go srv.Serve(ln)
	defer srv.Close()
	addr := raw.Addr().String()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range 100 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if i%2 == 0 {
			// A keep-alive request, answered, then idle.
			fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			bufio.NewReader(c).ReadString('\n')
		}
	}
	start := time.Now()
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("a scrape behind 100 idle clients: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("answered %q after %v; peak %d connections, %d idle ones evicted", b, time.Since(start).Round(time.Millisecond),
		peak.Load(), ln.Evicted())
	if p := peak.Load(); p > max {
		t.Errorf("%d connections open at once, cap %d", p, max)
	}
	if ln.Evicted() == 0 {
		t.Error("no idle connection was evicted")
	}
}

// TestBudgetFor: the listeners' caps grow with the limit, within their
// floors and ceilings.
func TestBudgetFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit            uint64
		metrics, control int
	}{
		{0, 4, 2},
		{64, 4, 2},
		{256, 16, 4},
		{1024, 64, 16},
		{2048, 64, 16},
		{1 << 20, 64, 16},
		{160, 10, 2},
	} {
		if got := BudgetFor(tc.limit); got != (Budget{Limit: tc.limit, Metrics: tc.metrics, Control: tc.control}) {
			t.Errorf("BudgetFor(%d) = %+v, want metrics %d, control %d", tc.limit, got, tc.metrics, tc.control)
		}
	}
}
