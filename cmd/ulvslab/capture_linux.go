package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/internal/topo"
)

// capture taps switch ports: one AF_PACKET socket per port, opened inside
// the switch namespace. A port sees both what its node sends and what the
// bridge delivers to it, like a mirror port on a real switch, so nothing
// runs in the nodes and their own taps (ulvsd's rings) are undisturbed.
type capture struct {
	conns  []*packet.Conn
	mu     sync.Mutex
	frames [][]seen
	last   atomic.Int64 // unix nanoseconds of the last frame
	wg     sync.WaitGroup
}

// startCapture opens the sockets and starts reading.
func startCapture(ns string, ports []string) (*capture, error) {
	c := &capture{frames: make([][]seen, len(ports))}
	err := topo.InNamespace(ns, func() error {
		for _, p := range ports {
			ifi, err := net.InterfaceByName(p)
			if err != nil {
				return err
			}
			conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			c.conns = append(c.conns, conn)
		}
		return nil
	})
	if err != nil {
		c.close()
		return nil, fmt.Errorf("ulvslab: capture: %w", err)
	}
	c.last.Store(time.Now().UnixNano())
	for i, conn := range c.conns {
		c.wg.Add(1)
		go c.read(i, conn)
	}
	return c, nil
}

func (c *capture) read(i int, conn *packet.Conn) {
	defer c.wg.Done()
	buf := make([]byte, 1<<17)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return // closed
		}
		now := time.Now()
		c.last.Store(now.UnixNano())
		c.mu.Lock()
		c.frames[i] = append(c.frames[i], seen{At: now, Raw: append([]byte(nil), buf[:n]...)})
		c.mu.Unlock()
	}
}

// quiet waits until no frame has arrived for idle, at most max.
func (c *capture) quiet(idle, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if time.Since(time.Unix(0, c.last.Load())) >= idle {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop closes the sockets and returns each port's frames.
func (c *capture) stop() [][]seen {
	c.close()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

func (c *capture) close() {
	for _, conn := range c.conns {
		_ = conn.Close()
	}
}
