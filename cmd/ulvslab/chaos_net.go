package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"

	"github.com/ulvs/ulvs/internal/procstat"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/vrrp"
)

// Paced real servers serve chaosBigSize bytes at /big at chaosBigRate (nginx's
// limit_rate): a download lasts chaosBigSize/chaosBigRate, 8 s, long enough to
// cross a failover or a reload storm.
const (
	chaosBigSize = 4 << 20
	chaosBigRate = "512k"
)

// chaosBigBody is /big: one line naming nothing (nginx serves the same file
// on every real server), then filler; a download is judged by its length.
func chaosBigBody() []byte {
	b := make([]byte, chaosBigSize)
	for i := range b {
		b[i] = "0123456789abcdef"[i%16]
	}
	b[len(b)-1] = '\n'
	return b
}

// nsHTTP is an HTTP client whose connections are opened inside the
// namespace ns (the client's): they stay there whichever thread uses them.
func nsHTTP(ns string, timeout time.Duration) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := topo.InNamespace(ns, func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true,
		ResponseHeaderTimeout: timeout}}
}

// fetch GETs url and returns the body's length and its first line.
func fetch(c *http.Client, url string) (n int64, first string, err error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("status %s", resp.Status)
	}
	br := bufio.NewReader(resp.Body)
	line, _ := br.ReadString('\n')
	rest, err := io.Copy(io.Discard, br)
	return int64(len(line)) + rest, strings.TrimSpace(line), err
}

// vipHolder reads, through netlink in each director's namespace, whether
// eth0 holds the VIP and whether it is up.
type vipHolder struct {
	h   *netlink.Handle
	vip netip.Addr
}

func newVIPHolder(ns string, vip netip.Addr) (*vipHolder, error) {
	nh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	h, err := netlink.NewHandleAt(nh)
	if err != nil {
		return nil, err
	}
	return &vipHolder{h: h, vip: vip}, nil
}

// read reports whether eth0 is up and holds the VIP.
func (v *vipHolder) read() (up, holds bool) {
	link, err := v.h.LinkByName("eth0")
	if err != nil {
		return false, false
	}
	up = link.Attrs().Flags&net.FlagUp != 0
	addrs, err := v.h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return up, false
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == v.vip {
			return up, true
		}
	}
	return up, false
}

func (v *vipHolder) close() { v.h.Close() }

// hostileVRRP sends count adverts for the lab's VRID from the client's
// namespace, cycling through what the receive checks must refuse:
// priority 255 with another password, TTL 254, no authentication, another
// advert interval, a bad checksum. It returns how many of each it sent.
func hostileVRRP(ns string, vrid uint8, vip netip.Addr, pass string, count int, every time.Duration) (map[string]int, error) {
	sent := map[string]int{}
	var pc net.PacketConn
	var rc *ipv4.RawConn
	err := topo.InNamespace(ns, func() error {
		var err error
		pc, err = net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return err
		}
		if rc, err = ipv4.NewRawConn(pc); err != nil {
			return err
		}
		// The client has no route to 224.0.0.18: name the interface.
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return rc.SetMulticastInterface(ifi)
	})
	if err != nil {
		return nil, fmt.Errorf("raw VRRP socket: %w", err)
	}
	defer pc.Close()
	src := netip.MustParseAddr("198.18.0.1")
	group := net.IPv4(224, 0, 0, 18)
	kinds := []string{"wrong password", "ttl 254", "no authentication", "wrong interval", "bad checksum"}
	for i := range count {
		kind := kinds[i%len(kinds)]
		a := vrrp.Advert{Version: 2, Family: vrrp.IPv4, VRID: vrid, Priority: 255, AdverInt: 1, AuthType: vrrp.AuthPass,
			Addrs: []netip.Addr{vip}}
		copy(a.AuthData[:], pass)
		ttl := 255
		switch kind {
		case "wrong password":
			a.AuthData = [vrrp.AuthLen]byte{'e', 'v', 'i', 'l'}
		case "ttl 254":
			ttl = 254
		case "no authentication":
			a.AuthType, a.AuthData = vrrp.AuthNone, [vrrp.AuthLen]byte{}
		case "wrong interval":
			a.AdverInt = 5
		}
		if err := a.SetChecksum(nil); err != nil {
			return sent, err
		}
		if kind == "bad checksum" {
			a.Checksum ^= 0x5a5a
		}
		payload, err := a.AppendBinary(nil)
		if err != nil {
			return sent, err
		}
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(payload), TTL: ttl,
			Protocol: 112, Src: src.AsSlice(), Dst: group}
		if err := rc.WriteTo(h, payload, nil); err != nil {
			return sent, fmt.Errorf("send %s: %w", kind, err)
		}
		sent[kind]++
		time.Sleep(every)
	}
	return sent, nil
}

// procRSS and procFDs read a process's resident set (KiB) and open
// descriptors.
func procRSS(pid int) int {
	p, err := procstat.ReadProcess(pid, true)
	if err != nil {
		return 0
	}
	return int(p.RSS >> 10)
}

func procFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// goroutines scrapes go_goroutines from a director's metrics (-1 when they
// do not answer).
func goroutines(c *http.Client, addr string) int {
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int(f)
		}
	}
	return -1
}
