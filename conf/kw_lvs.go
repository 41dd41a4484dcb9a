package conf

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/sched"
)

func openVirtualServer(b *builder, n *Node) {
	vs := &VirtualServer{Pos: n.Pos, DelayLoop: 60 * time.Second, Quorum: 1, Weight: 1,
		PersistenceGranularity: -1}
	b.vs = vs
	switch {
	case len(n.Args) == 0:
		b.d.kaf(n.Pos, ClassGeneral, "virtual_server: missing address")
	case n.Args[0] == "fwmark":
		if len(n.Args) < 2 {
			b.d.kaf(n.Pos, ClassGeneral, "virtual_server fwmark: missing mark")
			break
		}
		v, err := strconv.ParseUint(n.Args[1], 10, 32)
		if err != nil || v == 0 {
			b.d.kaf(n.Pos, ClassGeneral, "virtual_server fwmark: invalid mark '%s'", n.Args[1])
			break
		}
		vs.Fwmark = uint32(v)
	case n.Args[0] == "group":
		if len(n.Args) < 2 {
			b.d.kaf(n.Pos, ClassGeneral, "virtual_server group: missing group name")
			break
		}
		vs.Group = n.Args[1]
	default:
		a, err := netip.ParseAddr(strings.Trim(n.Args[0], "[]"))
		if err != nil {
			b.d.kaf(n.Pos, ClassGeneral, "virtual_server: invalid address '%s'", n.Args[0])
			break
		}
		vs.Addr = a
		if len(n.Args) > 1 {
			p, err := strconv.ParseUint(n.Args[1], 10, 16)
			if err != nil {
				b.d.kaf(n.Pos, ClassGeneral, "virtual_server %s: invalid port '%s'", a, n.Args[1])
				break
			}
			vs.Port = uint16(p)
		}
		if len(n.Args) > 2 {
			b.d.warnf(n.Pos, "virtual_server: extra parameters ignored: %s", strings.Join(n.Args[2:], " "))
		}
	}
}

func closeVirtualServer(b *builder, n *Node) {
	vs := b.vs
	b.vs = nil
	if !vs.Addr.IsValid() && vs.Fwmark == 0 && vs.Group == "" {
		return
	}
	b.inherit(vs)
	b.cfg.VirtualServers = append(b.cfg.VirtualServers, vs)
}

// vsName names a virtual server for messages as keepalived prints it.
func vsName(vs *VirtualServer) string {
	switch {
	case vs.Fwmark != 0:
		return "FWM " + strconv.FormatUint(uint64(vs.Fwmark), 10)
	case vs.Group != "":
		return "[" + vs.Group + "]:" + strconv.Itoa(int(vs.Port))
	}
	return netip.AddrPortFrom(vs.Addr, vs.Port).String()
}

// method parses "NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]".
func (b *builder) method(n *Node) (Method, bool) {
	if !b.need(n, 1) {
		return Method{}, false
	}
	m := Method{Kind: n.Args[0]}
	switch m.Kind {
	case MethodNAT, MethodDR:
		b.only(n, 1)
		return m, true
	case MethodTUN:
	default:
		b.d.kaf(n.Pos, ClassGeneral, "%s: unknown forwarding method '%s' (NAT, DR or TUN)", n.Keyword, n.Args[0])
		return Method{}, false
	}
	m.TunnelType = "ipip"
	for i := 1; i < len(n.Args); i++ {
		switch a := n.Args[i]; a {
		case "type":
			if i+1 >= len(n.Args) {
				b.d.kaf(n.Pos, ClassGeneral, "%s TUN: type needs a value", n.Keyword)
				return m, false
			}
			i++
			switch t := n.Args[i]; t {
			case "ipip", "gre":
				m.TunnelType = t
			case "gue":
				m.TunnelType = t
				if i+2 < len(n.Args) && n.Args[i+1] == "port" {
					p, ok := b.portAt(n, i+2)
					if !ok {
						return m, false
					}
					m.TunnelPort = p
					i += 2
				} else {
					b.d.kaf(n.Pos, ClassGeneral, "%s TUN type gue: needs 'port N'", n.Keyword)
					return m, false
				}
			default:
				b.d.kaf(n.Pos, ClassGeneral, "%s TUN: unknown tunnel type '%s' (ipip, gue or gre)", n.Keyword, t)
				return m, false
			}
		case "nocsum", "csum", "remcsum":
			m.TunnelCsum = a
		default:
			b.d.kaf(n.Pos, ClassGeneral, "%s TUN: unknown option '%s'", n.Keyword, a)
			return m, false
		}
	}
	return m, true
}

