package conf

import (
	"errors"
	"strings"
)

const whiteSpace = " \t\f\n\r\v"

// splitWords tokenizes a line as keepalived's alloc_strvec_r does: words
// are separated by white space; a word starting with '"' runs to the next
// '"' (quotes removed, spaces kept, no escapes); an unquoted word also ends
// at a '"'. An unmatched quote ends tokenizing with ok false.
func splitWords(s string) (words []string, ok bool) {
	i := 0
	for {
		for i < len(s) && strings.IndexByte(whiteSpace, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words, true
		}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return words, false
			}
			words = append(words, s[i+1:i+1+end])
			i += end + 2
			continue
		}
		start := i
		for i < len(s) && strings.IndexByte(whiteSpace+`"`, s[i]) < 0 {
			i++
		}
		words = append(words, s[start:i])
	}
}

var errMissingQuote = errors.New("missing terminating quote")

// splitQuoted tokenizes a line as keepalived's
// alloc_strvec_quoted_escaped does for script keywords: both '"' and '\”
// quote, quotes may appear in the middle of a word and are removed, and the
// escapes \a \b \E \f \n \r \t \v, \NNN (octal, up to three digits), \xHH...
// (hex), \cC (control) and \C (the character itself) are decoded.
func splitQuoted(s string) ([]string, error) {
	var words []string
	var buf []byte
	i := 0
	for i < len(s) {
		for i < len(s) && strings.IndexByte(whiteSpace, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			break
		}
		buf = buf[:0]
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return nil, errors.New("missing escape character at end")
				}
				var out byte
				switch e := s[i]; {
				case e == 'x' && i+1 < len(s) && isHex(s[i+1]):
					i++
					for i < len(s) && isHex(s[i]) {
						out = out<<4 | hexVal(s[i])
						i++
					}
				case e == 'c' && i+1 < len(s):
					out = s[i+1] & 0x1f
					i += 2
				case e >= '0' && e <= '7':
					out = e - '0'
					i++
					for n := 0; n < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; n++ {
						out = out<<3 + (s[i] - '0')
						i++
					}
				default:
					switch e {
					case 'a':
						out = '\a'
					case 'b':
						out = '\b'
					case 'E':
						out = 0x1b
					case 'f':
						out = '\f'
					case 'n':
						out = '\n'
					case 'r':
						out = '\r'
					case 't':
						out = '\t'
					case 'v':
						out = '\v'
					default:
						out = e
					}
					i++
				}
				buf = append(buf, out)
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote != 0:
				buf = append(buf, c)
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case strings.IndexByte(whiteSpace, c) >= 0:
				break word
			default:
				buf = append(buf, c)
				i++
			}
		}
		if quote != 0 {
			return nil, errMissingQuote
		}
		words = append(words, string(buf))
	}
	return words, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// quoteWord renders a word so that splitWords reads it back unchanged,
// quoting it only when needed.
func quoteWord(w string) string {
	if w == "" {
		return `""`
	}
	if strings.ContainsAny(w, whiteSpace+`#!{}"`) || strings.IndexByte("@$~", w[0]) >= 0 {
		return `"` + w + `"`
	}
	return w
}

// quoteEscaped renders a word so that splitQuoted reads it back unchanged.
// Characters that decomment or brace splitting would act on, and anything
// not printable, become three-digit octal escapes.
func quoteEscaped(w string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"' || c == '{' || c == '}' || c == '$' || c == '\'' || c < 0x20 || c >= 0x7f:
			b.WriteByte('\\')
			b.WriteByte('0' + c>>6)
			b.WriteByte('0' + (c>>3)&7)
			b.WriteByte('0' + c&7)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
