package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
)

// runECMP is `ulvslab demo --ecmp`: the scale-out story in under two
// minutes. Three directors announce the VIP to a BIRD router; flows spread
// over all three; every director picks the same real server for a client;
// streams survive a director stopped with SIGTERM and another whose link is
// cut (BFD); everything heals and goes away.
func (d *demo) runECMP() error {
	out := d.out
	d.next("bring up the ECMP lab: a BIRD router, three directors announcing the VIP over BGP, three nginx real servers")
	d.show("up --ecmp --directors 3")
	l, err := up(d.g, upOptions{mode: "dr", directors: 3, servers: 3, http: "auto", ecmp: true}, modeDR, true, out)
	if err != nil {
		return err
	}
	d.lab = l
	vip := l.st.Targets[0]
	hops := l.nextHops()
	if err := d.check(len(hops) == 3, "the router routes %s through %d directors: %v", vip.Addr(), len(hops), hops); err != nil {
		return err
	}
	out.cmd("ulvsadm bgp    # on director1")
	out.block(l.adm(l.st.node("director1"), "bgp"))

	d.next("60 requests from 60 client addresses: the router spreads them, every director serves some")
	d.show("curl 60")
	res, per := l.ecmpSpread(vip, "/", 60)
	res.print(out)
	printPerDirector(out, per, 60)
	busy := 0
	for _, n := range per {
		if n > 0 {
			busy++
		}
	}
	if err := d.check(res.failed == 0 && busy == 3, "%d answered, %d failed; %d of 3 directors served", 60-res.failed, res.failed, busy); err != nil {
		return err
	}

	d.next("one flow hop by hop: router hash → director → mh-ecmp slot → real server")
	d.show("trace")
	terr := l.traceECMP(vip, "/", 3)
	if err := d.check(terr == nil, "the flow went where the router's hash and the director's slot said (%v)", terr); err != nil {
		return err
	}

	d.next("agreement: each director asked directly names the same real server for each of 30 clients")
	agree, err := l.ecmpAgreement(vip, 30)
	if err != nil {
		return err
	}
	if err := d.check(agree == 30, "%d of 30 clients get the same real server from all three directors", agree); err != nil {
		return err
	}

	d.next("30 long downloads, then director2 stopped with SIGTERM and director3's link cut")
	streams, err := l.ecmpStreams(vip, 30)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	d.show("fail director2 --term")
	if err := l.failDirector("director2", "term"); err != nil {
		return err
	}
	d.show("fail director3 --link")
	if err := l.failDirector("director3", "link"); err != nil {
		return err
	}
	got, broken := streams.wait(25 * time.Second)
	if err := d.check(broken == 0 && got == 30, "%d of 30 downloads complete, %d broken: the flows moved to director1 and kept their real servers", got, broken); err != nil {
		return err
	}

	d.next("heal: director2 restarted, director3's link up; the router takes them back")
	d.show("heal")
	if err := l.heal(); err != nil {
		return err
	}
	hops = l.nextHops()
	if err := d.check(len(hops) == 3, "the router routes through %v again", hops); err != nil {
		return err
	}

	d.next("take the lab down")
	d.show("down")
	if err := teardown(l.st, out); err != nil {
		return err
	}
	left, _ := topo.Namespaces(d.g.prefix)
	return d.check(len(left) == 0, "no namespace of the lab is left")
}

// ecmpAgreement asks every director directly (a host route on the client)
// which real server serves each of n clients, and counts the clients all
// directors agree on.
func (l *lab) ecmpAgreement(vip netip.AddrPort, n int) (int, error) {
	client := l.nodes["client"]
	seen := make([]map[string]bool, n)
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	for _, d := range l.st.byRole(roleDirector) {
		if err := client.IP("route", "replace", vip.Addr().String()+"/32", "via", d.addr4().String(), "dev", "eth0", "onlink"); err != nil {
			return 0, err
		}
		for i := range n {
			body, err := getFrom(l.st.node("client").NS, clientAddr(i), 0, vip, "/", 2*time.Second)
			if err != nil {
				return 0, fmt.Errorf("ulvslab: through %s: %w", d.Name, err)
			}
			seen[i][body] = true
		}
	}
	if err := client.IP("route", "del", vip.Addr().String()+"/32"); err != nil {
		return 0, err
	}
	agree := 0
	for _, s := range seen {
		if len(s) == 1 {
			agree++
		}
	}
	l.out.line("each director asked through a host route on the client: ip route replace %s via DIRECTOR onlink", vip.Addr())
	return agree, nil
}

// streamSet is a set of downloads running in the background.
type streamSet struct {
	done chan error
	n    int
}

// ecmpStreams starts n downloads of /big (1 MiB, paced by nginx at
// 128 KiB/s, 8 s each) from n client addresses.
func (l *lab) ecmpStreams(vip netip.AddrPort, n int) (*streamSet, error) {
	s := &streamSet{done: make(chan error, n), n: n}
	var conns []net.Conn
	err := topo.InNamespace(l.st.node("client").NS, func() error {
		for i := range n {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: clientAddr(100 + i).AsSlice()}, Timeout: 2 * time.Second}
			c, err := d.Dial("tcp4", vip.String())
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return nil, fmt.Errorf("ulvslab: streams: %w", err)
	}
	for _, c := range conns {
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(40 * time.Second))
			fmt.Fprintf(c, "GET /big HTTP/1.0\r\nHost: %s\r\n\r\n", vip.Addr())
			b, err := io.ReadAll(c)
			if err == nil && (!strings.HasPrefix(string(b), "HTTP/1.1 200") || len(b) < bigSize) {
				err = fmt.Errorf("short: %d bytes", len(b))
			}
			s.done <- err
		}()
	}
	return s, nil
}

// wait returns how many downloads completed and how many broke.
func (s *streamSet) wait(timeout time.Duration) (ok, broken int) {
	deadline := time.After(timeout)
	for range s.n {
		select {
		case err := <-s.done:
			if err != nil {
				broken++
			} else {
				ok++
			}
		case <-deadline:
			return ok, broken
		}
	}
	return ok, broken
}

// bigSize is the size of /big on the ECMP lab's real servers: 1 MiB, which
// nginx sends at 128 KiB/s (8 s a download).
const bigSize = 1 << 20