// optTiming holds the timing keywords given at one level (virtual server,
// real server or checker); nil means "inherit".
type optTiming struct {
	connectTimeout, delayBeforeRetry, warmup, delayLoop *time.Duration
	retry                                               *int
	alpha                                               *bool
}

// timingOf returns the optTiming of an object, creating it.
func (b *builder) timingOf(obj any) *optTiming {
	if b.timings == nil {
		b.timings = map[any]*optTiming{}
	}
	t := b.timings[obj]
	if t == nil {
		t = &optTiming{}
		b.timings[obj] = t
	}
	return t
}

// checkerTiming are the timing keywords virtual_server, real_server and
// checkers share; obj picks the object of the current level.
func checkerTiming(withDelayLoop bool, obj func(*builder) any) []*keyword {
	t := func(b *builder) *optTiming { return b.timingOf(obj(b)) }
	kws := []*keyword{
		kw("connect_timeout", func(b *builder, n *Node) {
			if v, ok := b.timer(n, time.Microsecond, 0); ok {
				t(b).connectTimeout = durPtr(v)
			}
		}),
		kw("retry", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<30); ok {
				t(b).retry = intPtr(v)
			}
		}),
		kw("delay_before_retry", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, 0); ok {
				t(b).delayBeforeRetry = durPtr(v)
			}
		}),
		kw("warmup", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, 0); ok {
				t(b).warmup = durPtr(v)
			}
		}),
	}
	if withDelayLoop {
		kws = append(kws, kw("delay_loop", func(b *builder, n *Node) {
			if v, ok := b.timer(n, time.Microsecond, 0); ok {
				t(b).delayLoop = durPtr(v)
			}
		}))
	}
	return kws
}

