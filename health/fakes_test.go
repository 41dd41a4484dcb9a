package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// recSink is a Sink that records every operation and keeps the pools.
type recSink struct {
	mu    sync.Mutex
	ops   []string
	pools map[string]map[netip.AddrPort]Dest
	fail  map[netip.AddrPort]bool
}

func newRecSink() *recSink {
	return &recSink{pools: map[string]map[netip.AddrPort]Dest{}, fail: map[netip.AddrPort]bool{}}
}

func (s *recSink) op(kind, svc string, d Dest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sorry := ""
	if d.Sorry {
		sorry = " sorry"
	}
	if s.fail[d.Addr] {
		s.ops = append(s.ops, fmt.Sprintf("%s %s %s w=%d%s FAILED", kind, svc, d.Addr, d.Weight, sorry))
		return errors.New("fake sink failure")
	}
	s.ops = append(s.ops, fmt.Sprintf("%s %s %s w=%d%s", kind, svc, d.Addr, d.Weight, sorry))
	p := s.pools[svc]
	if p == nil {
		p = map[netip.AddrPort]Dest{}
		s.pools[svc] = p
	}
	switch kind {
	case "add", "update":
		p[d.Addr] = d
	case "remove":
		delete(p, d.Addr)
	}
	return nil
}

func (s *recSink) AddDest(svc string, d Dest) error    { return s.op("add", svc, d) }
func (s *recSink) UpdateDest(svc string, d Dest) error { return s.op("update", svc, d) }
func (s *recSink) RemoveDest(svc string, d Dest) error { return s.op("remove", svc, d) }

// takeOps returns and forgets the recorded operations.
func (s *recSink) takeOps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops
	s.ops = nil
	return o
}

// pool renders a service's pool as sorted "addr w=N[ sorry]" lines.
func (s *recSink) pool(svc string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, d := range s.pools[svc] {
		l := fmt.Sprintf("%s w=%d", d.Addr, d.Weight)
		if d.Sorry {
			l += " sorry"
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// recNotifier records notifications as text.
type recNotifier struct {
	mu  sync.Mutex
	got []string
}

func (n *recNotifier) Notify(x Notification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case x.Script != nil:
		s := "script " + x.Script.String()
		if x.Shutdown {
			s += " (shutdown)"
		}
		n.got = append(n.got, s)
	case x.FIFO != "":
		n.got = append(n.got, "fifo "+strings.TrimSuffix(x.FIFO, "\n"))
	case x.Mail != nil:
		n.got = append(n.got, "mail "+x.Mail.Subject+" | "+x.Mail.Body)
	}
}

func (n *recNotifier) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	o := n.got
	n.got = nil
	return o
}

// behaviour of a fake destination.
type behaviour int

const (
	accept behaviour = iota
	refuse
	hang
	unreachable
)

// fakeDialer decides per destination whether a connection succeeds.
// Successful connections are in-memory pipes (serve, when set, handles the
// far end), so it works inside a synctest bubble.
type fakeDialer struct {
	mu    sync.Mutex
	state map[netip.AddrPort]behaviour
	dials map[netip.AddrPort]int
	serve func(dst netip.AddrPort, c net.Conn)
}

func newFakeDialer() *fakeDialer {
	return &fakeDialer{state: map[netip.AddrPort]behaviour{}, dials: map[netip.AddrPort]int{}}
}

func (d *fakeDialer) set(a netip.AddrPort, b behaviour) {
	d.mu.Lock()
	d.state[a] = b
	d.mu.Unlock()
}

func (d *fakeDialer) count(a netip.AddrPort) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials[a]
}

func (d *fakeDialer) DialContext(ctx context.Context, network string, c Conn) (net.Conn, error) {
	d.mu.Lock()
	b := d.state[c.Dst]
	d.dials[c.Dst]++
	serve := d.serve
	d.mu.Unlock()
	switch b {
	case refuse:
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	case unreachable:
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ENETUNREACH}
	case hang:
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	near, far := net.Pipe()
	if serve != nil {
		go serve(c.Dst, far)
	} else {
		far.Close()
	}
	return near, nil
}

var _ Dialer = (*fakeDialer)(nil)

// ap parses an address:port.
func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func ptr[T any](v T) *T { return &v }

// tcpTiming is a TCP_CHECK-ready timing block.
func tcpTiming(delay, dbr, timeout time.Duration, retry int) Timing {
	return Timing{DelayLoop: delay, DelayBeforeRetry: dbr, ConnectTimeout: timeout, Retry: ptr(retry), Warmup: ptr(time.Duration(0))}
}

func countGoroutines() int { return runtime.NumGoroutine() }
