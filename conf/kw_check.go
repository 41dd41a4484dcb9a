package conf

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// checkerKeywords are the checker blocks a real_server may hold.
func checkerKeywords() []*keyword {
	conn := connectionKeywords(func(b *builder) *Checker { return b.chk })
	common := func(name string, extra ...*keyword) *level {
		lv := newLevel(name)
		lv.add(conn...)
		lv.add(timingKeywords(func(b *builder) any { return b.chk })...)
		lv.add(extra...)
		return lv
	}
	noConn := func(name string, extra ...*keyword) *level {
		lv := newLevel(name)
		lv.add(timingKeywords(func(b *builder) any { return b.chk })...)
		lv.add(extra...)
		return lv
	}
	httpLv := func(name string) *level {
		lv := common(name, httpKeywords(name == CheckSSL)...)
		// check_http.c: the one checker keepalived 2.2.7 reads it in.
		kaSays(lv.lookup("nb_get_retry"), ClassGeneral, "nb_get_retry is deprecated - please use 'retry'")
		return lv
	}
	return []*keyword{
		kwBlk(CheckTCP, common(CheckTCP), openChecker, closeChecker),
		kwBlk(CheckHTTP, httpLv(CheckHTTP), openChecker, closeChecker),
		kwBlk(CheckSSL, httpLv(CheckSSL), openChecker, closeChecker),
		kwBlk(CheckSMTP, common(CheckSMTP, smtpKeywords()...), openChecker, closeChecker),
		kwBlk(CheckDNS, common(CheckDNS, dnsKeywords()...), openChecker, closeChecker),
		kwBlk(CheckMisc, noConn(CheckMisc, miscKeywords()...), openChecker, closeChecker),
		kwBlk(CheckPing, common(CheckPing), openChecker, closeChecker),
		kwBlk(CheckUDP, common(CheckUDP, udpKeywords()...), openChecker, closeChecker),
		kwBlk(CheckFile, noConn(CheckFile, fileKeywords()...), openChecker, closeChecker),
		unsupportedBlock(CheckBFD, "the real server does not follow a BFD session"),
	}
}

// timingKeywords are a checker's timing keywords, nb_get_retry and alpha.
func timingKeywords(obj func(*builder) any) []*keyword {
	kws := checkerTiming(true, obj)
	kws = append(kws,
		alias(kw("nb_get_retry", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<30); ok {
				b.timingOf(obj(b)).retry = intPtr(v)
			}
		}), "retry"),
		kw("alpha", func(b *builder, n *Node) { b.timingOf(obj(b)).alpha = boolPtr(b.optBool(n)) }),
		kw("log_all_failures", func(b *builder, n *Node) { b.chk.LogAllFailures = b.optBool(n) }),
	)
	return kws
}

// connectionKeywords are the connection options of network checkers.
func connectionKeywords(c func(*builder) *Checker) []*keyword {
	return []*keyword{
		kw("connect_ip", func(b *builder, n *Node) {
			if a, ok := b.addr(n); ok {
				c(b).ConnectIP = a
			}
		}),
		// check_api.c reads ports in [1, 65535].
		kw("connect_port", func(b *builder, n *Node) {
			b.only(n, 1)
			if p, ok := b.intAt(n, 0, 1, 65535); ok {
				c(b).ConnectPort = uint16(p)
			}
		}),
		kw("bindto", func(b *builder, n *Node) {
			if a, ok := b.addr(n); ok {
				c(b).BindTo = a
			}
		}),
		kw("bind_port", func(b *builder, n *Node) {
			b.only(n, 1)
			if p, ok := b.intAt(n, 0, 1, 65535); ok {
				c(b).BindPort = uint16(p)
			}
		}),
		kw("bind_if", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				c(b).BindIf = s
			}
		}),
		kw("fwmark", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<31-1); ok {
				c(b).Fwmark = uint32(v)
			}
		}),
	}
}

func openChecker(b *builder, n *Node) {
	b.chk = &Checker{Pos: n.Pos, Type: n.Keyword}
	switch n.Keyword {
	case CheckHTTP, CheckSSL:
		b.chk.HTTP = &HTTPCheck{Protocol: "1.0"}
	case CheckSMTP:
		b.chk.SMTP = &SMTPCheck{}
	case CheckDNS:
		b.chk.DNS = &DNSCheck{Type: "SOA", Name: "."}
	case CheckMisc:
		b.chk.Misc = &MiscCheck{}
	case CheckUDP:
		b.chk.UDP = &UDPCheck{MaxReplyLength: 255}
	case CheckFile:
		b.chk.File = &FileCheck{}
	}
	if len(n.Args) > 0 {
		b.d.warnf(n.Pos, "%s: extra parameters ignored: %s", n.Keyword, strings.Join(n.Args, " "))
	}
}

func closeChecker(b *builder, n *Node) {
	c := b.chk
	b.chk = nil
	switch {
	case c.HTTP != nil && len(c.HTTP.URLs) == 0:
		b.d.kaf(n.Pos, ClassGeneral, "%s: no url block - checker ignored", c.Type)
		return
	case c.Misc != nil && c.Misc.Path == nil:
		b.d.kaf(n.Pos, ClassGeneral, "MISC_CHECK: no misc_path - checker ignored")
		return
	case c.File != nil && c.File.TrackFile == "":
		b.d.kaf(n.Pos, ClassGeneral, "FILE_CHECK: no track_file - checker ignored")
		return
	}
	b.rs.Checkers = append(b.rs.Checkers, c)
}

func httpKeywords(ssl bool) []*keyword {
	h := func(b *builder) *HTTPCheck { return b.chk.HTTP }
	u := func(b *builder) *URL { return b.url }
	urlLv := newLevel("url").add(
		kw("path", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				u(b).Path = s
			}
		}),
		kw("digest", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			if _, err := hex.DecodeString(s); err != nil || len(s) != 32 {
				b.d.kaf(n.Pos, ClassGeneral, "digest: '%s' is not an MD5 digest (32 hex digits)", s)
				return
			}
			u(b).Digest = strings.ToLower(s)
		}),
		kw("status_code", func(b *builder, n *Node) {
			if !b.need(n, 1) {
				return
			}
			for _, a := range n.Args {
				r, ok := parseCodeRange(a)
				if !ok {
					b.d.kaf(n.Pos, ClassGeneral, "status_code: invalid status code or range '%s' (100-599)", a)
					return
				}
				u(b).StatusCodes = append(u(b).StatusCodes, r)
			}
		}),
		kw("virtualhost", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				u(b).Virtualhost = s
			}
		}),
		kwQ("regex", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				u(b).Regex, u(b).RegexPos = s, n.Pos
			}
		}),
		kw("regex_no_match", func(b *builder, n *Node) { u(b).RegexNoMatch = true }),
		kw("regex_options", func(b *builder, n *Node) {
			for _, o := range n.Args {
				if msg := regexOptionProblem(o); msg != "" {
					b.d.warnf(n.Pos, "regex_options %s: %s", o, msg)
					continue
				}
				u(b).RegexOptions = append(u(b).RegexOptions, o)
			}
		}),
		ignored("regex_stack", "Go's regexp engine needs no stack sizing"),
		kw("regex_min_offset", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<31-1); ok {
				u(b).RegexMinOffset = v
			}
		}),
		kw("regex_max_offset", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<31-2); ok {
				u(b).RegexMaxOffset = &v
			}
		}),
	)
	if ssl {
		urlLv.add(kw("tls_compliant", func(b *builder, n *Node) { u(b).TLSCompliant = b.optBool(n) }))
	}
	kws := []*keyword{
		kwBlk("url", urlLv, func(b *builder, n *Node) {
			b.url = &URL{Pos: n.Pos}
		}, func(b *builder, n *Node) {
			checkURLRegex(b, n, b.url)
			if b.url.Path == "" {
				b.d.kaf(n.Pos, ClassGeneral, "url: no path - url ignored")
			} else {
				h(b).URLs = append(h(b).URLs, b.url)
			}
			b.url = nil
		}),
		kw("virtualhost", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				h(b).Virtualhost = s
			}
		}),
		kw("http_protocol", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			switch s {
			case "1.0", "1.1":
				h(b).Protocol = s
			case "1.0C", "1.0c":
				h(b).Protocol = "1.0C"
			default:
				b.d.kaf(n.Pos, ClassGeneral, "http_protocol: unknown version '%s' (1.0, 1.0C or 1.1)", s)
			}
		}),
		kw("fast_recovery", func(b *builder, n *Node) { h(b).FastRecovery = b.optBool(n) }),
		kw("enable_sni", func(b *builder, n *Node) { h(b).EnableSNI = b.optBool(n) }),
		kw("sni_name", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				h(b).SNIName = s
			}
		}),
	}
	if ssl {
		kws = append(kws, kw("tls_compliant", func(b *builder, n *Node) { h(b).TLSCompliant = b.optBool(n) }))
	}
	return kws
}

// parseCodeRange reads "200" or "200-299".
func parseCodeRange(s string) (CodeRange, bool) {
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := strconv.Atoi(lo)
	if err != nil || l < 100 || l > 599 {
		return CodeRange{}, false
	}
	if !isRange {
		return CodeRange{l, l}, true
	}
	h, err := strconv.Atoi(hi)
	if err != nil || h < l || h > 599 {
		return CodeRange{}, false
	}
	return CodeRange{l, h}, true
}

