package conf

import "strings"

// Node is one statement of the resolved configuration: a keyword with its
// arguments, and for blocks the statements inside. Lines of a value block
// (virtual_ipaddress, unicast_peer, ...) are Nodes with an empty Keyword.
type Node struct {
	Pos     Pos
	Keyword string
	Args    []string
	// Block is set for keywords that open a block, even an empty one;
	// End is where it closes.
	Block bool
	Kids  []*Node
	End   Pos

	kw *keyword
	// unknown marks a keyword the block's table lacks; where names the
	// block for the message.
	unknown bool
	where   string
}

// parser builds the statement tree from logical lines, following
// keepalived's process_stream (lib/parser.c): keywords are looked up
// case-sensitively in the table of the current block level, and a problem
// is reported and skipped the way keepalived skips it, so that the rest of
// the file means what it means to keepalived.
type parser struct {
	r *reader
	d *diagList
	// rec, when set, collects the lines read (see shadowed).
	rec *[]line
}

// next and peek read the reader's logical lines, recording them in rec.
func (p *parser) next() (line, bool) {
	l, ok := p.r.next()
	if ok && p.rec != nil {
		*p.rec = append(*p.rec, l)
	}
	return l, ok
}

func (p *parser) peek() (line, bool) { return p.r.peek() }

// blockOpen remembers where an open block started, for messages at EOF,
// and where it ended.
type blockOpen struct {
	pos  Pos
	desc string
	end  Pos
}

// parseLevel reads statements until the '}' closing the current block
// (returning true) or the end of input (false).
//
// keepalived's rules, which give the same lines the same meaning:
//   - an unknown keyword is reported (when the block is read) and its line
//     skipped; a block it opens is not skipped: its '{' is "unexpected", its
//     lines are read as keywords of the current block, and its '}' closes
//     the current block;
//   - a '}' at the top level is an unknown keyword;
//   - a block keyword not followed by '{' is reported, and the lines after
//     it are read as the block's anyway.
func (p *parser) parseLevel(lv *level, open *blockOpen) ([]*Node, bool) {
	var nodes []*Node
	for {
		l, ok := p.next()
		if !ok {
			return nodes, false
		}
		words, okq := splitWords(l.text)
		if !okq {
			// alloc_strvec_r: "Unmatched quote".
			p.d.kaf(l.pos, ClassUnmatchedQuote, "unmatched quote: '%s' - ignoring the line", l.text)
			continue
		}
		if len(words) == 0 {
			continue
		}
		switch {
		case words[0] == "{":
			// process_stream: "Unexpected '{' - ignoring".
			p.d.kaf(l.pos, ClassUnexpectedBrace, "unexpected '{' - ignoring")
			continue
		case words[0] == "}" && open != nil:
			open.end = l.pos
			return nodes, true
		}
		kw := lv.lookup(words[0])
		if kw == nil {
			where := "at the top level"
			if open != nil {
				where = "in " + open.desc
			}
			nodes = append(nodes, &Node{Pos: l.pos, Keyword: words[0], Args: words[1:], unknown: true, where: where})
			continue
		}
		n := &Node{Pos: l.pos, Keyword: words[0], Args: words[1:], kw: kw}
		if kw.quoted {
			qw, err := splitQuoted(l.text)
			if err != nil {
				// alloc_strvec_quoted_escaped: "String '%s': missing
				// terminating %c".
				p.d.kaf(l.pos, ClassUnmatchedQuote, "%s: %v", words[0], err)
				continue
			}
			n.Args = qw[1:]
		}
		switch kw.kind {
		case kwBlock:
			n.Block = true
			opened := p.expectOpen(n)
			var shadow []line
			if !opened && open == nil && n.Keyword != "global_defs" {
				p.rec = &shadow
			}
			nodes = append(nodes, n)
			if kw.sub == anyLevel {
				// A block ulvs does not read: skipped by counting braces.
				if !p.skipTo(1) {
					p.unclosed(n.Pos, n.Keyword)
					return nodes, false
				}
				continue
			}
			desc := strings.TrimSpace(n.Keyword + " " + strings.Join(n.Args, " "))
			bo := &blockOpen{pos: n.Pos, desc: desc}
			kids, closed := p.parseLevel(kw.sub, bo)
			n.Kids, n.End = kids, bo.end
			if p.rec != nil {
				p.rec = nil
				p.shadowed(n, shadow)
			}
			if !closed {
				p.unclosed(n.Pos, desc)
				return nodes, false
			}
		case kwValues:
			n.Block = true
			nodes = append(nodes, n)
			if !p.readValues(n) {
				p.unclosed(n.Pos, n.Keyword)
				return nodes, false
			}
		default:
			nodes = append(nodes, n)
		}
	}
}

