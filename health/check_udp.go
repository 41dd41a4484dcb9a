package health

import (
	"context"
	"fmt"
	"time"
)

// udpProber is UDP_CHECK: send the payload on a connected socket; an ICMP
// error fails the check, a reply (matched against require_reply) passes
// it, and silence until the timeout passes it unless a reply is required
// (keepalived check_udp.c).
type udpProber struct {
	d       Dialer
	conn    Conn
	timeout time.Duration
	cfg     UDPCheck
}

func newUDPProber(d Dialer, conn Conn, timeout time.Duration, uc *UDPCheck) (*udpProber, error) {
	cfg := *uc
	if cfg.MaxReplyLen == 0 {
		cfg.MaxReplyLen = 255
	}
	if cfg.MaxReplyLen > 65535 || cfg.MinReplyLen < 0 || cfg.MinReplyLen > 65535 {
		return nil, fmt.Errorf("UDP_CHECK reply length bounds %d..%d not in 0..65535", cfg.MinReplyLen, cfg.MaxReplyLen)
	}
	if len(cfg.ReplyMask) != 0 && len(cfg.ReplyMask) != len(cfg.Reply) {
		return nil, fmt.Errorf("UDP_CHECK reply mask of %d bytes for a reply of %d", len(cfg.ReplyMask), len(cfg.Reply))
	}
	return &udpProber{d: d, conn: conn, timeout: timeout, cfg: cfg}, nil
}

func (p *udpProber) steps() int { return 1 }

func (p *udpProber) probe(ctx context.Context, _ int) outcome {
	ctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	who := RSKey(p.conn.Dst)
	c, err := p.d.DialContext(ctx, "udp", p.conn)
	if err != nil {
		return failed("UDP connection to " + who + " failed: " + err.Error())
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(p.cfg.Payload); err != nil {
		return failed("UDP connection to " + who + " failed: " + err.Error())
	}
	buf := make([]byte, p.cfg.MaxReplyLen+1)
	n, err := c.Read(buf)
	if err != nil {
		if isTimeout(err) && !p.cfg.RequireReply {
			return passed("UDP check to " + who + ": no ICMP error")
		}
		if isTimeout(err) {
			return failed("UDP check to " + who + ": no reply")
		}
		return failed("UDP connection to " + who + " failed: " + err.Error())
	}
	if len(p.cfg.Reply) > 0 && !p.replyMatches(buf[:n]) {
		return failed("UDP check to " + who + " reply data mismatch")
	}
	return passed("UDP connection to " + who + " success")
}

// replyMatches is keepalived's check_udp_reply: the length within bounds
// and the first min(len, len(Reply)) bytes equal outside the mask.
func (p *udpProber) replyMatches(b []byte) bool {
	if len(b) < p.cfg.MinReplyLen || len(b) > p.cfg.MaxReplyLen {
		return false
	}
	n := min(len(b), len(p.cfg.Reply))
	for i := 0; i < n; i++ {
		var mask byte
		if len(p.cfg.ReplyMask) > 0 {
			mask = p.cfg.ReplyMask[i]
		}
		if (b[i]^p.cfg.Reply[i])&^mask != 0 {
			return false
		}
	}
	return true
}

// buildUDP is UDP_CHECK's row of kinds.
func buildUDP(a *probeArgs) (prober, error) {
	return newUDPProber(a.r.dialer, a.conn, a.t.connectTimeout, &a.chk.UDP)
}
