package conf

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// builder turns the statement tree into a Config, keeping track of the
// object each block level fills.
type builder struct {
	cfg  *Config
	d    *diagList
	opts *Options

	inst   *Instance
	group  *SyncGroup
	vscr   *VRRPScript
	tfile  *TrackFile
	tproc  *TrackProcess
	tgroup *TrackGroup
	vs     *VirtualServer
	rs     *RealServer
	chk    *Checker
	url    *URL
	host   *Checker

	// timings holds the timing keywords given per virtual server, real
	// server and checker, resolved by inheritance when a virtual server
	// closes.
	timings map[any]*optTiming

	// tables are the route table names, read at the first name.
	tables map[string]int

	// skip is set by an open handler to drop its block.
	skip bool

	// set remembers which optional values were given, for defaults that
	// depend on it (state MASTER without priority, per-level inheritance).
	set map[any]map[string]bool
}

func (b *builder) mark(obj any, key string) {
	if b.set == nil {
		b.set = map[any]map[string]bool{}
	}
	m := b.set[obj]
	if m == nil {
		m = map[string]bool{}
		b.set[obj] = m
	}
	m[key] = true
}

func (b *builder) isSet(obj any, key string) bool { return b.set[obj][key] }

// walk runs the handlers of a list of statements. An open handler that
// sets b.skip drops its block, as keepalived's skip_block does: nothing
// inside it is read or reported.
func (b *builder) walk(nodes []*Node) {
	for _, n := range nodes {
		if n.unknown {
			// process_stream: "Unknown keyword '%s'".
			b.d.kaf(n.Pos, ClassUnknownKeyword, "unknown keyword '%s' %s", n.Keyword, n.where)
			continue
		}
		k := n.kw
		if k == nil {
			continue
		}
		if k.warn && k.note != "" {
			switch k.status {
			case NotHonoured:
				b.d.warnf(n.Pos, "%s: not honoured by ulvs: %s", n.Keyword, k.note)
			case Partial:
				b.d.warnf(n.Pos, "%s: partly honoured by ulvs: %s", n.Keyword, k.note)
			case Ignored:
				b.d.notef(n.Pos, "%s: ignored by ulvs (%s)", n.Keyword, k.note)
			default:
				b.d.warnf(n.Pos, "%s: %s", n.Keyword, k.note)
			}
		}
		if k.kaMsg != "" {
			b.d.kaf(n.Pos, k.kaClass, "%s: %s", n.Keyword, k.kaMsg)
		}
		if k.needsArg && !b.need(n, 1) {
			continue
		}
		if k.h != nil {
			k.h(b, n)
		}
		if b.skip {
			b.skip = false
			continue
		}
		if k.kind == kwBlock && k.sub != anyLevel {
			b.walk(n.Kids)
		}
		if k.end != nil {
			k.end(b, n)
		}
	}
}

// Argument helpers. Each reports a positioned error and returns ok=false
// when the argument is missing or malformed.

// need checks a keyword has count parameters. keepalived's handlers read
// their parameters without checking, and a missing one stops keepalived
// (null_strvec: "Configuration line starting ... is missing a parameter
// after keyword ... at word position N", then exit): so it stops ulvs.
func (b *builder) need(n *Node, count int) bool {
	if len(n.Args) < count {
		b.d.refusef(n.Pos, ClassMissingParameter, "%s: missing a parameter at word position %d (keepalived stops here)",
			n.Keyword, len(n.Args)+2)
		return false
	}
	return true
}

// only warns about words after the ones a keyword takes.
func (b *builder) only(n *Node, count int) {
	if len(n.Args) > count {
		b.d.warnf(n.Pos, "%s: extra parameters ignored: %s", n.Keyword, strings.Join(n.Args[count:], " "))
	}
}

func (b *builder) str(n *Node) (string, bool) {
	if !b.need(n, 1) {
		return "", false
	}
	b.only(n, 1)
	return n.Args[0], true
}

func parseIntWord(s string) (int64, error) {
	return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
}

func (b *builder) intAt(n *Node, i int, lo, hi int) (int, bool) {
	if !b.need(n, i+1) {
		return 0, false
	}
	v, err := parseIntWord(n.Args[i])
	if err != nil {
		b.d.kaf(n.Pos, ClassInvalidNumber, "%s: invalid number '%s'", n.Keyword, n.Args[i])
		return 0, false
	}
	if v < int64(lo) || v > int64(hi) {
		b.d.kaf(n.Pos, ClassInvalidNumber, "%s: number '%s' outside range [%d, %d]", n.Keyword, n.Args[i], lo, hi)
		return 0, false
	}
	return int(v), true
}

func (b *builder) int(n *Node, lo, hi int) (int, bool) {
	b.only(n, 1)
	return b.intAt(n, 0, lo, hi)
}

// parseTimer reads keepalived's <TIMER>: decimal seconds with microsecond
// resolution.
func parseTimer(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f < 0 || f > 1e9 {
		return 0, false
	}
	return time.Duration(f*1e6) * time.Microsecond, true
}

