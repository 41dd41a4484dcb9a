package conf

import (
	"io"
	"strings"
)

// Dump writes the statement tree in canonical keepalived syntax: one
// statement per line, blocks indented by four spaces, words quoted only
// where needed. Reading the dump back gives the same Config (and the same
// dump): includes, definitions, conditionals and loops are already applied.
func Dump(w io.Writer, tree []*Node) error {
	var b strings.Builder
	dumpNodes(&b, tree, 0)
	_, err := io.WriteString(w, b.String())
	return err
}

// DumpString is Dump into a string.
func DumpString(tree []*Node) string {
	var b strings.Builder
	dumpNodes(&b, tree, 0)
	return b.String()
}

func dumpNodes(b *strings.Builder, nodes []*Node, depth int) {
	for _, n := range nodes {
		if n.unknown {
			// keepalived skips an unknown keyword; so does the dump.
			continue
		}
		indent := strings.Repeat("    ", depth)
		b.WriteString(indent)
		words := make([]string, 0, len(n.Args)+1)
		if n.Keyword != "" {
			words = append(words, n.Keyword)
		}
		quoted := n.kw != nil && n.kw.quoted
		for _, a := range n.Args {
			if quoted && (a == "" || strings.ContainsAny(a, whiteSpace+`"'\#!{}$`) || a[0] >= 0x7f || a[0] < 0x20) {
				words = append(words, quoteEscaped(a))
			} else {
				words = append(words, quoteWord(a))
			}
		}
		b.WriteString(strings.Join(words, " "))
		if n.Block {
			b.WriteString(" {\n")
			dumpNodes(b, n.Kids, depth+1)
			b.WriteString(indent)
			b.WriteString("}")
		}
		b.WriteByte('\n')
	}
}
