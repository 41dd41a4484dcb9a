package health

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/ulvs/ulvs/internal/script"
	"github.com/ulvs/ulvs/internal/testkit"
)

// The checkers against real sockets on loopback: no root needed.

func addrOfListener(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	p, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := addrOfListener(t, l.Addr())
	l.Close()
	return a
}

func TestTCPProber(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		name string
		dst  netip.AddrPort
		ok   bool
	}{
		{"listening", addrOfListener(t, l.Addr()), true},
		{"closed", closedPort(t), false},
	} {
		p := &tcpProber{d: NetDialer{}, conn: Conn{Dst: tc.dst}, timeout: 2 * time.Second}
		if o := p.probe(context.Background(), 0); o.ok != tc.ok {
			t.Errorf("%s: ok = %v (%s), want %v", tc.name, o.ok, o.reason, tc.ok)
		}
	}
}

func TestHTTPProber(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var hosts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/redirect":
			w.Header().Set("Location", "/")
			w.WriteHeader(http.StatusFound)
		default:
			fmt.Fprint(w, "hello world\n")
		}
	}))
	defer srv.Close()
	dst := addrOfListener(t, srv.Listener.Addr())
	sum := md5.Sum([]byte("hello world\n"))
	good := hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		name string
		url  URL
		ok   bool
		why  string
	}{
		{"default 2xx", URL{Path: "/"}, true, ""},
		{"digest", URL{Path: "/", Digest: good}, true, ""},
		{"digest mismatch", URL{Path: "/", Digest: strings.Repeat("0", 32)}, false, "MD5 digest error"},
		{"404 refused by default", URL{Path: "/missing"}, false, "status code error"},
		{"404 listed", URL{Path: "/missing", StatusCodes: []StatusRange{{404, 404}}}, true, ""},
		{"302 in a range", URL{Path: "/redirect", StatusCodes: []StatusRange{{200, 299}, {300, 399}}}, true, ""},
		{"vhost", URL{Path: "/", Virtualhost: "www.example.com"}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newHTTPProber(NetDialer{}, Conn{Dst: dst}, 2*time.Second, &HTTPCheck{URLs: []URL{tc.url}}, false, "", "")
			if err != nil {
				t.Fatal(err)
			}
			o := p.probe(context.Background(), 0)
			if o.ok != tc.ok || !strings.Contains(o.reason, tc.why) {
				t.Errorf("ok = %v (%s), want %v with %q", o.ok, o.reason, tc.ok, tc.why)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if hosts[len(hosts)-1] != "www.example.com" || hosts[0] != dst.String() {
		t.Errorf("Host headers %q: want the address first and the vhost last", hosts)
	}
	p, _ := newHTTPProber(NetDialer{}, Conn{Dst: closedPort(t)}, time.Second, &HTTPCheck{URLs: []URL{{Path: "/"}}}, false, "", "")
	if o := p.probe(context.Background(), 0); o.ok || !strings.HasPrefix(o.reason, "Connection failed") {
		t.Errorf("closed port: %v %s", o.ok, o.reason)
	}
}

// TestHTTPNoHeader: a server that closes without a full header is
// keepalived's "no data received".
func TestHTTPNoHeader(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte("HTTP/1.0 200 OK\r\n"))
			c.Close()
		}
	}()
	p, _ := newHTTPProber(NetDialer{}, Conn{Dst: addrOfListener(t, l.Addr())}, time.Second, &HTTPCheck{URLs: []URL{{Path: "/"}}}, false, "", "")
	if o := p.probe(context.Background(), 0); o.ok || !strings.Contains(o.reason, "no data received") {
		t.Errorf("got %v %s", o.ok, o.reason)
	}
}

