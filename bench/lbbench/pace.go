package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// paceResult is what pace mode prints.
type paceResult struct {
	Done   uint64  `json:"done"`
	Errors uint64  `json:"errors"`
	Rate   float64 `json:"rate"`
}

func numCPU() int { return runtime.NumCPU() }

// paceMain is `lbbench pace`: it runs in the client's namespace and sends
// UDP datagrams (mode udp) or opens TCP connections doing one HTTP/1.0
// GET each (mode tcp) at a fixed rate, in 1 ms batches, so that the
// sender's own CPU stays small and the same in every scenario.
func paceMain(args []string) error {
	fs := flag.NewFlagSet("pace", flag.ContinueOnError)
	mode := fs.String("mode", "udp", "udp or tcp")
	dstS := fs.String("dst", "", "destination ADDR:PORT")
	srcS := fs.String("src", "", "source address")
	rate := fs.Int("rate", 1000, "per second")
	d := fs.Duration("d", 10*time.Second, "duration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dst, err := netip.ParseAddrPort(*dstS)
	if err != nil {
		return fmt.Errorf("pace: -dst: %w", err)
	}
	src, err := netip.ParseAddr(*srcS)
	if err != nil {
		return fmt.Errorf("pace: -src: %w", err)
	}
	var done, errs atomic.Uint64
	var send func(i int)
	var wg sync.WaitGroup
	switch *mode {
	case "udp":
		// 64 sockets: 64 source ports, so that hashing balancers spread.
		var socks []*net.UDPConn
		for range 64 {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
			if err != nil {
				return fmt.Errorf("pace: %w", err)
			}
			defer c.Close()
			socks = append(socks, c)
		}
		payload := make([]byte, 18) // a 60-byte frame, as the flood's
		to := net.UDPAddrFromAddrPort(dst)
		send = func(i int) {
			if _, err := socks[i%len(socks)].WriteToUDP(payload, to); err != nil {
				errs.Add(1)
				return
			}
			done.Add(1)
		}
	case "tcp":
		req := []byte("GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
		dialer := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
		send = func(int) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dialer.Dial("tcp", dst.String())
				if err != nil {
					errs.Add(1)
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(req); err != nil {
					errs.Add(1)
					return
				}
				if _, err := io.Copy(io.Discard, c); err != nil {
					errs.Add(1)
					return
				}
				done.Add(1)
			}()
		}
	default:
		return fmt.Errorf("pace: unknown mode %q", *mode)
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for now := range tick.C {
		el := now.Sub(start)
		if el >= *d {
			break
		}
		due := int(el.Seconds() * float64(*rate))
		for ; sent < due; sent++ {
			send(sent)
		}
	}
	el := time.Since(start)
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(paceResult{Done: done.Load(), Errors: errs.Load(),
		Rate: float64(sent) / el.Seconds()})
}
