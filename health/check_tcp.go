package health

import (
	"context"
	"time"
)

// tcpProber is TCP_CHECK: the check passes when connect() succeeds.
type tcpProber struct {
	d       Dialer
	conn    Conn
	timeout time.Duration
}

func (p *tcpProber) steps() int { return 1 }

func (p *tcpProber) probe(ctx context.Context, _ int) outcome {
	ctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	c, err := p.d.DialContext(ctx, "tcp", p.conn)
	if err != nil {
		if isTimeout(err) {
			return failed("TCP connection to " + RSKey(p.conn.Dst) + " timeout")
		}
		return failed("TCP connection to " + RSKey(p.conn.Dst) + " failed: " + err.Error())
	}
	c.Close()
	return passed("TCP connection to " + RSKey(p.conn.Dst) + " success")
}

// buildTCP is TCP_CHECK's row of kinds.
func buildTCP(a *probeArgs) (prober, error) {
	return &tcpProber{d: a.r.dialer, conn: a.conn, timeout: a.t.connectTimeout}, nil
}