func TestSSLProberSNI(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "secure\n")
	}))
	var mu sync.Mutex
	var names []string
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		names = append(names, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	dst := addrOfListener(t, srv.Listener.Addr())
	sum := md5.Sum([]byte("secure\n"))
	for _, sni := range []bool{false, true} {
		hc := &HTTPCheck{URLs: []URL{{Path: "/", Digest: hex.EncodeToString(sum[:])}}, Virtualhost: "www.example.com", EnableSNI: sni}
		p, err := newHTTPProber(NetDialer{}, Conn{Dst: dst}, 2*time.Second, hc, true, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if o := p.probe(context.Background(), 0); !o.ok {
			t.Fatalf("sni=%v: %s", sni, o.reason)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 2 || names[0] != "" || names[1] != "www.example.com" {
		t.Errorf("SNI seen %q, want none then www.example.com", names)
	}
}

// smtpServer answers a scripted SMTP conversation on loopback.
func smtpServer(t *testing.T, greeting, helo string) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				c.Write([]byte(greeting))
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					switch {
					case strings.HasPrefix(line, "HELO "):
						c.Write([]byte(helo))
					case line == "QUIT\r\n":
						c.Write([]byte("221 2.0.0 Bye\r\n"))
						return
					}
				}
			}()
		}
	}()
	return addrOfListener(t, l.Addr())
}

func TestSMTPProber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, greeting, helo string
		ok                   bool
	}{
		{"plain", "220 mx ESMTP\r\n", "250 mx Hello\r\n", true},
		{"multi-line greeting", "220-mx ESMTP\r\n220 welcome\r\n", "250 mx\r\n", true},
		{"refusing", "554 go away\r\n", "250 mx\r\n", false},
		{"bad helo", "220 mx\r\n", "501 syntax\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &smtpProber{d: NetDialer{}, conn: Conn{Dst: smtpServer(t, tc.greeting, tc.helo)}, timeout: 2 * time.Second, helo: "lb1"}
			if o := p.probe(context.Background(), 0); o.ok != tc.ok {
				t.Errorf("ok = %v (%s), want %v", o.ok, o.reason, tc.ok)
			}
		})
	}
}

// dnsServer answers queries with rcode, after a stray reply with a wrong
// ID when stray is set.
func dnsServer(t *testing.T, rcode dnsmessage.RCode, stray bool) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			reply := func(id uint16) {
				b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RCode: rcode})
				b.StartQuestions()
				b.Question(q)
				out, _ := b.Finish()
				pc.WriteTo(out, from)
			}
			if stray {
				reply(h.ID + 1)
			}
			reply(h.ID)
		}
	}()
	return addrOfListener(t, pc.LocalAddr())
}

func TestDNSProber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		rcode dnsmessage.RCode
		stray bool
		ok    bool
	}{
		{"noerror", dnsmessage.RCodeSuccess, false, true},
		{"stray reply first", dnsmessage.RCodeSuccess, true, true},
		{"nxdomain", dnsmessage.RCodeNameError, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := newDNSProber(NetDialer{}, Conn{Dst: dnsServer(t, tc.rcode, tc.stray)}, 2*time.Second, &DNSCheck{Type: "A", Name: "example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if o := p.probe(context.Background(), 0); o.ok != tc.ok {
				t.Errorf("ok = %v (%s), want %v", o.ok, o.reason, tc.ok)
			}
		})
	}
	if _, err := newDNSProber(NetDialer{}, Conn{}, time.Second, &DNSCheck{Name: "a..b"}); err == nil {
		t.Error("empty label accepted")
	}
	if _, err := newDNSProber(NetDialer{}, Conn{}, time.Second, &DNSCheck{Type: "PTR"}); err == nil {
		t.Error("unknown type accepted")
	}
}

func udpEcho(t *testing.T, prefix []byte) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append(append([]byte(nil), prefix...), buf[:n]...), from)
		}
	}()
	return addrOfListener(t, pc.LocalAddr())
}

