package conf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxBuf is keepalived's MAXBUF: fgets reads at most maxBuf-1 bytes, the
// line's newline included.
const maxBuf = 1024

// maxIncludeDepth bounds nested includes (keepalived has no bound and
// recurses until it runs out of stack).
const maxIncludeDepth = 32

// maxIncludes and maxIncludeBytes bound the total work of one read: files
// that include each other through wildcards branch at every level, and
// the depth guard alone let three of them run for minutes (keepalived has
// neither bound).
const (
	maxIncludes     = 4096
	maxIncludeBytes = 64 << 20
	// maxGenLines bounds the lines ~SEQ/~LST loops and multi-line
	// definitions make in all: one loop has at most 65,536 values, but
	// loops nest (two of them made 3.6e9 lines).
	maxGenLines = 1 << 20
)

// maxSubstRounds bounds recursive $NAME substitution ($A=$A would make
// keepalived loop forever).
const maxSubstRounds = 64

// line is one logical line handed to the parser.
type line struct {
	pos  Pos
	text string
}

// def is a $NAME definition.
type def struct {
	name      string
	value     string // lines joined with "\n" when multiline
	multiline bool
	builtin   func(params string) string
	maxParams int
}

// gen produces lines ahead of the files: a ~SEQ/~LST loop or the rest of
// a multi-line definition being expanded.
type gen struct {
	pos Pos
	// loop
	vars   []string
	values [][]string // one tuple of values per iteration
	next   int
	text   string
	// multi-line expansion
	lines []string
}

type srcFile struct {
	name string
	dir  string
	r    *bufio.Reader
	line int
}

// reader is keepalived's read_line: it turns files into logical lines,
// handling comments, includes, definitions, conditionals, loops and brace
// splitting.
type reader struct {
	opts   *Options
	diags  *diagList
	files  []*srcFile
	gens   []*gen
	defs   map[string]*def
	pend   *def // multi-line definition being collected
	resid  *line
	peeked *line
	rnd    *rand.Rand
	// order of files as they were opened, for sorting diagnostics
	fileOrder map[string]int
	// includeCheck is global_defs include_check's default for plain include
	includeCheck string
	// included and includedBytes count the files (and bytes) includes
	// opened, against maxIncludes and maxIncludeBytes.
	included      int
	includedBytes int64
	// genLines counts the lines loops and expansions made (maxGenLines).
	genLines int
}

func newReader(opts *Options, diags *diagList) *reader {
	r := &reader{opts: opts, diags: diags, defs: map[string]*def{}, fileOrder: map[string]int{}}
	seed := uint64(opts.RandomSeed)
	r.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.defs["_PWD"] = &def{name: "_PWD", builtin: func(string) string { return r.curDir() }}
	r.defs["_INSTANCE"] = &def{name: "_INSTANCE", builtin: func(string) string { return opts.configID() }}
	r.defs["_RANDOM"] = &def{name: "_RANDOM", maxParams: 2, builtin: r.random}
	r.defs["_ENV"] = &def{name: "_ENV", maxParams: 1, builtin: func(p string) string {
		if opts.Env != nil {
			return opts.Env(strings.TrimSpace(p))
		}
		return os.Getenv(strings.TrimSpace(p))
	}}
	r.defs["_HASH"] = &def{name: "_HASH", value: "#"}
	r.defs["_BANG"] = &def{name: "_BANG", value: "!"}
	return r
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

func (r *reader) curDir() string {
	if n := len(r.files); n > 0 {
		return r.files[n-1].dir
	}
	wd, _ := os.Getwd()
	return wd
}

// open pushes a file onto the stack.
func (r *reader) open(path string, content io.Reader) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if _, ok := r.fileOrder[path]; !ok {
		r.fileOrder[path] = len(r.fileOrder)
	}
	r.files = append(r.files, &srcFile{name: path, dir: filepath.Dir(abs), r: bufio.NewReaderSize(content, 64*1024)})
}

// peek returns the next logical line without consuming it.
func (r *reader) peek() (line, bool) {
	if r.peeked == nil {
		l, ok := r.next()
		if !ok {
			return line{}, false
		}
		r.peeked = &l
	}
	return *r.peeked, true
}

