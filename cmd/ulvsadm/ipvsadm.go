package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/ipvsfmt"
	"github.com/ulvs/ulvs/sched"
)

// defaultSocket is ulvsd's control socket.
const defaultSocket = "/run/ulvs/ulvsd.sock"

// ipvsOpts are ipvsadm's options, as ulvsadm takes them.
type ipvsOpts struct {
	list, numeric, conns, stats, rate, thresholds, persistConn, exact, timeout, save, jsonOut bool
	add, edit, del, addDest, editDest, delDest, clear, zero                                   bool
	set                                                                                       []int
	tcp, udp, sctp, fwmark                                                                    string
	sched, persistent, netmask, schedFlags                                                    string
	ops, ipv6                                                                                 bool
	real                                                                                      string
	gatewaying, ipip, masquerading                                                            bool
	weight, uthreshold, lthreshold                                                            int
	socket                                                                                    string
}

func ipvsFlagSet(o *ipvsOpts, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ulvsadm", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	fs.BoolVarP(&o.list, "list", "L", false, "list the table")
	fs.BoolVarP(&o.list, "l", "l", false, "list the table (same as -L)")
	fs.BoolVarP(&o.numeric, "numeric", "n", false, "numeric output (ulvsadm never resolves names)")
	fs.BoolVarP(&o.conns, "connection", "c", false, "list the connection table")
	fs.BoolVar(&o.stats, "stats", false, "counters")
	fs.BoolVar(&o.rate, "rate", false, "rates")
	fs.BoolVar(&o.thresholds, "thresholds", false, "upper and lower thresholds")
	fs.BoolVar(&o.persistConn, "persistent-conn", false, "persistent connections")
	fs.BoolVar(&o.exact, "exact", false, "exact counters")
	fs.BoolVar(&o.timeout, "timeout", false, "the TCP, TCP FIN and UDP timeouts")
	fs.BoolVarP(&o.save, "save", "S", false, "the table as ipvsadm commands")
	fs.BoolVar(&o.jsonOut, "json", false, "JSON output")
	fs.BoolVarP(&o.add, "add-service", "A", false, "add a virtual service")
	fs.BoolVarP(&o.edit, "edit-service", "E", false, "edit a virtual service")
	fs.BoolVarP(&o.del, "delete-service", "D", false, "delete a virtual service")
	fs.BoolVarP(&o.addDest, "add-server", "a", false, "add a real server")
	fs.BoolVarP(&o.editDest, "edit-server", "e", false, "edit a real server")
	fs.BoolVarP(&o.delDest, "delete-server", "d", false, "delete a real server")
	fs.BoolVarP(&o.clear, "clear", "C", false, "delete every virtual service")
	fs.BoolVarP(&o.zero, "zero", "Z", false, "zero the counters")
	fs.IntSliceVar(&o.set, "set", nil, "set the TCP, TCP FIN and UDP timeouts: --set tcp,tcpfin,udp (seconds)")
	fs.StringVarP(&o.tcp, "tcp-service", "t", "", "TCP virtual service ADDR:PORT")
	fs.StringVarP(&o.udp, "udp-service", "u", "", "UDP virtual service ADDR:PORT")
	fs.StringVar(&o.sctp, "sctp-service", "", "SCTP virtual service ADDR:PORT")
	fs.StringVarP(&o.fwmark, "fwmark-service", "f", "", "firewall-mark virtual service")
	fs.StringVarP(&o.sched, "scheduler", "s", sched.Default, "scheduler: "+strings.Join(sched.Names, "|"))
	fs.StringVarP(&o.persistent, "persistent", "p", "", "persistent service, with a timeout (default 300)")
	fs.Lookup("persistent").NoOptDefVal = "300"
	fs.StringVarP(&o.netmask, "netmask", "M", "", "persistence granularity mask")
	fs.StringVarP(&o.schedFlags, "sched-flags", "b", "", "scheduler flags (comma-separated)")
	fs.BoolVarP(&o.ops, "ops", "o", false, "one-packet scheduling")
	fs.BoolVarP(&o.ipv6, "ipv6", "6", false, "firewall-mark service is IPv6")
	fs.StringVarP(&o.real, "real-server", "r", "", "real server ADDR[:PORT]")
	fs.BoolVarP(&o.gatewaying, "gatewaying", "g", false, "direct routing (the default)")
	fs.BoolVarP(&o.ipip, "ipip", "i", false, "tunnelling")
	fs.BoolVarP(&o.masquerading, "masquerading", "m", false, "NAT")
	fs.IntVarP(&o.weight, "weight", "w", 1, "weight")
	fs.IntVarP(&o.uthreshold, "u-threshold", "x", 0, "upper threshold of connections")
	fs.IntVarP(&o.lthreshold, "l-threshold", "y", 0, "lower threshold of connections")
	fs.StringVar(&o.socket, "socket", defaultSocket, "ulvsd's control socket")
	return fs
}

