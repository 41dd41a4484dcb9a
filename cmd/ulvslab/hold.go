package main

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// runHold is `ulvslab hold`, chaos's hostile local client: it opens N
// connections to a TCP address or a unix socket and holds them: every
// third sends a whole request and idles (keep-alive), every third sends
// nothing, every third trickles a request a byte a second (slowloris). It
// prints how many it holds and runs until killed or --for passes.
func runHold(g *globals, args []string, out *printer) error {
	fs := flags("hold")
	tcp := fs.String("tcp", "", "HOST:PORT to connect to")
	unix := fs.String("unix", "", "unix socket to connect to")
	n := fs.Int("n", 1000, "connections")
	dur := fs.Duration("for", time.Hour, "how long to hold them")
	if err := parse(fs, args); err != nil {
		return err
	}
	network, addr := "tcp", *tcp
	if *unix != "" {
		network, addr = "unix", *unix
	}
	if addr == "" {
		return usagef("--tcp or --unix")
	}
	var mu sync.Mutex
	var held, slow []net.Conn
	next := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := net.DialTimeout(network, addr, 200*time.Millisecond)
				if err != nil {
					continue
				}
				mu.Lock()
				switch i % 3 {
				case 0:
					if network == "tcp" {
						fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
					} else {
						fmt.Fprintf(c, "{\"op\":\"status\"}\n")
					}
				case 2:
					slow = append(slow, c)
				}
				held = append(held, c)
				mu.Unlock()
			}
		}()
	}
	for i := range *n {
		next <- i
	}
	close(next)
	wg.Wait()
	fmt.Fprintf(os.Stdout, "HELD %d\n", len(held))
	// Slow clients: a byte a second each, of a request that never ends.
	end := time.Now().Add(*dur)
	for time.Now().Before(end) {
		time.Sleep(time.Second)
		for _, c := range slow {
			c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			c.Write([]byte("X"))
		}
	}
	return nil
}