func TestUDPProber(t *testing.T) {
	t.Parallel()
	echo := udpEcho(t, nil)
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	closed := func() netip.AddrPort {
		pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
		a := addrOfListener(t, pc.LocalAddr())
		pc.Close()
		return a
	}()
	for _, tc := range []struct {
		name string
		dst  netip.AddrPort
		cfg  UDPCheck
		ok   bool
	}{
		{"echo", echo, UDPCheck{Payload: []byte("ping")}, true},
		{"reply matches with a wildcard", echo, UDPCheck{Payload: []byte("ping"), RequireReply: true,
			Reply: []byte("pXng"), ReplyMask: []byte{0, 0xff, 0, 0}}, true},
		{"reply differs", echo, UDPCheck{Payload: []byte("ping"), RequireReply: true, Reply: []byte("pong")}, false},
		{"reply too short", echo, UDPCheck{Payload: []byte("ping"), RequireReply: true, Reply: []byte("p"), MinReplyLen: 5}, false},
		// Silence is judged at the timeout (300 ms for these two).
		{"silence passes without require_reply", addrOfListener(t, silent.LocalAddr()), UDPCheck{Payload: []byte("x")}, true},
		{"silence fails with require_reply", addrOfListener(t, silent.LocalAddr()), UDPCheck{Payload: []byte("x"), RequireReply: true}, false},
		{"port unreachable", closed, UDPCheck{Payload: []byte("x")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A reply is awaited for up to 5 s (a loaded machine may take
			// more than a moment to answer on loopback).
			timeout := 5 * time.Second
			if strings.HasPrefix(tc.name, "silence") {
				timeout = 300 * time.Millisecond
			}
			p, err := newUDPProber(NetDialer{}, Conn{Dst: tc.dst}, timeout, &tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if o := p.probe(context.Background(), 0); o.ok != tc.ok {
				t.Errorf("ok = %v (%s), want %v", o.ok, o.reason, tc.ok)
			}
		})
	}
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return testkit.WriteScript(t, d, "check.sh", body)
}

func TestMiscProber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		body    string
		dynamic bool
		ok      bool
		weight  int64
	}{
		{"exit 0", "exit 0", false, true, 0},
		{"exit 1", "exit 1", false, false, 0},
		{"exit 7 without misc_dynamic", "exit 7", false, false, 0},
		{"exit 7 with misc_dynamic: weight 5", "exit 7", true, true, 5},
		{"exit 1 with misc_dynamic", "exit 1", true, false, 0},
		{"timeout", "sleep 30", false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := script.Policy{KillGrace: 100 * time.Millisecond}.Prepare(script.Spec{Argv: []string{writeScript(t, tc.body), "arg"}})
			if err != nil {
				t.Fatal(err)
			}
			// 5 s for a shell to exit on a loaded machine; 300 ms to time out.
			timeout := 5 * time.Second
			if tc.name == "timeout" {
				timeout = 300 * time.Millisecond
			}
			p := &miscProber{s: s, timeout: timeout, dynamic: tc.dynamic}
			o := p.probe(context.Background(), 0)
			if o.ok != tc.ok || o.hasWeight != (tc.weight != 0) || o.weight != tc.weight {
				t.Errorf("got ok=%v weight=%v/%d (%s), want ok=%v weight %d", o.ok, o.hasWeight, o.weight, o.reason, tc.ok, tc.weight)
			}
		})
	}
}

// TestPingProber needs a ping or raw ICMP socket; loopback answers.
func TestPingProber(t *testing.T) {
	t.Parallel()
	p := &pingProber{conn: Conn{Dst: netip.MustParseAddrPort("127.0.0.1:0")}, timeout: 2 * time.Second}
	o := p.probe(context.Background(), 0)
	if !o.ok && (strings.Contains(o.reason, "permission") || strings.Contains(o.reason, "not permitted")) {
		t.Skipf("no ICMP socket here: %s", o.reason)
	}
	if !o.ok {
		t.Fatalf("ping 127.0.0.1: %s", o.reason)
	}
	p6 := &pingProber{conn: Conn{Dst: netip.MustParseAddrPort("[::1]:0")}, timeout: 2 * time.Second}
	if o := p6.probe(context.Background(), 0); !o.ok {
		t.Logf("ping ::1: %s (IPv6 loopback may be off here)", o.reason)
	}
}
