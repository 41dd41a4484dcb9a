package health

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingProber is PING_CHECK: one ICMP (or ICMPv6) echo, answered in time by
// an echo reply from the real server.
type pingProber struct {
	conn    Conn
	timeout time.Duration
	seq     atomic.Uint32
}

func (p *pingProber) steps() int { return 1 }

func (p *pingProber) probe(ctx context.Context, _ int) outcome {
	ctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	dst := p.conn.Dst.Addr().Unmap()
	who := dst.String()
	pc, raw, err := listenICMP(ctx, dst.Is6(), p.conn)
	if err != nil {
		return failed("PING_CHECK to " + who + ": " + err.Error())
	}
	defer pc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = pc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	id := int(rand.Uint32() & 0xffff)
	seq := int(p.seq.Add(1) & 0xffff)
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if dst.Is6() {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("ulvs health check")}}
	wb, err := m.Marshal(nil)
	if err != nil {
		return failed("PING_CHECK to " + who + ": " + err.Error())
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if raw {
		to = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	if _, err := pc.WriteTo(wb, to); err != nil {
		return failed("PING_CHECK to " + who + ": send: " + err.Error())
	}
	rb := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(rb)
		if err != nil {
			if isTimeout(err) {
				return failed("PING_CHECK to " + who + ": timeout")
			}
			return failed("PING_CHECK to " + who + ": " + err.Error())
		}
		if src, ok := addrOf(from); !ok || src != dst {
			continue
		}
		rm, err := icmp.ParseMessage(proto, rb[:n])
		if err != nil || rm.Type != reply {
			continue
		}
		echo, ok := rm.Body.(*icmp.Echo)
		// A ping socket rewrites the ID to its own; the kernel matches it.
		if !ok || echo.Seq != seq || (raw && echo.ID != id) {
			continue
		}
		return passed(fmt.Sprintf("PING_CHECK to %s: echo reply seq %d", who, seq))
	}
}

func addrOf(a net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch v := a.(type) {
	case *net.UDPAddr:
		ip = v.IP
	case *net.IPAddr:
		ip = v.IP
	default:
		return netip.Addr{}, false
	}
	ad, ok := netip.AddrFromSlice(ip)
	return ad.Unmap(), ok
}

// buildPing is PING_CHECK's row of kinds: its target is an address.
func buildPing(a *probeArgs) (prober, error) {
	a.c.name = a.kind + " " + a.conn.Dst.Addr().String()
	return &pingProber{conn: a.conn, timeout: a.t.connectTimeout}, nil
}
