package netcap

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
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
	// Count descriptors where they are: accepted by the raw listener and
	// not yet closed. (http.Server's StateClosed comes later, from the
	// connection's goroutine, so counting states would see an evicted
	// connection as open after its descriptor and slot are gone.)
	var open, peak atomic.Int32
	counted := &countingListener{Listener: raw, open: &open, peak: &peak}
	ln := Limit(counted, max)
	srv := &http.Server{ReadHeaderTimeout: 500 * time.Millisecond, IdleTimeout: time.Minute,
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }),
		ConnState: ln.ConnState}
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

// countingListener counts the connections it accepted that are not yet
// closed, and the most at once.
type countingListener struct {
	net.Listener
	open, peak *atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	return &countedConn{Conn: c, open: l.open}, nil
}

type countedConn struct {
	net.Conn
	open *atomic.Int32
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.open.Add(-1) })
	return err
}
