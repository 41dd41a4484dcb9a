package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
)

// get fetches http://target/path on a new connection opened inside the
// namespace ns (the client's), from localPort when it is not 0, and
// returns the body without its trailing newline. Any status but 200 is an
// error. It is curl's job done without curl, so the lab needs no client
// tools and a trace can know the client's port in advance.
func get(ns string, target netip.AddrPort, path string, localPort int, timeout time.Duration) (string, error) {
	var laddr *net.TCPAddr
	if localPort != 0 {
		laddr = &net.TCPAddr{Port: localPort}
	}
	return getWith(ns, laddr, target, path, timeout)
}

// getWith is get from the local address laddr (nil: any).
func getWith(ns string, laddr *net.TCPAddr, target netip.AddrPort, path string, timeout time.Duration) (string, error) {
	var c net.Conn
	err := topo.InNamespace(ns, func() error {
		d := net.Dialer{Timeout: timeout}
		if laddr != nil {
			d.LocalAddr = laddr
		}
		var err error
		c, err = d.Dial("tcp4", target.String())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("ulvslab: connect %s: %w", target, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ulvslab\r\nConnection: close\r\n\r\n", path, target.Addr())
	if _, err := io.WriteString(c, req); err != nil {
		return "", fmt.Errorf("ulvslab: GET http://%s%s: %w", target, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", fmt.Errorf("ulvslab: GET http://%s%s: %w", target, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", fmt.Errorf("ulvslab: GET http://%s%s: %w", target, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ulvslab: GET http://%s%s: %s", target, path, resp.Status)
	}
	return strings.TrimRight(string(body), "\r\n"), nil
}
