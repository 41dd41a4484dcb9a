package conf

import (
	"fmt"
	"sort"
	"strings"
)

// Status says what ulvs does with a keyword. A keyword is Supported only
// when the registry names a test that shows its effect (effects.go).
type Status int

const (
	// Untested keywords are read into the Config and acted on, but no
	// test named in the registry shows the effect yet.
	Untested Status = iota
	// Supported keywords are read, acted on, and the registry names the
	// tests that show the effect.
	Supported
	// Partial keywords are supported except for a part the registry
	// names; using one warns about that part.
	Partial
	// NotHonoured keywords are recognised (and read into the Config where
	// they have a value) but ulvs does not act on them; using one is a
	// warning at its line that names the consequence.
	NotHonoured
	// Ignored keywords are accepted and have no effect by design (they
	// tune keepalived's own processes, or are obsolete); some give a note.
	Ignored
)

func (s Status) String() string {
	switch s {
	case Supported:
		return "supported"
	case Partial:
		return "partial"
	case NotHonoured:
		return "not honoured"
	case Ignored:
		return "ignored"
	}
	return "untested"
}

type kwKind int

const (
	kwPlain  kwKind = iota
	kwBlock         // a block of keywords
	kwValues        // a block of value lines
)

// keyword is one entry of the registry.
type keyword struct {
	name   string
	kind   kwKind
	status Status
	// quoted keywords take script strings: their line is re-tokenized with
	// quotes of both kinds and escapes.
	quoted bool
	// note explains an Ignored status or a deprecation, or names the
	// consequence of a NotHonoured (or Partial) one; warn makes it a
	// message whenever the keyword is used.
	note string
	warn bool
	// tests name the tests that show the effect ("pkg/path.TestName"),
	// from the effects table.
	tests []string
	// kaMsg is what keepalived 2.2.7 says whenever the keyword is used
	// (a deprecation, or "Unknown keyword" for a keyword it does not have
	// at this level), with its class.
	kaMsg   string
	kaClass Class
	// needsArg: keepalived reads a parameter without checking, so the
	// keyword alone stops it (see builder.need).
	needsArg bool
	// named value blocks take a name on their line.
	named bool
	sub   *level
	// h handles the statement; for blocks it runs before the block's
	// contents, and end (if set) after them.
	h   func(b *builder, n *Node)
	end func(b *builder, n *Node)
}

// level is the keyword table of one block kind.
type level struct {
	name   string
	kws    []*keyword
	byName map[string]*keyword
}

func newLevel(name string) *level {
	return &level{name: name, byName: map[string]*keyword{}}
}

func (lv *level) lookup(name string) *keyword { return lv.byName[name] }

func (lv *level) add(kws ...*keyword) *level {
	for _, k := range kws {
		if _, dup := lv.byName[k.name]; dup {
			panic(fmt.Sprintf("conf: keyword %s registered twice in %s", k.name, lv.name))
		}
		lv.kws = append(lv.kws, k)
		lv.byName[k.name] = k
	}
	return lv
}

// Constructors that keep the tables readable.

func kw(name string, h func(*builder, *Node)) *keyword { return &keyword{name: name, h: h} }

// kwStr is a keyword whose one value is stored as given in the string field
// returns.
func kwStr(name string, field func(*builder) *string) *keyword {
	return kw(name, func(b *builder, n *Node) {
		if v, ok := b.str(n); ok {
			*field(b) = v
		}
	})
}

func kwQ(name string, h func(*builder, *Node)) *keyword {
	return &keyword{name: name, h: h, quoted: true}
}

func kwVals(name string, h func(*builder, *Node)) *keyword {
	return &keyword{name: name, kind: kwValues, h: h}
}

func kwBlk(name string, sub *level, h, end func(*builder, *Node)) *keyword {
	return &keyword{name: name, kind: kwBlock, sub: sub, h: h, end: end}
}