func virtualServerLevel() *level {
	v := func(b *builder) *VirtualServer { return b.vs }
	lbAlgo := func(b *builder, n *Node) {
		s, ok := b.str(n)
		if !ok {
			return
		}
		if !slices.Contains(sched.Names, s) {
			b.d.kaf(n.Pos, ClassGeneral, "%s: unknown scheduler '%s'", n.Keyword, s)
			return
		}
		v(b).Sched = s
	}
	method := func(b *builder, n *Node) {
		if m, ok := b.method(n); ok {
			v(b).Method = m
		}
	}
	// sh-port & co. only apply after lb_algo sh or mh in the same block
	// (keepalived's lbflags_handler checks the scheduler seen so far).
	schedFlag := func(algo string, flag uint32) func(*builder, *Node) {
		return func(b *builder, n *Node) {
			if v(b).Sched != algo {
				b.d.warnf(n.Pos, "%s: only applies to the %s scheduler (set lb_algo %s before it) - ignoring",
					n.Keyword, algo, algo)
				return
			}
			v(b).SchedFlags |= flag
		}
	}
	rawFlag := func(flag uint32) func(*builder, *Node) {
		return func(b *builder, n *Node) { v(b).SchedFlags |= flag }
	}
	lv := newLevel("virtual_server")
	lv.add(
		kw("lb_algo", lbAlgo),
		kw("lvs_sched", lbAlgo),
		kw("lb_kind", method),
		kw("lvs_method", method),
		kw("protocol", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			// proto_handler compares without case.
			switch u := strings.ToUpper(s); u {
			case "TCP", "UDP", "SCTP":
				v(b).Protocol = u
				b.mark(v(b), "protocol")
			default:
				// "Unknown protocol %s - ignoring".
				b.d.kaf(n.Pos, ClassGeneral, "unknown protocol %s - ignoring", s)
			}
		}),
		kw("persistence_timeout", func(b *builder, n *Node) {
			if len(n.Args) == 0 {
				v(b).PersistenceTimeout = 360 * time.Second // IPVS_SVC_PERSISTENT_TIMEOUT
				return
			}
			if s, ok := b.int(n, 1, 31*86400); ok {
				v(b).PersistenceTimeout = time.Duration(s) * time.Second
			}
		}),
		kw("persistence_granularity", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			if bits, ok := granularity(s); ok {
				v(b).PersistenceGranularity = bits
			} else {
				b.d.kaf(n.Pos, ClassGeneral, "persistence_granularity: invalid netmask or prefix length '%s'", s)
			}
		}),
		kw("persistence_engine", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				v(b).PersistenceEngine = s
				b.d.warnf(n.Pos, "persistence_engine %s: persistence engines are not implemented by ulvs; "+
					"plain persistence applies", s)
			}
		}),
		kw("delay_loop", func(b *builder, n *Node) {
			if d, ok := b.timer(n, time.Microsecond, 0); ok {
				v(b).DelayLoop = d
			}
		}),
		kw("sorry_server", func(b *builder, n *Node) {
			a, ok := b.addrAt(n, 0)
			if !ok {
				return
			}
			ss := &SorryServer{Pos: n.Pos, Addr: a}
			if len(n.Args) > 1 {
				p, ok := b.portAt(n, 1)
				if !ok {
					return
				}
				ss.Port = p
			}
			b.only(n, 2)
			if old := v(b).SorryServer; old != nil {
				ss.Method = old.Method
			}
			v(b).SorryServer = ss
		}),
		kw("sorry_server_inhibit", func(b *builder, n *Node) { v(b).SorryServerInhibit = b.optBool(n) }),
		kw("sorry_server_lvs_method", func(b *builder, n *Node) {
			m, ok := b.method(n)
			if !ok {
				return
			}
			if v(b).SorryServer == nil {
				b.d.kaf(n.Pos, ClassGeneral, "sorry_server_lvs_method: no sorry_server set before it")
				return
			}
			v(b).SorryServer.Method = &m
		}),
		kw("quorum", func(b *builder, n *Node) {
			if q, ok := b.int(n, 1, 1<<30); ok {
				v(b).Quorum = q
			}
		}),
		kw("hysteresis", func(b *builder, n *Node) {
			if h, ok := b.int(n, 0, 1<<30); ok {
				v(b).Hysteresis = h
			}
		}),
		kwQ("quorum_up", func(b *builder, n *Node) { v(b).QuorumUp = b.script(n) }),
		kwQ("quorum_down", func(b *builder, n *Node) { v(b).QuorumDown = b.script(n) }),
		// vs_alpha_handler and omega_handler take no parameter in
		// keepalived 2.2.7: the keyword sets it, a word after it is not
		// read ("alpha 1", "alpha off" alike).
		kw("alpha", func(b *builder, n *Node) {
			ignoredWord(b, n)
			v(b).Alpha = true
			b.timingOf(v(b)).alpha = boolPtr(true)
		}),
		kw("omega", func(b *builder, n *Node) {
			ignoredWord(b, n)
			v(b).Omega = true
		}),
		kw("inhibit_on_failure", func(b *builder, n *Node) {
			// vs_inhibit_handler reads no value in keepalived 2.2.7.
			ignoredWord(b, n)
			v(b).InhibitOnFailure = true
		}),
		kw("virtualhost", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				v(b).Virtualhost = s
			}
		}),
		kw("ha_suspend", func(b *builder, n *Node) { v(b).HASuspend = true }),
		kw("smtp_alert", func(b *builder, n *Node) { v(b).SMTPAlert = boolPtr(b.optBool(n)) }),
		kw("ops", func(b *builder, n *Node) { v(b).OPS = true }),
		ignored("hashed", "accepted by keepalived as a no-op"),
		kw("flag-1", rawFlag(sched.FlagSched1)),
		kw("flag-2", rawFlag(sched.FlagSched2)),
		kw("flag-3", rawFlag(sched.FlagSched3)),
		kw("sh-fallback", schedFlag("sh", sched.FlagSched1)),
		kw("sh-port", schedFlag("sh", sched.FlagSched2)),
		kw("mh-fallback", schedFlag("mh", sched.FlagSched1)),
		kw("mh-port", schedFlag("mh", sched.FlagSched2)),
		kw("ip_family", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			if s != "inet" && s != "inet6" {
				b.d.kaf(n.Pos, ClassGeneral, "ip_family: must be inet or inet6, not '%s'", s)
				return
			}
			v(b).Family = s
		}),
		kw("weight", func(b *builder, n *Node) {
			if w, ok := b.int(n, 0, 1<<31-1); ok {
				v(b).Weight = w
			}
		}),
		ignored("snmp_name", "SNMP is not supported"),
		ignoredWarn("nat_mask", "obsolete: keepalived no longer uses it"),
		kwBlk("real_server", realServerLevel(), openRealServer, closeRealServer),
	)
	lv.add(checkerTiming(false, func(b *builder) any { return b.vs })...)
	return lv
}

