package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// smtpProber is SMTP_CHECK: read the greeting (220), send HELO (250),
// send QUIT (221), as keepalived's check_smtp.c does.
type smtpProber struct {
	d       Dialer
	conn    Conn
	timeout time.Duration
	helo    string
}

func (p *smtpProber) steps() int { return 1 }

func (p *smtpProber) probe(ctx context.Context, _ int) outcome {
	dctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	c, err := p.d.DialContext(dctx, "tcp", p.conn)
	who := " server " + RSKey(p.conn.Dst)
	if err != nil {
		if isTimeout(err) {
			return failed("SMTP_CHECK connection timeout to" + who)
		}
		return failed("SMTP_CHECK connection failed to" + who + ": " + err.Error())
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	br := bufio.NewReaderSize(c, 512)
	steps := []struct {
		send string
		want int
		what string
	}{
		{"", 220, "greeting"},
		{"HELO " + p.helo + "\r\n", 250, "HELO"},
		{"QUIT\r\n", 221, "QUIT"},
	}
	for _, s := range steps {
		if p.timeout > 0 {
			_ = c.SetDeadline(time.Now().Add(p.timeout))
		}
		if s.send != "" {
			if _, err := c.Write([]byte(s.send)); err != nil {
				return failed("SMTP_CHECK write failure to" + who + ": " + err.Error())
			}
		}
		r, err := readSMTPReply(br)
		if err != nil {
			if isTimeout(err) {
				return failed("SMTP_CHECK read timeout from" + who + " waiting for " + s.what + " reply")
			}
			return failed("SMTP_CHECK read failure from" + who + ": " + err.Error())
		}
		if r.Code != s.want {
			return failed(fmt.Sprintf("SMTP_CHECK bad %s reply from%s: %03d, want %d", s.what, who, r.Code, s.want))
		}
	}
	return passed("SMTP_CHECK success to" + who)
}

// readSMTPReply reads one complete reply.
func readSMTPReply(br *bufio.Reader) (*SMTPReply, error) {
	var buf []byte
	for {
		line, err := br.ReadSlice('\n')
		buf = append(buf, line...)
		if len(buf) > maxSMTPReply {
			return nil, errors.New("health: smtp: reply too long")
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if err != nil {
			continue
		}
		r, _, perr := ParseSMTPReply(buf)
		if errors.Is(perr, errSMTPIncomplete) {
			continue
		}
		return r, perr
	}
}

// buildSMTP is SMTP_CHECK's row of kinds.
func buildSMTP(a *probeArgs) (prober, error) {
	helo := a.chk.SMTP.HeloName
	if helo == "" {
		helo, _ = os.Hostname()
	}
	return &smtpProber{d: a.r.dialer, conn: a.conn, timeout: a.t.connectTimeout, helo: helo}, nil
}

// smtpConns are SMTP_CHECK's hosts (one checker each), or its own
// connection.
func smtpConns(c *Check) []ConnOpts {
	if len(c.SMTP.Hosts) > 0 {
		return c.SMTP.Hosts
	}
	return []ConnOpts{c.Conn}
}

func smtpSettings(c *Check) any { return c.SMTP.HeloName }