// runIPVSAdm runs ulvsadm with ipvsadm's options against a running ulvsd.
func runIPVSAdm(args []string, stdout, stderr io.Writer) int {
	o := &ipvsOpts{}
	fs := ipvsFlagSet(o, stderr)
	if err := fs.Parse(joinOptionalValues(args)); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ulvsadm: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ipvsadm(ctx, o, fs, stdout); err != nil {
		fmt.Fprintf(stderr, "ulvsadm: %v\n", err)
		return 1
	}
	return 0
}

func ipvsadm(ctx context.Context, o *ipvsOpts, fs *pflag.FlagSet, w io.Writer) error {
	call := func(req *ctl.Request) (*ctl.Response, error) { return ctl.Call(ctx, o.socket, req) }
	edits := 0
	for _, b := range []bool{o.add, o.edit, o.del, o.addDest, o.editDest, o.delDest, o.clear, o.zero, o.set != nil} {
		if b {
			edits++
		}
	}
	if edits > 1 {
		return errors.New("only one command at a time (-A, -E, -D, -a, -e, -d, -C, -Z, --set)")
	}
	if edits == 1 {
		e, err := buildEdit(o, fs)
		if err != nil {
			return err
		}
		_, err = call(&ctl.Request{Op: ctl.OpEdit, Edit: e})
		return err
	}
	if o.conns {
		resp, err := call(&ctl.Request{Op: ctl.OpConns})
		if err != nil {
			return err
		}
		if o.jsonOut {
			return printJSON(w, resp.Conns)
		}
		ipvsfmt.Conns(w, resp.Conns)
		return nil
	}
	resp, err := call(&ctl.Request{Op: ctl.OpIPVS})
	if err != nil {
		return err
	}
	t := resp.IPVS
	if o.timeout {
		ipvsfmt.Timeouts(w, t.Timeouts)
		return nil
	}
	var f ipvsfmt.Format = ipvsfmt.Numeric
	for _, x := range []struct {
		on bool
		f  ipvsfmt.Format
	}{{o.stats, ipvsfmt.Stats}, {o.rate, ipvsfmt.Rate}, {o.thresholds, ipvsfmt.Thresholds},
		{o.persistConn, ipvsfmt.PersistentConn}, {o.exact, ipvsfmt.Exact}, {o.save, ipvsfmt.Rule}} {
		if x.on {
			f |= x.f
		}
	}
	if svc, given, err := serviceSpec(o); err != nil {
		return err
	} else if given {
		s := findService(t, svc)
		if s == nil {
			//lint:ignore ST1005 ipvsadm's own words, which scripts match
			return errors.New("No such service")
		}
		if o.jsonOut {
			return printJSON(w, s)
		}
		ipvsfmt.One(w, s, f)
		return nil
	}
	if o.jsonOut {
		return printJSON(w, t)
	}
	ipvsfmt.Table(w, t, f)
	return nil
}

// joinOptionalValues turns "-p 50" into "-p=50": -p takes an optional
// timeout, which ipvsadm (popt) reads from the next word when it is a number.
func joinOptionalValues(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "-p" || a == "--persistent") && i+1 < len(args) {
			if _, err := strconv.ParseUint(args[i+1], 10, 32); err == nil {
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func findService(t *ctl.IPVS, s *ctl.ServiceSpec) *ctl.Service {
	for i := range t.Services {
		x := &t.Services[i]
		if s.FWMark != 0 && x.FWMark == s.FWMark && x.IPv6 == s.IPv6 ||
			s.FWMark == 0 && x.FWMark == 0 && x.Proto == s.Proto && x.Addr == s.Addr && x.Port == s.Port {
			return x
		}
	}
	return nil
}

// parseAddrPort reads ipvsadm's ADDR[:PORT] and [V6ADDR][:PORT].
func parseAddrPort(s string, needPort bool) (netip.Addr, uint16, error) {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("illegal address %q", s)
	}
	if port == "" {
		if needPort {
			return a, 0, fmt.Errorf("%q needs a port", s)
		}
		return a, 0, nil
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return a, 0, fmt.Errorf("illegal port in %q", s)
	}
	return a, uint16(p), nil
}

// serviceSpec reads -t/-u/--sctp-service/-f, reporting whether one was given.
func serviceSpec(o *ipvsOpts) (*ctl.ServiceSpec, bool, error) {
	n := 0
	for _, s := range []string{o.tcp, o.udp, o.sctp, o.fwmark} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, false, nil
	case n > 1:
		return nil, true, errors.New("give one virtual service (-t, -u, --sctp-service or -f)")
	}
	if o.fwmark != "" {
		m, err := strconv.ParseUint(o.fwmark, 0, 32)
		if err != nil || m == 0 {
			return nil, true, fmt.Errorf("illegal fwmark %q", o.fwmark)
		}
		return &ctl.ServiceSpec{FWMark: uint32(m), IPv6: o.ipv6}, true, nil
	}
	proto, s := "TCP", o.tcp
	if o.udp != "" {
		proto, s = "UDP", o.udp
	} else if o.sctp != "" {
		proto, s = "SCTP", o.sctp
	}
	a, p, err := parseAddrPort(s, false)
	if err != nil {
		return nil, true, err
	}
	return &ctl.ServiceSpec{Proto: proto, Addr: a, Port: p, IPv6: a.Is6()}, true, nil
}