// granularity reads persistence_granularity: an IPv4 netmask or a prefix
// length.
func granularity(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 128 {
		return n, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	v := a.As4()
	m := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
	bits := 0
	for m&0x80000000 != 0 {
		bits++
		m <<= 1
	}
	if m != 0 {
		return 0, false // not contiguous
	}
	return bits, true
}

func openRealServer(b *builder, n *Node) {
	rs := &RealServer{Pos: n.Pos}
	b.rs = rs
	if len(n.Args) == 0 {
		b.d.kaf(n.Pos, ClassGeneral, "real_server: missing address")
		return
	}
	a, err := netip.ParseAddr(strings.Trim(n.Args[0], "[]"))
	if err != nil {
		b.d.kaf(n.Pos, ClassGeneral, "real_server: invalid address '%s'", n.Args[0])
		return
	}
	rs.Addr = a
	if len(n.Args) > 1 {
		p, err := strconv.ParseUint(n.Args[1], 10, 16)
		if err != nil {
			b.d.kaf(n.Pos, ClassGeneral, "real_server %s: invalid port '%s'", a, n.Args[1])
			return
		}
		rs.Port = uint16(p)
	}
	if len(n.Args) > 2 {
		b.d.warnf(n.Pos, "real_server: extra parameters ignored: %s", strings.Join(n.Args[2:], " "))
	}
}

func closeRealServer(b *builder, n *Node) {
	rs := b.rs
	b.rs = nil
	if !rs.Addr.IsValid() {
		return
	}
	b.vs.RealServers = append(b.vs.RealServers, rs)
}

func realServerLevel() *level {
	r := func(b *builder) *RealServer { return b.rs }
	lv := newLevel("real_server")
	lv.add(
		kw("weight", func(b *builder, n *Node) {
			if w, ok := b.int(n, 0, 1<<31-1); ok {
				r(b).Weight = w
				b.mark(r(b), "weight")
			}
		}),
		kw("inhibit_on_failure", func(b *builder, n *Node) {
			r(b).InhibitOnFailure = b.optBool(n)
			b.mark(r(b), "inhibit")
		}),
		kw("lvs_method", func(b *builder, n *Node) {
			if m, ok := b.method(n); ok {
				r(b).Method = m
				b.mark(r(b), "method")
			}
		}),
		kwQ("notify_up", func(b *builder, n *Node) { r(b).NotifyUp = b.script(n) }),
		kwQ("notify_down", func(b *builder, n *Node) { r(b).NotifyDown = b.script(n) }),
		kw("uthreshold", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<31-1); ok {
				r(b).UThreshold = uint32(v)
			}
		}),
		kw("lthreshold", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<31-1); ok {
				r(b).LThreshold = uint32(v)
			}
		}),
		kw("alpha", func(b *builder, n *Node) { b.timingOf(r(b)).alpha = boolPtr(b.optBool(n)) }),
		kw("smtp_alert", func(b *builder, n *Node) { r(b).SMTPAlert = boolPtr(b.optBool(n)) }),
		kw("virtualhost", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				r(b).Virtualhost = s
				b.mark(r(b), "virtualhost")
			}
		}),
		ignored("snmp_name", "SNMP is not supported"),
	)
	lv.add(checkerTiming(true, func(b *builder) any { return b.rs })...)
	lv.add(checkerKeywords()...)
	return lv
}

// ignoredWord notes the words after a keyword keepalived reads alone.
func ignoredWord(b *builder, n *Node) {
	if len(n.Args) > 0 {
		b.d.notef(n.Pos, "%s takes no value in keepalived 2.2.7: '%s' is not read, %s is on",
			n.Keyword, n.Args[0], n.Keyword)
	}
}