// next returns the next logical line, or false at the end of all input.
func (r *reader) next() (line, bool) {
	if r.peeked != nil {
		l := *r.peeked
		r.peeked = nil
		return l, true
	}
	for {
		var l line
		switch {
		case r.resid != nil:
			l, r.resid = *r.resid, nil
		case len(r.gens) > 0:
			var ok bool
			if l, ok = r.fromGen(); !ok {
				continue
			}
		default:
			var ok bool
			if l, ok = r.fromFile(); !ok {
				if r.pend != nil {
					r.endMultiline()
				}
				return line{}, false
			}
		}
		if r.pend != nil {
			if l.text == "" {
				r.endMultiline()
			} else {
				r.addToMultiline(l)
			}
			continue
		}
		if l.text == "" {
			continue
		}
		text, ok := r.process(l)
		if !ok || text == "" {
			continue
		}
		l.text = text
		if r.include(l) {
			continue
		}
		return r.splitBraces(l), true
	}
}

// fromGen takes the next line from the innermost loop or expansion.
func (r *reader) fromGen() (line, bool) {
	g := r.gens[len(r.gens)-1]
	if r.genLines++; r.genLines > maxGenLines {
		r.diags.errorf(g.pos, "loops and definitions make more than %d lines in all; the rest are not read", maxGenLines)
		r.gens = nil
		return line{}, false
	}
	if g.lines != nil || len(g.vars) == 0 {
		if len(g.lines) == 0 {
			r.gens = r.gens[:len(r.gens)-1]
			return line{}, false
		}
		t := g.lines[0]
		g.lines = g.lines[1:]
		if len(g.lines) == 0 {
			r.gens = r.gens[:len(r.gens)-1]
		}
		return line{pos: g.pos, text: t}, true
	}
	if g.next >= len(g.values) {
		r.gens = r.gens[:len(r.gens)-1]
		return line{}, false
	}
	for i, v := range g.vars {
		r.defs[v] = &def{name: v, value: g.values[g.next][i]}
	}
	g.next++
	if g.next >= len(g.values) {
		r.gens = r.gens[:len(r.gens)-1]
	}
	return line{pos: g.pos, text: g.text}, true
}

// fromFile reads the next non-empty physical line, decommented, popping
// finished files.
func (r *reader) fromFile() (line, bool) {
	for len(r.files) > 0 {
		f := r.files[len(r.files)-1]
		raw, err := f.r.ReadBytes('\n')
		if len(raw) == 0 && err != nil {
			r.files = r.files[:len(r.files)-1]
			continue
		}
		f.line++
		pos := Pos{File: f.name, Line: f.line}
		// fgets(buf, MAXBUF) returns at most MAXBUF-1 bytes including the
		// newline; a longer line is an error and is ignored whole.
		if len(raw) > maxBuf-1 {
			r.diags.errorf(pos, "line too long (%d bytes, the limit is %d) - ignoring", len(raw), maxBuf-2)
			continue
		}
		if bytes.IndexByte(raw, 0) >= 0 {
			r.diags.errorf(pos, "line contains a NUL character - ignoring")
			continue
		}
		s := strings.TrimRight(string(raw), "\r\n")
		if s == "" {
			// An empty line ends a multi-line definition.
			if r.pend != nil {
				r.endMultiline()
			}
			continue
		}
		// An unterminated quote is reported by the parser, which sees
		// the whole statement.
		text, _ := decomment(s)
		// A line that is only a comment comes back empty: it ends a
		// multi-line definition, and is otherwise skipped by the caller.
		return line{pos: pos, text: text}, true
	}
	return line{}, false
}