func (b *builder) timerAt(n *Node, i int, lo, hi time.Duration) (time.Duration, bool) {
	if !b.need(n, i+1) {
		return 0, false
	}
	d, ok := parseTimer(n.Args[i])
	if !ok {
		b.d.kaf(n.Pos, ClassInvalidNumber, "%s: invalid time '%s' (seconds expected)", n.Keyword, n.Args[i])
		return 0, false
	}
	if d < lo || (hi > 0 && d > hi) {
		b.d.kaf(n.Pos, ClassInvalidNumber, "%s: time '%s' outside range [%v, %v]", n.Keyword, n.Args[i], lo.Seconds(), hi.Seconds())
		return 0, false
	}
	return d, true
}

func (b *builder) timer(n *Node, lo, hi time.Duration) (time.Duration, bool) {
	b.only(n, 1)
	return b.timerAt(n, 0, lo, hi)
}

// optBool reads an optional <BOOL>: the keyword alone means true.
func (b *builder) optBool(n *Node) bool {
	if len(n.Args) == 0 {
		return true
	}
	b.only(n, 1)
	switch n.Args[0] {
	case "on", "true", "yes":
		return true
	case "off", "false", "no":
		return false
	}
	b.d.kaf(n.Pos, ClassGeneral, "%s: invalid boolean '%s' (on|off|true|false|yes|no)", n.Keyword, n.Args[0])
	return true
}

func boolPtr(v bool) *bool { return &v }
func intPtr(v int) *int    { return &v }
func durPtr(v time.Duration) *time.Duration {
	return &v
}

func (b *builder) addrAt(n *Node, i int) (netip.Addr, bool) {
	if !b.need(n, i+1) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(n.Args[i])
	if err != nil {
		b.d.kaf(n.Pos, ClassGeneral, "%s: invalid IP address '%s'", n.Keyword, n.Args[i])
		return netip.Addr{}, false
	}
	return a, true
}

func (b *builder) addr(n *Node) (netip.Addr, bool) {
	b.only(n, 1)
	return b.addrAt(n, 0)
}

func (b *builder) portAt(n *Node, i int) (uint16, bool) {
	v, ok := b.intAt(n, i, 0, 65535)
	return uint16(v), ok
}

// script reads a script keyword: SCRIPT [USER [GROUP]], the script string
// split into words with quotes and escapes (set_script_params_array).
func (b *builder) script(n *Node) *Script {
	if !b.need(n, 1) {
		return nil
	}
	argv, err := splitQuoted(n.Args[0])
	if err != nil || len(argv) == 0 {
		b.d.kaf(n.Pos, ClassGeneral, "%s: invalid script '%s'", n.Keyword, n.Args[0])
		return nil
	}
	s := &Script{Pos: n.Pos, Cmd: n.Args[0], Argv: argv}
	if len(n.Args) > 1 {
		s.User = n.Args[1]
	}
	if len(n.Args) > 2 {
		s.Group = n.Args[2]
	}
	b.only(n, 3)
	return s
}

// userGroup reads "user USER [GROUP]" (also "USER:GROUP").
func (b *builder) userGroup(n *Node) (string, string, bool) {
	if !b.need(n, 1) {
		return "", "", false
	}
	b.only(n, 2)
	u, g := n.Args[0], ""
	if len(n.Args) > 1 {
		g = strings.TrimPrefix(n.Args[1], ":")
	} else if i := strings.IndexByte(u, ':'); i > 0 {
		u, g = u[:i], u[i+1:]
	}
	return u, g, true
}

// trackLine reads a value-block line of tracked names: "NAME [weight W]
// [reverse|noreverse]", several names allowed on one line
// ("track_script { a b }").
func (b *builder) trackLine(n *Node, what string, maxW int) []Track {
	var out []Track
	for i := 0; i < len(n.Args); i++ {
		switch a := n.Args[i]; a {
		case "weight":
			if len(out) == 0 || i+1 >= len(n.Args) {
				b.d.kaf(n.Pos, ClassGeneral, "%s: weight needs a name before it and a value after it", what)
				return out
			}
			w, err := parseIntWord(n.Args[i+1])
			if err != nil || w < int64(-maxW) || w > int64(maxW) {
				b.d.kaf(n.Pos, ClassGeneral, "%s %s: weight '%s' must be in [%d, %d]", what, out[len(out)-1].Name, n.Args[i+1], -maxW, maxW)
				return out[:len(out)-1]
			}
			out[len(out)-1].Weight = intPtr(int(w))
			i++
		case "reverse", "noreverse":
			if len(out) == 0 {
				b.d.kaf(n.Pos, ClassGeneral, "%s: %s needs a name before it", what, a)
				return out
			}
			out[len(out)-1].Reverse = a == "reverse"
		default:
			out = append(out, Track{Pos: n.Pos, Name: a})
		}
	}
	return out
}

// tracks reads a value block of track lines.
func (b *builder) tracks(n *Node, what string, maxW int) []Track {
	var out []Track
	for _, l := range n.Kids {
		out = append(out, b.trackLine(l, what, maxW)...)
	}
	return out
}
