package conf

import (
	"fmt"
	"sort"
	"strings"
)

// Status says what ulvs does with a keyword.
type Status int

const (
	// Supported keywords are read into the Config and acted on.
	Supported Status = iota
	// Ignored keywords are accepted and have no effect in ulvs (they tune
	// keepalived internals, or are obsolete); some warn when used.
	Ignored
	// Unsupported keywords are recognised but the feature is not in ulvs;
	// using one is a warning, and the statement has no effect.
	Unsupported
)

func (s Status) String() string {
	switch s {
	case Supported:
		return "supported"
	case Ignored:
		return "accepted-and-ignored"
	}
	return "not supported"
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
	// note explains an Ignored/Unsupported status or a deprecation; warn
	// makes it a warning whenever the keyword is used.
	note string
	warn bool
	sub  *level
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

// unsupported is a keyword whose feature ulvs lacks; it warns when used.
func unsupported(name, note string) *keyword {
	return &keyword{name: name, status: Unsupported, note: note, warn: true}
}

// unsupportedBlock is an unsupported keyword that opens a block; the block
// is read and dropped.
func unsupportedBlock(name, note string) *keyword {
	return &keyword{name: name, kind: kwBlock, status: Unsupported, note: note, warn: true, sub: anyLevel}
}

// anyLevel accepts anything: it holds the contents of unsupported blocks.
var anyLevel = newLevel("(unsupported block)")

// alias marks k as a deprecated spelling of another keyword.
func alias(k *keyword, of string) *keyword {
	k.note = "deprecated: same as " + of
	k.warn = true
	return k
}

// KeywordInfo describes one registry entry for --keywords.
type KeywordInfo struct {
	Block   string
	Keyword string
	Status  Status
	Note    string
}

// Keywords lists every keyword ulvs knows, by block, straight from the
// parser's registry.
func Keywords() []KeywordInfo {
	var out []KeywordInfo
	seen := map[*level]bool{}
	var walk func(lv *level)
	walk = func(lv *level) {
		if seen[lv] || lv == anyLevel {
			return
		}
		seen[lv] = true
		kws := append([]*keyword(nil), lv.kws...)
		sort.SliceStable(kws, func(i, j int) bool { return kws[i].name < kws[j].name })
		for _, k := range kws {
			out = append(out, KeywordInfo{Block: lv.name, Keyword: k.name, Status: k.status, Note: k.note})
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
	b.WriteString("| block | keyword | status | note |\n| --- | --- | --- | --- |\n")
	for _, k := range Keywords() {
		counts[k.Status]++
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", k.Block, k.Keyword, k.Status, strings.ReplaceAll(k.Note, "|", `\|`))
	}
	fmt.Fprintf(&b, "\n%d keywords: %d supported, %d accepted-and-ignored, %d not supported.\n",
		counts[Supported]+counts[Ignored]+counts[Unsupported], counts[Supported], counts[Ignored], counts[Unsupported])
	return b.String()
}
