package conf

import (
	"strconv"
	"strings"
)

// $NAME definitions (lib/parser.c check_definition, find_definition,
// replace_param): "$NAME=value", multi-line values, ${NAME} references and
// the built-ins.

// def is a $NAME definition.
type def struct {
	name      string
	value     string // lines joined with "\n" when multiline
	multiline bool
	builtin   func(params string) string
	maxParams int
}

func (r *reader) random(params string) string {
	lo, hi := int64(0), int64(32767)
	f := strings.Fields(params)
	if len(f) >= 1 {
		lo, _ = strconv.ParseInt(f[0], 10, 64)
	}
	if len(f) >= 2 {
		hi, _ = strconv.ParseInt(f[1], 10, 64)
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	return strconv.FormatInt(lo+r.rnd.Int64N(hi-lo+1), 10)
}

// definition stores "$NAME=value" (no blank before '='). It reports whether
// the line was a definition.
func (r *reader) definition(pos Pos, buf string) bool {
	if len(buf) < 2 || !(isAlpha(buf[1]) || buf[1] == '_') {
		return false
	}
	p := 2
	for p < len(buf) && buf[p] != '=' {
		if !isAlnum(buf[p]) && buf[p] != '_' {
			return false
		}
		p++
	}
	if p >= len(buf) {
		return false
	}
	name := buf[1:p]
	value := strings.TrimLeft(buf[p+1:], " \t")
	d := &def{name: name}
	if strings.HasSuffix(value, `\`) {
		d.multiline = true
		value = strings.TrimRight(strings.TrimSuffix(value, `\`), " \t")
		if value != "" {
			value += "\n"
		}
		r.pend = d
	}
	d.value = value
	r.defs[name] = d
	return true
}

// addToMultiline appends a physical line to the definition being
// collected; a line without a trailing '\' is its last.
func (r *reader) addToMultiline(l line) {
	t := l.text
	last := !strings.HasSuffix(t, `\`)
	if !last {
		t = strings.TrimRight(strings.TrimSuffix(t, `\`), " \t")
		if t != "" {
			t += "\n"
		}
	}
	r.pend.value += t
	if last {
		r.endMultiline()
	}
}

func (r *reader) endMultiline() {
	d := r.pend
	r.pend = nil
	d.value = strings.TrimSuffix(d.value, "\n")
	if d.value == "" {
		d.multiline = false
	}
}

// substitute replaces $NAME and ${NAME [params]} references once, left to
// right. A multi-line definition may only end a line; its first line
// replaces the reference and the others are returned to be read next.
func (r *reader) substitute(pos Pos, buf string) (string, bool, []string) {
	var out strings.Builder
	changed := false
	var rest []string
	i := 0
	for i < len(buf) {
		j := strings.IndexByte(buf[i:], '$')
		if j < 0 || i+j+1 >= len(buf) {
			out.WriteString(buf[i:])
			break
		}
		j += i
		out.WriteString(buf[i:j])
		d, params, n := r.findRef(buf[j+1:])
		if d == nil {
			out.WriteByte('$')
			i = j + 1
			continue
		}
		changed = true
		val := d.value
		if d.builtin != nil {
			val = d.builtin(params)
		}
		end := j + 1 + n
		if d.multiline {
			lines := strings.Split(val, "\n")
			out.WriteString(lines[0])
			rest = append(rest, lines[1:]...)
			i = end
			break
		}
		out.WriteString(val)
		i = end
		if t := strings.TrimLeft(val, " \t"); strings.HasPrefix(t, "~") {
			out.WriteString(buf[i:])
			break
		}
	}
	return out.String(), changed, rest
}

// findRef recognises a reference at s (just after the '$'): NAME followed
// by a blank, ',', ')' or the end, or {NAME [params]}. It returns the
// definition, its parameters and the length consumed.
func (r *reader) findRef(s string) (*def, string, int) {
	braces := strings.HasPrefix(s, "{")
	name := s
	if braces {
		name = s[1:]
	}
	if name == "" || !(isAlpha(name[0]) || name[0] == '_') {
		return nil, "", 0
	}
	n := 1
	for n < len(name) && (isAlnum(name[n]) || name[n] == '_') {
		n++
	}
	id := name[:n]
	d := r.defs[id]
	if d == nil {
		return nil, "", 0
	}
	if !braces {
		if n < len(name) && strings.IndexByte(" \t,)", name[n]) < 0 {
			return nil, "", 0
		}
		if d.multiline && n != len(name) {
			return nil, "", 0
		}
		return d, "", n
	}
	end := strings.IndexByte(name[n:], '}')
	if end < 0 {
		return nil, "", 0
	}
	params := strings.TrimSpace(name[n : n+end])
	if params != "" && d.maxParams == 0 {
		return nil, "", 0
	}
	consumed := 1 + n + end + 1
	if d.multiline && consumed != len(s) {
		return nil, "", 0
	}
	return d, params, consumed
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }
