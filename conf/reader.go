package conf

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	// depth counts the '{' read and not yet closed.
	depth int
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
		l = r.splitBraces(l)
		// keepalived counts braces as it reads (read_line's block_depth):
		// a '}' beyond the '{'s is reported whatever the keywords.
		switch l.text {
		case "{":
			r.depth++
		case "}":
			if r.depth--; r.depth < 0 {
				r.diags.kaf(l.pos, ClassUnexpectedClose, "extra '}' found")
				r.depth = 0
			}
		}
		return l, true
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
