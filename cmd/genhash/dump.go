package main

import (
	"fmt"
	"io"
)

// Banners of keepalived's genhash -v (check_http.c).
const (
	delimBegin      = "-----------------------["
	delimEnd        = "]-----------------------\n"
	httpHeaderHexa  = delimBegin + "    HTTP Header Buffer    " + delimEnd
	httpHeaderASCII = delimBegin + " HTTP Header Ascii Buffer " + delimEnd
	htmlHeaderHexa  = delimBegin + "        HTML Buffer        " + delimEnd
	htmlHash        = delimBegin + "    HTML hash resulting    " + delimEnd
	htmlHashFinal   = delimBegin + " HTML hash final resulting " + delimEnd
)

// dumpBuffer writes b as keepalived's dump_buffer (lib/utils.c) does:
// lines of 16 bytes with a decimal offset, " -" after the eighth byte and
// the printable characters at the end, the last line padded.
func dumpBuffer(w io.Writer, b []byte) {
	n := len(b)
	c := n
	if n%16 != 0 {
		c = n + 16 - n%16
	}
	for i := 0; i < c; i++ {
		if i%16 == 0 {
			fmt.Fprintf(w, "%.4d ", i&0xffff)
		}
		if i < n {
			fmt.Fprintf(w, "%3.2x", b[i])
		} else {
			io.WriteString(w, "   ")
		}
		if (i+1)%8 != 0 {
			continue
		}
		if (i+1)%16 != 0 {
			io.WriteString(w, " -")
			continue
		}
		io.WriteString(w, "   ")
		for j := i - 15; j <= i; j++ {
			switch {
			case j >= n:
				io.WriteString(w, " ")
			case b[j] >= 0x20 && b[j] <= 0x7e:
				w.Write(b[j : j+1])
			default:
				io.WriteString(w, ".")
			}
		}
		io.WriteString(w, "\n")
	}
}