// ignored is a keyword accepted with no effect; note says why.
func ignored(name, note string) *keyword {
	return &keyword{name: name, status: Ignored, note: note}
}

// ignoredWarn is an ignored keyword that warns when used (obsolete ones).
func ignoredWarn(name, note string) *keyword {
	return &keyword{name: name, status: Ignored, note: note, warn: true}
}

// unsupported is a keyword whose feature ulvs lacks; it warns when used,
// naming the consequence.
func unsupported(name, consequence string) *keyword {
	return &keyword{name: name, status: NotHonoured, note: consequence, warn: true}
}

// unsupportedBlock is an unsupported keyword that opens a block; the block
// is read and dropped.
func unsupportedBlock(name, consequence string) *keyword {
	return &keyword{name: name, kind: kwBlock, status: NotHonoured, note: consequence, warn: true, sub: anyLevel}
}

// anyLevel accepts anything: it holds the contents of unsupported blocks.
var anyLevel = newLevel("(unsupported block)")

// alias marks k as a deprecated spelling of another keyword.
func alias(k *keyword, of string) *keyword {
	if k.status == NotHonoured {
		k.note += " (a deprecated spelling of " + of + ")"
	} else {
		k.note = "deprecated: same as " + of
	}
	k.warn = true
	return k
}

// named marks a value block whose keyword line carries a name
// (virtual_server_group NAME { ... }).
func named(k *keyword) *keyword {
	k.named = true
	return k
}

// kaSays makes k give keepalived's message whenever it is used.
func kaSays(k *keyword, c Class, msg string) *keyword {
	k.kaClass, k.kaMsg = c, msg
	if k.status != NotHonoured {
		// keepalived's message replaces ulvs's own deprecation note.
		k.warn = false
	}
	return k
}

// KeywordInfo describes one registry entry for --keywords.
type KeywordInfo struct {
	Block   string
	Keyword string
	Status  Status
	Note    string
	// Tests name the tests that show the effect of a Supported or Partial
	// keyword, as "package/path.TestName".
	Tests []string
}

// Keywords lists every keyword ulvs knows, by block, straight from the
// parser's registry. A block name used by several blocks (url in HTTP_GET
// and SSL_GET) lists its keywords once.
func Keywords() []KeywordInfo {
	var out []KeywordInfo
	seen := map[*level]bool{}
	listed := map[string]bool{}
	var walk func(lv *level)
	walk = func(lv *level) {
		if seen[lv] || lv == anyLevel {
			return
		}
		seen[lv] = true
		kws := append([]*keyword(nil), lv.kws...)
		sort.SliceStable(kws, func(i, j int) bool { return kws[i].name < kws[j].name })
		for _, k := range kws {
			if listed[lv.name+" "+k.name] {
				continue
			}
			listed[lv.name+" "+k.name] = true
			out = append(out, KeywordInfo{Block: lv.name, Keyword: k.name, Status: k.status, Note: k.note,
				Tests: k.tests})
		}
		for _, k := range lv.kws {
			if k.sub != nil {
				walk(k.sub)
			}
		}
	}
	walk(rootLevel())
	return out
}

// KeywordTable renders Keywords as a Markdown table.
func KeywordTable() string {
	var b strings.Builder
	counts := map[Status]int{}
	b.WriteString("| block | keyword | status | tests that show the effect, or what is missing |\n| --- | --- | --- | --- |\n")
	for _, k := range Keywords() {
		counts[k.Status]++
		var what []string
		for _, t := range k.Tests {
			what = append(what, "`"+t+"`")
		}
		if k.Note != "" {
			what = append(what, strings.ReplaceAll(k.Note, "|", `\|`))
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", k.Block, k.Keyword, k.Status, strings.Join(what, " "))
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	fmt.Fprintf(&b, "\n%d keywords: %d supported, %d partial, %d untested, %d not honoured, %d ignored.\n",
		total, counts[Supported], counts[Partial], counts[Untested], counts[NotHonoured], counts[Ignored])
	return b.String()
}