func smtpKeywords() []*keyword {
	hostLv := newLevel("host")
	hostLv.add(connectionKeywords(func(b *builder) *Checker { return b.host })...)
	return []*keyword{
		kw("helo_name", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				b.chk.SMTP.HeloName = s
			}
		}),
		{name: "host", kind: kwBlock, sub: hostLv, note: "deprecated: give connect_ip in separate SMTP_CHECK blocks",
			warn: true,
			h: func(b *builder, n *Node) {
				b.host = &Checker{Pos: n.Pos, Type: CheckSMTP}
			},
			end: func(b *builder, n *Node) {
				b.chk.SMTP.Hosts = append(b.chk.SMTP.Hosts, b.host)
				b.host = nil
			}},
	}
}

var dnsTypes = map[string]bool{"A": true, "NS": true, "CNAME": true, "SOA": true, "MX": true, "TXT": true, "AAAA": true}

func dnsKeywords() []*keyword {
	return []*keyword{
		kw("type", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			if !dnsTypes[strings.ToUpper(s)] {
				b.d.kaf(n.Pos, ClassGeneral, "type: unknown DNS type '%s' (A, NS, CNAME, SOA, MX, TXT or AAAA)", s)
				return
			}
			b.chk.DNS.Type = strings.ToUpper(s)
		}),
		kw("name", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				b.chk.DNS.Name = s
			}
		}),
	}
}

func miscKeywords() []*keyword {
	m := func(b *builder) *MiscCheck { return b.chk.Misc }
	return []*keyword{
		kwQ("misc_path", func(b *builder, n *Node) {
			if s := b.script(n); s != nil {
				if old := m(b).Path; old != nil && s.User == "" {
					s.User, s.Group = old.User, old.Group
				}
				m(b).Path = s
			}
		}),
		// misc_timeout_handler reads whole seconds.
		kw("misc_timeout", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 1<<31-1); ok {
				m(b).Timeout = time.Duration(v) * time.Second
			}
		}),
		kw("misc_dynamic", func(b *builder, n *Node) { m(b).Dynamic = true }),
		kw("user", func(b *builder, n *Node) {
			u, g, ok := b.userGroup(n)
			if !ok {
				return
			}
			if m(b).Path == nil {
				m(b).Path = &Script{Pos: n.Pos}
			}
			m(b).Path.User, m(b).Path.Group = u, g
		}),
	}
}

func udpKeywords() []*keyword {
	u := func(b *builder) *UDPCheck { return b.chk.UDP }
	return []*keyword{
		kw("payload", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			p, err := hex.DecodeString(s)
			if err != nil {
				b.d.kaf(n.Pos, ClassGeneral, "payload: '%s' is not hexadecimal", s)
				return
			}
			u(b).Payload = p
		}),
		kw("require_reply", func(b *builder, n *Node) {
			s, ok := b.str(n)
			if !ok {
				return
			}
			if len(s)%2 != 0 {
				b.d.kaf(n.Pos, ClassGeneral, "require_reply: '%s' has an odd number of hex digits", s)
				return
			}
			var reply, mask []byte
			for i := 0; i < len(s); i += 2 {
				pair := s[i : i+2]
				if strings.EqualFold(pair, "XX") {
					reply, mask = append(reply, 0), append(mask, 0)
					continue
				}
				v, err := strconv.ParseUint(pair, 16, 8)
				if err != nil {
					b.d.kaf(n.Pos, ClassGeneral, "require_reply: '%s' is not hexadecimal (XX for any byte)", pair)
					return
				}
				reply, mask = append(reply, byte(v)), append(mask, 0xff)
			}
			u(b).RequireReply, u(b).RequireMask = reply, mask
		}),
		kw("min_reply_length", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 65535); ok {
				u(b).MinReplyLength = v
			}
		}),
		kw("max_reply_length", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 65535); ok {
				u(b).MaxReplyLength = v
			}
		}),
	}
}

func fileKeywords() []*keyword {
	f := func(b *builder) *FileCheck { return b.chk.File }
	return []*keyword{
		kw("track_file", func(b *builder, n *Node) {
			if s, ok := b.str(n); ok {
				f(b).TrackFile = s
			}
		}),
		kw("weight", func(b *builder, n *Node) {
			if v, ok := b.intAt(n, 0, -254, 254); ok {
				f(b).Weight = intPtr(v)
			}
			if len(n.Args) > 1 && n.Args[1] == "reverse" {
				f(b).Reverse = true
			}
		}),
		kw("dynamic", func(b *builder, n *Node) { f(b).Dynamic = true }),
	}
}

// Checker type defaults (keepalived check_*.c).
func defaultRetry(typ string) int {
	switch typ {
	case CheckDNS:
		return 3
	case CheckMisc:
		return 0
	}
	return 1
}

func defaultDelayBeforeRetry(typ string, delayLoop time.Duration) time.Duration {
	switch typ {
	case CheckHTTP, CheckSSL:
		return 3 * time.Second
	case CheckDNS:
		return delayLoop
	}
	return time.Second
}
