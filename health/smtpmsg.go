package health

import (
	"bytes"
	"errors"
	"fmt"
)

// SMTPReply is one reply of an SMTP server (RFC 5321 §4.2): a three-digit
// code on every line, "-" after the code on all lines but the last.
type SMTPReply struct {
	Code  int
	Lines []string
}

// errSMTPIncomplete means the bytes hold no complete reply yet.
var errSMTPIncomplete = errors.New("health: smtp: incomplete reply")

// maxSMTPReply bounds what a checker reads for one reply.
const maxSMTPReply = 64 << 10

// ParseSMTPReply parses the first reply in b and returns it with the number
// of bytes it took. Lines end in CRLF (a bare LF is accepted). It returns
// an error wrapping errSMTPIncomplete while the last line has not arrived.
// The result does not alias b.
func ParseSMTPReply(b []byte) (*SMTPReply, int, error) {
	r := &SMTPReply{}
	off := 0
	for {
		nl := bytes.IndexByte(b[off:], '\n')
		if nl < 0 {
			if len(b)-off >= 3 && !digits3(b[off:]) {
				return nil, 0, fmt.Errorf("health: smtp: line %d does not start with a code", len(r.Lines)+1)
			}
			return nil, 0, errSMTPIncomplete
		}
		line := b[off : off+nl]
		off += nl + 1
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) < 3 || !digits3(line) {
			return nil, 0, fmt.Errorf("health: smtp: line %d does not start with a code", len(r.Lines)+1)
		}
		code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		if len(r.Lines) == 0 {
			r.Code = code
		} else if code != r.Code {
			return nil, 0, fmt.Errorf("health: smtp: code %03d in a reply of %03d", code, r.Code)
		}
		last := true
		text := ""
		if len(line) > 3 {
			switch line[3] {
			case '-':
				last = false
			case ' ':
			default:
				return nil, 0, fmt.Errorf("health: smtp: bad separator %q after code", line[3])
			}
			text = string(line[4:])
		}
		r.Lines = append(r.Lines, text)
		if last {
			return r, off, nil
		}
	}
}

// AppendBinary appends the reply as a server sends it.
func (r *SMTPReply) AppendBinary(b []byte) ([]byte, error) {
	if r.Code < 0 || r.Code > 999 || len(r.Lines) == 0 {
		return b, errors.New("health: smtp: reply needs a code 000-999 and a line")
	}
	for i, l := range r.Lines {
		if bytes.IndexByte([]byte(l), '\n') >= 0 {
			return b, errors.New("health: smtp: line holds a line feed")
		}
		b = append(b, byte('0'+r.Code/100), byte('0'+r.Code/10%10), byte('0'+r.Code%10))
		if i < len(r.Lines)-1 {
			b = append(b, '-')
		} else {
			b = append(b, ' ')
		}
		b = append(b, l...)
		b = append(b, '\r', '\n')
	}
	return b, nil
}

func digits3(b []byte) bool {
	return b[0] >= '0' && b[0] <= '9' && b[1] >= '0' && b[1] <= '9' && b[2] >= '0' && b[2] <= '9'
}