// unclosed reports a block still open at the end of the input, at the line
// that opened it. keepalived gives one message for all of them ("There are
// N missing '}'s or extra '{'s"), with no line.
func (p *parser) unclosed(pos Pos, desc string) {
	p.d.kaf(pos, ClassMissingClose, "%s: block opened here is never closed (missing '}')", desc)
}

// expectOpen consumes the '{' that must follow a block keyword. Without
// one keepalived says so (at the line where it finds another) and reads
// the following lines as the block's.
func (p *parser) expectOpen(n *Node) bool {
	l, ok := p.peek()
	if ok && l.text == "{" {
		p.next()
		return true
	}
	pos := n.Pos
	if ok {
		pos = l.pos
	}
	// process_stream: "Missing '{' at beginning of configuration block".
	p.d.kaf(pos, ClassMissingBrace, "%s: missing '{' at beginning of configuration block", n.Keyword)
	return false
}

// shadowed reports the lines of a top-level block that has no '{' as
// keepalived's other processes read them. keepalived reads the file once in
// each of its processes, and a block that is not its process's (a
// vrrp_instance for the checker, a virtual_server for VRRP) is skipped by
// counting braces from its '{'; without one, those processes read the
// block's lines as top-level keywords and report each of them.
func (p *parser) shadowed(n *Node, lines []line) {
	for _, l := range lines {
		// process_stream: "Unknown keyword '%s'" / "Unexpected '{'".
		p.d.kaf(l.pos, ClassUnknownKeyword, "'%s' is read by keepalived's other processes as a top-level keyword "+
			"(%s at line %d has no '{')", l.text, n.Keyword, n.Pos.Line)
	}
}

// readValues reads the lines of a value block up to its '}', as keepalived's
// alloc_value_block: words after the keyword are "extra parameters"; a
// missing '{' is only logged by keepalived, and the lines are read as
// values all the same.
func (p *parser) readValues(n *Node) bool {
	if len(n.Args) > 0 && !n.kw.named {
		// alloc_value_block: "Block %s has extra parameters %s ...".
		p.d.kaf(n.Pos, ClassGeneral, "%s: block has extra parameters %s ... - ignored", n.Keyword, n.Args[0])
	}
	first := true
	for {
		l, ok := p.next()
		if !ok {
			return false
		}
		words, okq := splitWords(l.text)
		if !okq {
			p.d.kaf(l.pos, ClassUnmatchedQuote, "unmatched quote: '%s' - ignoring the line", l.text)
			continue
		}
		if len(words) == 0 {
			continue
		}
		if first {
			first = false
			if words[0] == "{" {
				continue
			}
			p.d.warnf(n.Pos, "%s: '{' missing at the beginning of the block (keepalived reads on)", n.Keyword)
		}
		if words[0] == "}" {
			return true
		}
		n.Kids = append(n.Kids, &Node{Pos: l.pos, Args: words})
	}
}

// skipTo reads lines until depth open blocks have closed.
func (p *parser) skipTo(depth int) bool {
	for depth > 0 {
		l, ok := p.next()
		if !ok {
			return false
		}
		switch l.text {
		case "{":
			depth++
		case "}":
			depth--
		}
	}
	return true
}