func buildEdit(o *ipvsOpts, fs *pflag.FlagSet) (*ctl.Edit, error) {
	e := &ctl.Edit{}
	switch {
	case o.clear:
		e.Cmd = ctl.EditClear
		return e, nil
	case o.zero:
		e.Cmd = ctl.EditZero
		return e, nil
	case o.set != nil:
		if len(o.set) != 3 {
			return nil, errors.New("--set takes tcp,tcpfin,udp")
		}
		e.Cmd, e.Timeouts = ctl.EditTimeout, &ctl.Timeouts{TCP: o.set[0], TCPFin: o.set[1], UDP: o.set[2]}
		return e, nil
	case o.add:
		e.Cmd = ctl.EditAddService
	case o.edit:
		e.Cmd = ctl.EditEditService
	case o.del:
		e.Cmd = ctl.EditDelService
	case o.addDest:
		e.Cmd = ctl.EditAddDest
	case o.editDest:
		e.Cmd = ctl.EditEditDest
	case o.delDest:
		e.Cmd = ctl.EditDelDest
	}
	svc, given, err := serviceSpec(o)
	if err != nil {
		return nil, err
	}
	if !given {
		return nil, fmt.Errorf("-%s needs a virtual service (-t, -u, --sctp-service or -f)", e.Cmd)
	}
	e.Service = svc
	if e.Cmd == ctl.EditAddService || e.Cmd == ctl.EditEditService {
		svc.Sched = o.sched
		if _, err := sched.ParseFlags(o.sched, ""); err != nil {
			return nil, err
		}
		if o.schedFlags != "" {
			fl, err := sched.ParseFlags(o.sched, o.schedFlags)
			if err != nil {
				return nil, err
			}
			svc.Flags |= fl
		}
		if fs.Changed("persistent") {
			t, err := strconv.ParseUint(o.persistent, 10, 32)
			if err != nil || t == 0 {
				return nil, fmt.Errorf("illegal timeout %q for persistent service", o.persistent)
			}
			svc.Flags |= ctl.FlagPersistent
			svc.Timeout = uint32(t)
		}
		if o.ops {
			svc.Flags |= ctl.FlagOnePacket
		}
		if o.netmask != "" {
			bits, err := maskBits(o.netmask, svc.IPv6)
			if err != nil {
				return nil, err
			}
			svc.Netmask = bits
		}
		return e, nil
	}
	if e.Cmd == ctl.EditDelService {
		return e, nil
	}
	if o.real == "" {
		return nil, fmt.Errorf("-%s needs a real server (-r)", e.Cmd)
	}
	a, p, err := parseAddrPort(o.real, false)
	if err != nil {
		return nil, err
	}
	if p == 0 {
		p = svc.Port
	}
	d := &ctl.DestSpec{Addr: a, Port: p, Weight: o.weight, UThreshold: uint32(o.uthreshold), LThreshold: uint32(o.lthreshold)}
	switch {
	case o.masquerading:
		d.Method = "Masq"
	case o.ipip:
		d.Method = "Tunnel"
	default:
		d.Method = "Route"
	}
	e.Dest = d
	return e, nil
}

// maskBits reads -M: a dotted IPv4 netmask or a prefix length.
func maskBits(s string, v6 bool) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && (n <= 32 || v6 && n <= 128) {
		return n, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("illegal virtual server persistent mask %q", s)
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for m&0x80000000 != 0 {
		n++
		m <<= 1
	}
	if m != 0 {
		return 0, fmt.Errorf("illegal virtual server persistent mask %q", s)
	}
	return n, nil
}
