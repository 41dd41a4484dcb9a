package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/health"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usageText = `Usage: %s COMMAND [OPTIONS]
Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
`

// request is what the command line asks for.
type request struct {
	server  netip.Addr
	port    uint16
	url     string
	vhost   string
	ssl     bool
	sni     bool
	verbose bool
	mark    uint32
	proto   string
	timeout time.Duration
}

// parse reads the command line as keepalived 2.2.7's genhash does. It
// returns the request, or nil with the messages to print before the
// usage: rejected options are all reported, a bad value stops at once.
func parse(args []string) (*request, []string) {
	if len(args) <= 2 {
		return nil, nil
	}
	opts, rest := getopt(args[1:])
	r := &request{proto: "1.0"}
	var msgs []string
	bad := false
	var haveServer, havePort, haveURL bool
	for _, o := range opts {
		if o.err != "" {
			msgs = append(msgs, o.err)
			bad = true
			continue
		}
		if msg := r.set(o, &haveServer, &havePort, &haveURL); msg != "" {
			return nil, append(msgs, msg)
		}
		if o.short == 'h' {
			bad = true
		}
	}
	if bad {
		return nil, msgs
	}
	if len(rest) > 0 {
		return nil, []string{"Unexpected argument(s): " + strings.Join(rest, " ")}
	}
	if !haveServer || !havePort || !haveURL {
		return nil, nil
	}
	return r, nil
}

// set applies one option; it returns the message for a bad value.
func (r *request) set(o parsedOpt, haveServer, havePort, haveURL *bool) string {
	switch o.short {
	case 'v':
		r.verbose = true
	case 'S':
		r.ssl = true
	case 'I':
		r.sni = true
	case 's':
		a, err := netip.ParseAddr(o.arg)
		if err != nil || a.Zone() != "" {
			return "server should be an IP, not " + o.arg
		}
		r.server, *haveServer = a, true
	case 'V':
		r.vhost = o.arg
	case 'p':
		p, err := strconv.ParseInt(o.arg, 10, 64)
		if err != nil || p <= 0 || p > 65535 {
			return "invalid port number '" + o.arg + "'"
		}
		r.port, *havePort = uint16(p), true
	case 'u':
		r.url, *haveURL = o.arg, true
	case 'm':
		// strtoul after leading blanks: digits only; the empty string is
		// 0 and large values wrap, as in keepalived.
		s := strings.TrimLeft(o.arg, " \t")
		v, ok := strtoul(s)
		if !ok {
			return "invalid fwmark '" + o.arg + "'"
		}
		r.mark = uint32(v)
	case 'P':
		switch o.arg {
		case "1.0", "1.0c", "1.0C", "1.1":
			r.proto = o.arg
		default:
			return "invalid HTTP protocol version '" + o.arg + "'"
		}
	case 't':
		s := strings.TrimLeft(o.arg, " \t")
		v, ok := strtoul(s)
		if !ok || s == "" {
			return "invalid timeout '" + o.arg + "'"
		}
		r.timeout = time.Duration(uint32(v)) * time.Second
	}
	return ""
}

// strtoul reads decimal digits (all of s must be digits).
func strtoul(s string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + uint64(s[i]-'0')
	}
	return v, true
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	r, msgs := parse(args)
	if r == nil {
		for _, m := range msgs {
			fmt.Fprintln(stderr, m)
		}
		fmt.Fprintf(stderr, usageText, args[0])
		return 1
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	start := time.Now()
	fetch(ctx, r, out, stderr)
	if r.verbose {
		fmt.Fprintf(out, "\nGlobal response time for [%s] = %d usecs\n", r.url, time.Since(start).Microseconds())
	}
	return 0
}

// fetch performs the GET and prints what keepalived's genhash prints.
func fetch(ctx context.Context, r *request, out io.Writer, stderr io.Writer) {
	dst := netip.AddrPortFrom(r.server, r.port)
	f := health.Fetch{
		Conn:    health.Conn{Dst: dst, Mark: r.mark},
		Request: health.AppendRequest(nil, r.url, r.proto, r.vhost, dst),
		Timeout: r.timeout,
	}
	if r.ssl {
		f.TLS = &tls.Config{InsecureSkipVerify: true}
		if r.sni && r.vhost != "" {
			f.TLS.ServerName = r.vhost
		}
	}
	if r.verbose {
		f.Trace = &health.FetchTrace{
			HeaderRead: func() { io.WriteString(out, httpHeaderHexa) },
			Header: func(h []byte) {
				dumpBuffer(out, h)
				io.WriteString(out, httpHeaderASCII)
				out.Write(h)
				io.WriteString(out, "\n")
			},
			Body: func(b []byte, first bool) {
				if first {
					io.WriteString(out, htmlHeaderHexa)
				}
				dumpBuffer(out, b)
			},
		}
	}
	res, err := f.Do(ctx)
	if err != nil {
		var fe *health.FetchError
		if errors.As(err, &fe) {
			fmt.Fprintln(out, fe.Msg)
		} else {
			fmt.Fprintln(out, err)
		}
		return
	}
	if r.verbose {
		io.WriteString(out, "\n"+htmlHash)
		dumpBuffer(out, res.Digest[:])
		io.WriteString(out, htmlHashFinal)
	}
	if res.Header == nil {
		if f, ok := out.(interface{ Flush() error }); ok {
			f.Flush()
		}
		fmt.Fprintln(stderr, "no data received from remote webserver")
		return
	}
	fmt.Fprintf(out, "%x\n", res.Digest)
}
