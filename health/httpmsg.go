package health

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// The HTTP side of HTTP_GET, SSL_GET and genhash, parsed the way keepalived
// reads a reply (lib/html.c): the header ends at the first CRLF CRLF, the
// status code is the number after the first space of the first line, and
// the body is whatever follows the header, bounded by Content-Length when
// one is given. No chunked decoding: keepalived digests the bytes on the
// wire, and so must we for digests to match.

// ResponseHeader is the header block of an HTTP reply.
type ResponseHeader struct {
	// Proto is the first word of the status line ("HTTP/1.1").
	Proto string
	// Status is the second word of the status line, as sent ("200").
	Status string
	// Reason is the rest of the status line after the second space.
	Reason string
	// Fields are the header lines in order. A line without a colon is kept
	// as a field with an empty Name and the line as Value.
	Fields []HeaderField
}

// HeaderField is one header line.
type HeaderField struct {
	Name, Value string
}

// errNoHeaderEnd is returned when the reply has no CRLF CRLF.
var errNoHeaderEnd = errors.New("health: http: no end of header (CRLF CRLF)")

// headerEnd returns the length of the header block including its final
// CRLF CRLF (keepalived's extract_html), or -1 when it is not complete.
func headerEnd(b []byte) int {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return -1
	}
	return i + 4
}

// ParseResponseHeader parses the header block at the start of b, which
// must hold its terminating CRLF CRLF; bytes after it are ignored. The
// result does not alias b.
func ParseResponseHeader(b []byte) (*ResponseHeader, error) {
	end := headerEnd(b)
	if end < 0 {
		return nil, errNoHeaderEnd
	}
	block := string(b[:end-4])
	line, rest, more := strings.Cut(block, "\r\n")
	if line == "" {
		return nil, errors.New("health: http: empty status line")
	}
	h := &ResponseHeader{}
	// Status line: words split on single spaces as extract_status_code
	// does.
	h.Proto, line, _ = strings.Cut(line, " ")
	h.Status, h.Reason, _ = strings.Cut(line, " ")
	for more {
		line, rest, more = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			h.Fields = append(h.Fields, HeaderField{Value: line})
			continue
		}
		h.Fields = append(h.Fields, HeaderField{Name: name, Value: trimOWS(value)})
	}
	return h, nil
}

// AppendBinary appends the header block, with its final CRLF CRLF, to b.
// ParseResponseHeader reads back what it writes.
func (h *ResponseHeader) AppendBinary(b []byte) ([]byte, error) {
	if strings.Contains(h.Proto, " ") || strings.Contains(h.Status, " ") ||
		strings.Contains(h.Proto+" "+h.Status+" "+h.Reason, "\r\n") {
		return b, errors.New("health: http: status line cannot be written back")
	}
	b = append(b, h.Proto...)
	b = append(b, ' ')
	b = append(b, h.Status...)
	b = append(b, ' ')
	b = append(b, h.Reason...)
	b = append(b, "\r\n"...)
	for _, f := range h.Fields {
		if !fieldWritable(f) {
			return b, errors.New("health: http: field cannot be written back")
		}
		if f.Name != "" {
			b = append(b, f.Name...)
			b = append(b, ": "...)
		}
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

// fieldWritable reports whether f survives a write and a parse unchanged.
func fieldWritable(f HeaderField) bool {
	if strings.Contains(f.Name+":"+f.Value, "\r\n") {
		return false
	}
	if f.Name == "" {
		// A raw line: it must not end the header nor read back as a named
		// field.
		name, _, ok := strings.Cut(f.Value, ":")
		return f.Value != "" && (!ok || name == "")
	}
	return !strings.Contains(f.Name, ":") && f.Value == trimOWS(f.Value)
}

// StatusCode returns the status as keepalived reads it (atoi of the
// second word): the leading digits, 0 when there are none.
func (h *ResponseHeader) StatusCode() int {
	return atoiPrefix(h.Status, 9)
}

// ContentLength returns the value of the first Content-Length field
// (leading digits, as atoi reads it) or -1 when there is none.
func (h *ResponseHeader) ContentLength() int64 {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, "Content-Length") {
			v := f.Value
			if v != "" && v[0] == '-' {
				return -1
			}
			return int64(atoiPrefix(v, 18))
		}
	}
	return -1
}

// AppendRequest appends keepalived's GET request (check_http.c
// request_template): HTTP/1.0 unless proto is "1.1", "Connection: close"
// for "1.0C" and "1.1", and Host set to vhost, or else to the destination
// as "IP:port" ("[IPv6]:port").
func AppendRequest(b []byte, path, proto, vhost string, dst netip.AddrPort) []byte {
	minor := "0"
	if proto == "1.1" {
		minor = "1"
	}
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/1."...)
	b = append(b, minor...)
	b = append(b, "\r\nUser-Agent: KeepAliveClient\r\n"...)
	if proto == "1.1" || proto == "1.0C" || proto == "1.0c" {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "Host: "...)
	switch {
	case vhost != "":
		b = append(b, vhost...)
	case dst.Addr().Is6():
		b = append(b, '[')
		b = append(b, dst.Addr().String()...)
		b = append(b, "]:"...)
		b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	default:
		b = append(b, dst.Addr().String()...)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	}
	return append(b, "\r\n\r\n"...)
}

func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t' || s[j-1] == '\r') {
		j--
	}
	return s[i:j]
}

// atoiPrefix reads an optional sign and up to max leading digits, like C's
// atoi after leading blanks; anything else yields 0.
func atoiPrefix(s string, max int) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	v, n := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && n < max {
		v = v*10 + int(s[i]-'0')
		i++
		n++
	}
	if neg {
		return -v
	}
	return v
}