// decomment removes comments ('!' or '#' outside double quotes, anywhere),
// turns "\#" and "\!" outside quotes into literal characters, and strips
// leading and trailing blanks; a trailing '\' (a multi-line definition's
// continuation) is kept. It reports an unterminated double quote.
func decomment(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	b := []byte(s)
	quote, cont := false, false
	skip := -1
	for p := 0; p < len(b); p++ {
		switch b[p] {
		case '"':
			if skip < 0 {
				quote = !quote
			}
		case '\\':
			if p+1 < len(b) {
				if !quote && (b[p+1] == '#' || b[p+1] == '!') {
					b = append(b[:p], b[p+1:]...)
				} else {
					p++
				}
				continue
			}
			b = b[:p]
			cont = true
		case '!', '#':
			if !quote && skip < 0 {
				skip = p
			}
		}
	}
	if skip >= 0 && skip < len(b) {
		b = b[:skip]
	}
	out := strings.TrimRight(string(b), " \t")
	if cont {
		out += `\`
	}
	return out, quote
}

// process applies @conditionals, $definitions, ~SEQ/~LST and parameter
// substitution to a line, returning what is left for the parser.
func (r *reader) process(l line) (string, bool) {
	buf := l.text
	for round := 0; ; round++ {
		if round > maxSubstRounds {
			r.diags.errorf(l.pos, "definitions expand recursively without end")
			return "", false
		}
		if buf == "" {
			return "", false
		}
		if buf[0] == '@' {
			var ok bool
			if buf, ok = r.conditional(buf); !ok {
				return "", false
			}
		}
		if buf[0] == '$' && r.definition(l.pos, buf) {
			return "", false
		}
		if strings.HasPrefix(buf, "~SEQ") || strings.HasPrefix(buf, "~LST") {
			if err := r.loop(l.pos, buf); err != nil {
				r.diags.errorf(l.pos, "%v", err)
			}
			return "", false
		}
		if buf[0] == '~' || !strings.Contains(buf, "$") {
			return buf, true
		}
		next, changed, rest := r.substitute(l.pos, buf)
		if !changed {
			return buf, true
		}
		buf = next
		if rest != nil {
			r.gens = append(r.gens, &gen{pos: l.pos, lines: rest})
		}
		if buf == "" || (buf[0] != '@' && !strings.Contains(buf, "$")) {
			return buf, true
		}
	}
}

// conditional handles "@ID rest" and "@^ID rest": the rest survives only if
// ID matches (or, with ^, does not match) the config id.
func (r *reader) conditional(buf string) (string, bool) {
	rev := strings.HasPrefix(buf, "@^")
	ofs := 1
	if rev {
		ofs = 2
	}
	sp := strings.IndexAny(buf[ofs:], " \t")
	if sp < 0 {
		return "", false
	}
	id := buf[ofs : ofs+sp]
	cid := r.opts.configID()
	match := cid != "" && id == cid
	if match == rev {
		return "", false
	}
	return strings.TrimLeft(buf[ofs+sp:], " \t"), true
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

// loop registers ~SEQ(var, [start,] [step,] end) / ~SEQx(...) /
// ~LST(var, v1, v2, ...) / ~LST({a,b}, {1,2}, ...) and the text after it.
func (r *reader) loop(pos Pos, buf string) error {
	hex := strings.HasPrefix(buf, "~SEQx")
	isSeq := strings.HasPrefix(buf, "~SEQ")
	p := 4
	if hex {
		p = 5
	}
	rest := strings.TrimLeft(buf[p:], " \t")
	if !strings.HasPrefix(rest, "(") {
		return fmt.Errorf("invalid %s definition '%s'", buf[:p], buf)
	}
	close := matchingParen(rest)
	if close < 0 {
		return fmt.Errorf("invalid %s definition '%s': missing ')'", buf[:p], buf)
	}
	inner := rest[1:close]
	text := strings.TrimLeft(rest[close+1:], " \t")
	if strings.Contains(inner, "$") {
		sub, _, multi := r.substitute(pos, inner)
		if multi != nil {
			return fmt.Errorf("%s parameter is a multiline definition '%s'", buf[:p], buf)
		}
		inner = sub
	}
	g := &gen{pos: pos, text: text}
	if isSeq {
		args := strings.Split(inner, ",")
		v := strings.TrimSpace(args[0])
		if v == "" || len(args) < 2 || len(args) > 4 {
			return fmt.Errorf("invalid ~SEQ definition '%s'", buf)
		}
		var nums []int64
		for _, a := range args[1:] {
			n, err := strconv.ParseInt(strings.TrimSpace(a), 0, 64)
			if err != nil {
				return fmt.Errorf("invalid ~SEQ definition '%s': %q is not a number", buf, strings.TrimSpace(a))
			}
			nums = append(nums, n)
		}
		var start, step, end int64
		switch len(nums) {
		case 1:
			end = nums[0]
			step, start = 1, 1
			if end < 1 {
				step = -1
			}
			if end < 0 {
				start = -1
			}
		case 2:
			start, end = nums[0], nums[1]
			step = 1
			if start > end {
				step = -1
			}
		case 3:
			start, step, end = nums[0], nums[1], nums[2]
			if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
				return fmt.Errorf("invalid ~SEQ values '%s'", buf)
			}
		}
		if hex && (start < 0 || end < 0) {
			return fmt.Errorf("~SEQx is only valid for positive numbers '%s'", buf)
		}
		const maxIter = 1 << 16
		g.vars = []string{v}
		for x := start; (step > 0 && x <= end) || (step < 0 && x >= end); x += step {
			s := strconv.FormatInt(x, 10)
			if hex {
				s = strconv.FormatInt(x, 16)
			}
			g.values = append(g.values, []string{s})
			if len(g.values) > maxIter {
				return fmt.Errorf("~SEQ '%s' has more than %d values", buf, maxIter)
			}
		}
	} else {
		items := splitTopLevel(inner)
		if len(items) < 1 {
			return fmt.Errorf("invalid ~LST definition '%s'", buf)
		}
		vars := braceList(items[0])
		if len(vars) == 0 || vars[0] == "" {
			return fmt.Errorf("invalid ~LST definition '%s'", buf)
		}
		g.vars = vars
		for _, it := range items[1:] {
			vals := braceList(it)
			if len(vals) != len(vars) {
				return fmt.Errorf("~LST '%s': %q has %d values for %d variables", buf, it, len(vals), len(vars))
			}
			g.values = append(g.values, vals)
		}
	}
	if len(g.values) > 0 {
		r.gens = append(r.gens, g)
	}
	return nil
}

func matchingParen(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTopLevel splits on commas outside braces.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// braceList turns "{a,b}" into [a b] and "a" into [a].
func braceList(s string) []string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		parts := strings.Split(s[1:len(s)-1], ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	return []string{s}
}

// include handles include, includer, includem, includew, includeb and
// includea lines. It reports whether the line was one.
func (r *reader) include(l line) bool {
	if !strings.Contains(l.text, "include") {
		return false
	}
	w, ok := splitWords(l.text)
	if !ok || len(w) == 0 {
		return false
	}
	checks := ""
	switch w[0] {
	case "include":
		checks = r.includeCheck
		if r.opts.AllConfig {
			checks = "rmwb"
		}
	case "includer":
		checks = "r"
	case "includem":
		checks = "m"
	case "includew":
		checks = "w"
	case "includeb":
		checks = "b"
	case "includea":
		checks = "rmwb"
	default:
		return false
	}
	if len(w) != 2 {
		r.diags.errorf(l.pos, "%s takes exactly one file pattern", w[0])
		return true
	}
	if r.opts.noInclude {
		r.diags.errorf(l.pos, "%s: includes are disabled here", w[0])
		return true
	}
	if len(r.files) >= maxIncludeDepth {
		r.diags.errorf(l.pos, "includes nested more than %d deep (an include loop?)", maxIncludeDepth)
		return true
	}
	pattern := w[1]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(r.curDir(), pattern)
	}
	report := func(check byte, format string, args ...any) {
		if strings.IndexByte(checks, check) >= 0 {
			r.diags.errorf(l.pos, format, args...)
		} else {
			r.diags.warnf(l.pos, format, args...)
		}
	}
	alts, ok := expandBracesMax(pattern, maxIncludes)
	if !ok {
		r.diags.errorf(l.pos, "include %s: its braces expand to more than %d patterns; not read", w[1], maxIncludes)
		return true
	}
	var paths []string
	for _, alt := range alts {
		matches, err := filepath.Glob(alt)
		if err != nil {
			r.diags.errorf(l.pos, "include %s: %v", w[1], err)
			continue
		}
		sort.Strings(matches)
		if len(matches) == 0 && alt != pattern {
			report('b', "include %s: no file matches %s", w[1], alt)
		}
		if len(matches) == 0 && strings.ContainsAny(alt, "*?[") {
			report('w', "include %s: wildcard %s matches no file", w[1], alt)
		}
		paths = append(paths, matches...)
	}
	opened := 0
	// Files are pushed in reverse so that the first match is read first.
	var toOpen []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			report('r', "include %s: %v", w[1], err)
			continue
		}
		if st.IsDir() {
			continue
		}
		if !st.Mode().IsRegular() || st.Mode()&0o111 != 0 {
			report('r', "include %s: %s is not a regular non-executable file - skipping", w[1], p)
			continue
		}
		toOpen = append(toOpen, p)
	}
	if r.included+len(toOpen) > maxIncludes {
		r.diags.errorf(l.pos, "include %s: more than %d files included in all (an include loop?); not read", w[1], maxIncludes)
		return true
	}
	r.included += len(toOpen)
	for i := len(toOpen) - 1; i >= 0; i-- {
		f, err := readAtMost(toOpen[i], maxIncludeBytes-r.includedBytes)
		if err != nil {
			report('r', "include %s: %v", w[1], err)
			continue
		}
		if r.includedBytes += int64(len(f)); r.includedBytes > maxIncludeBytes {
			r.diags.errorf(l.pos, "include %s: %s takes the files included past %d MiB in all (an include loop?); not read",
				w[1], toOpen[i], maxIncludeBytes>>20)
			r.includedBytes = maxIncludeBytes + 1
			continue
		}
		r.open(r.relName(toOpen[i]), bytes.NewReader(f))
		opened++
	}
	if opened == 0 && len(toOpen) == 0 {
		report('m', "include %s: no config files matched", w[1])
	}
	return true
}

// readAtMost reads a file, or its first n+1 bytes when it is longer than n.
func readAtMost(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max(n, 0)+1))
}

// relName shortens an included file's path for messages: relative to the
// working directory when that is shorter.
func (r *reader) relName(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}

// expandBraces does csh-style brace expansion: "a{b,c}d" → [abd acd].
func expandBraces(s string) []string {
	out, _ := expandBracesMax(s, -1)
	return out
}

// expandBracesMax is expandBraces giving up once more than max patterns
// would come out (max < 0: no bound): n groups of two alternatives make
// 2^n of them, and one include line has room for 200 groups.
func expandBracesMax(s string, max int) ([]string, bool) {
	budget := -1
	if max >= 0 {
		budget = max + 1 // one more, to tell "exactly max" from "more"
	}
	out := expandBracesInto(nil, s, &budget)
	if max >= 0 && len(out) > max {
		return out[:max], false
	}
	return out, true
}

func expandBracesInto(out []string, s string, budget *int) []string {
	if *budget == 0 {
		return out
	}
	open := -1
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth == 0 {
				inner := s[open+1 : i]
				parts := splitTopLevel(inner)
				if len(parts) < 2 {
					// "{x}" is not an alternation: keep it literal.
					var tails []string
					b := *budget
					tails = expandBracesInto(tails, s[i+1:], &b)
					for _, tail := range tails {
						if *budget == 0 {
							break
						}
						out = append(out, s[:i+1]+tail)
						*budget--
					}
					return out
				}
				for _, p := range parts {
					if *budget == 0 {
						break
					}
					out = expandBracesInto(out, s[:open]+p+s[i+1:], budget)
				}
				return out
			}
		}
	}
	*budget--
	return append(out, s)
}

// splitBraces splits a line at its first '{' or '}' outside double quotes:
// "name{" gives "name" then "{"; "} }" gives "}" twice; "track_script { a
// b }" gives "track_script", "{", "a b", "}".
func (r *reader) splitBraces(l line) line {
	s := l.text
	if s[0] == '{' || s[0] == '}' {
		rest := strings.TrimSpace(s[1:])
		if rest != "" {
			r.resid = &line{pos: l.pos, text: rest}
		}
		l.text = s[:1]
		return l
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				i = len(s)
				continue
			}
			i += end + 1
		case '{', '}':
			r.resid = &line{pos: l.pos, text: strings.TrimRight(s[i:], " \t")}
			l.text = strings.TrimRight(s[:i], " \t")
			return l
		}
	}
	return l
}
