package conf

import "strings"

// Node is one statement of the resolved configuration: a keyword with its
// arguments, and for blocks the statements inside. Lines of a value block
// (virtual_ipaddress, unicast_peer, ...) are Nodes with an empty Keyword.
type Node struct {
	Pos     Pos
	Keyword string
	Args    []string
	// Block is set for keywords that open a block, even an empty one.
	Block bool
	Kids  []*Node

	kw *keyword
}

// parser builds the statement tree from logical lines, following
// keepalived's process_stream: keywords are looked up case-sensitively in
// the table of the current block level.
type parser struct {
	r *reader
	d *diagList
}

// blockOpen remembers where an open block started, for messages at EOF.
type blockOpen struct {
	pos  Pos
	desc string
}

// parseLevel reads statements until the '}' closing the current block
// (returning true) or the end of input (false).
func (p *parser) parseLevel(lv *level, open *blockOpen) ([]*Node, bool) {
	var nodes []*Node
	for {
		l, ok := p.r.next()
		if !ok {
			return nodes, false
		}
		words, okq := splitWords(l.text)
		if !okq {
			p.d.errorf(l.pos, "unterminated quote: '%s' - ignoring the line", l.text)
			continue
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "{":
			p.d.errorf(l.pos, "unexpected '{' - ignoring")
			continue
		case "}":
			if open == nil {
				p.d.errorf(l.pos, "extra '}' found")
				continue
			}
			return nodes, true
		}
		kw := lv.lookup(words[0])
		if kw == nil {
			where := "at the top level"
			if open != nil {
				where = "in " + open.desc
			}
			p.d.errorf(l.pos, "unknown keyword '%s' %s", words[0], where)
			p.skipBlockIfAny()
			continue
		}
		n := &Node{Pos: l.pos, Keyword: words[0], Args: words[1:], kw: kw}
		if kw.quoted {
			qw, err := splitQuoted(l.text)
			if err != nil {
				p.d.errorf(l.pos, "%s: %v", words[0], err)
				continue
			}
			n.Args = qw[1:]
		}
		switch kw.kind {
		case kwBlock:
			n.Block = true
			if !p.expectOpen(n) {
				nodes = append(nodes, n)
				continue
			}
			if kw.sub == anyLevel {
				// An unsupported block: read to its '}' and keep nothing.
				if !p.skipTo(1) {
					p.d.errorf(n.Pos, "%s: block opened here is never closed (missing '}')", n.Keyword)
					return append(nodes, n), false
				}
				nodes = append(nodes, n)
				continue
			}
			desc := strings.TrimSpace(n.Keyword + " " + strings.Join(n.Args, " "))
			kids, closed := p.parseLevel(kw.sub, &blockOpen{pos: n.Pos, desc: desc})
			n.Kids = kids
			nodes = append(nodes, n)
			if !closed {
				p.d.errorf(n.Pos, "%s: block opened here is never closed (missing '}')", desc)
				return nodes, false
			}
		case kwValues:
			n.Block = true
			if !p.expectOpen(n) {
				nodes = append(nodes, n)
				continue
			}
			closed := p.readValues(n)
			nodes = append(nodes, n)
			if !closed {
				p.d.errorf(n.Pos, "%s: block opened here is never closed (missing '}')", n.Keyword)
				return nodes, false
			}
		default:
			nodes = append(nodes, n)
		}
	}
}

// expectOpen consumes the '{' that must follow a block keyword.
func (p *parser) expectOpen(n *Node) bool {
	l, ok := p.r.peek()
	if ok && l.text == "{" {
		p.r.next()
		return true
	}
	p.d.errorf(n.Pos, "%s: missing '{' at beginning of configuration block", n.Keyword)
	return false
}

// readValues reads the lines of a value block up to its '}'.
func (p *parser) readValues(n *Node) bool {
	for {
		l, ok := p.r.next()
		if !ok {
			return false
		}
		words, okq := splitWords(l.text)
		if !okq {
			p.d.errorf(l.pos, "unterminated quote: '%s' - ignoring the line", l.text)
			continue
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "}":
			return true
		case "{":
			p.d.errorf(l.pos, "%s: unexpected '{' inside the block - ignoring", n.Keyword)
			continue
		}
		n.Kids = append(n.Kids, &Node{Pos: l.pos, Args: words})
	}
}

// skipTo reads lines until depth open blocks have closed.
func (p *parser) skipTo(depth int) bool {
	for depth > 0 {
		l, ok := p.r.next()
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

// skipBlockIfAny skips the block following an unknown keyword, so that its
// contents are not misread as keywords of the current level.
func (p *parser) skipBlockIfAny() {
	l, ok := p.r.peek()
	if !ok || l.text != "{" {
		return
	}
	p.r.next()
	p.skipTo(1)
}
