package health

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsProber is DNS_CHECK: one query over UDP; any reply with our ID, the
// QR bit and RCODE 0 passes (keepalived check_dns.c dns_recv_thread).
type dnsProber struct {
	d       Dialer
	conn    Conn
	timeout time.Duration
	qtype   dnsmessage.Type
	name    dnsmessage.Name
}

var dnsTypes = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "NS": dnsmessage.TypeNS, "CNAME": dnsmessage.TypeCNAME,
	"SOA": dnsmessage.TypeSOA, "MX": dnsmessage.TypeMX, "TXT": dnsmessage.TypeTXT,
	"AAAA": dnsmessage.TypeAAAA,
}

func newDNSProber(d Dialer, conn Conn, timeout time.Duration, dc *DNSCheck) (*dnsProber, error) {
	typ := dc.Type
	if typ == "" {
		typ = "SOA"
	}
	qt, ok := dnsTypes[strings.ToUpper(typ)]
	if !ok {
		return nil, fmt.Errorf("unknown DNS check type %s", dc.Type)
	}
	name := dc.Name
	if name == "" {
		name = "."
	}
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	if strings.Contains(name, "..") || (strings.HasPrefix(name, ".") && name != ".") {
		return nil, fmt.Errorf("DNS_CHECK name %q has an empty label", dc.Name)
	}
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, fmt.Errorf("DNS_CHECK name %q: %w", dc.Name, err)
	}
	return &dnsProber{d: d, conn: conn, timeout: timeout, qtype: qt, name: n}, nil
}

func (p *dnsProber) steps() int { return 1 }

func (p *dnsProber) query(id uint16) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 64), dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: p.name, Type: p.qtype, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

func (p *dnsProber) probe(ctx context.Context, _ int) outcome {
	ctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	who := " server " + RSKey(p.conn.Dst)
	c, err := p.d.DialContext(ctx, "udp", p.conn)
	if err != nil {
		return failed("DNS_CHECK network unreachable for" + who + ": " + err.Error())
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	id := uint16(rand.Uint32())
	q, err := p.query(id)
	if err != nil {
		return failed("DNS_CHECK cannot build query: " + err.Error())
	}
	if _, err := c.Write(q); err != nil {
		return failed("DNS_CHECK failed to write socket to" + who + ": " + err.Error())
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if isTimeout(err) {
				return failed("DNS_CHECK read timeout from" + who)
			}
			return failed("DNS_CHECK failed to read socket from" + who + ": " + err.Error())
		}
		ours, rcode := dnsReply(buf[:n], id)
		if !ours {
			continue
		}
		if rcode != dnsmessage.RCodeSuccess {
			return failed(fmt.Sprintf("DNS_CHECK read error occurred from%s (rcode = %d)", who, rcode))
		}
		return passed("DNS_CHECK success to" + who)
	}
}

// dnsReply reads a datagram from the server: ours is false for one to
// ignore (too short for a header, another ID, a query), and rcode is the
// answer's RCODE (keepalived reads no further: dns_recv_thread).
func dnsReply(b []byte, id uint16) (ours bool, rcode dnsmessage.RCode) {
	var parser dnsmessage.Parser
	h, err := parser.Start(b)
	if err != nil || h.ID != id || !h.Response {
		return false, 0
	}
	return true, h.RCode
}

// buildDNS is DNS_CHECK's row of kinds.
func buildDNS(a *probeArgs) (prober, error) {
	return newDNSProber(a.r.dialer, a.conn, a.t.connectTimeout, &a.chk.DNS)
}
