// Package netcap bounds what a listener's clients may hold: at most Max
// connections at once, so that no local client (the metrics port is open
// to every local user) can take the descriptors the health checkers need.
// When the cap is reached, the connection idle longest is closed to make
// room; when none is idle, Accept waits, and further clients wait in the
// kernel's listen backlog, where they cost the daemon no descriptor.
package netcap

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Listener is a net.Listener with a connection cap. Give its ConnState to
// the http.Server that serves it, so that it knows which connections are
// idle.
type Listener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	idle map[net.Conn]time.Time
	// evicted counts idle connections closed to make room.
	evicted uint64
}

// Limit caps ln at n connections (at least 1).
func Limit(ln net.Listener, n int) *Listener {
	return &Listener{Listener: ln, sem: make(chan struct{}, max(n, 1)), done: make(chan struct{}),
		idle: map[net.Conn]time.Time{}}
}

// Accept waits for a free slot (closing the connection idle longest when
// there is none), then accepts.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.evictIdle()
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &conn{Conn: c, l: l}, nil
}

// Close closes the listener and wakes a waiting Accept.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Evicted returns how many idle connections were closed to make room.
func (l *Listener) Evicted() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}

// ConnState tracks idle connections; set it as http.Server.ConnState.
func (l *Listener) ConnState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == http.StateIdle {
		l.idle[c] = time.Now()
	} else {
		delete(l.idle, c)
	}
}

// evictIdle closes the connection idle longest, if any.
func (l *Listener) evictIdle() {
	l.mu.Lock()
	var oldest net.Conn
	var at time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(at) {
			oldest, at = c, t
		}
	}
	if oldest != nil {
		delete(l.idle, oldest)
		l.evicted++
	}
	l.mu.Unlock()
	if oldest != nil {
		oldest.Close()
	}
}

// conn gives its slot back once closed.
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}

// Budget is how many connections ulvsd's listeners may hold at most, from
// the descriptor limit: whatever local users do to the metrics port or the
// control socket, the checkers, VRRP and the data path keep the rest.
type Budget struct {
	// Limit is the descriptor limit the budget comes from.
	Limit uint64
	// Metrics is --metrics' cap: limit/16, from 4 to 64.
	Metrics int
	// Control is the control socket's cap: limit/64, from 2 to 16.
	Control int
}

// LowLimit is a descriptor limit below which a director is short (each
// checker needs one while it checks): ulvsd warns.
const LowLimit = 256

// BudgetFor divides a descriptor limit.
func BudgetFor(limit uint64) Budget {
	return Budget{Limit: limit, Metrics: int(min(max(limit/16, 4), 64)), Control: int(min(max(limit/64, 2), 16))}
}
