package conf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is where a value came from: a file and a 1-based line number.
type Pos struct {
	File string
	Line int
}

// String formats the position as "file:line".
func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// IsValid reports whether the position points into a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Severity ranks a diagnostic.
type Severity int

const (
	// Warning is a problem keepalived would log and run with.
	Warning Severity = iota
	// Error is a problem that stops the configuration from running.
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Diagnostic is one message about the configuration.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Msg      string
}

// String formats the diagnostic as "file:line: error: msg", printable:
// a message may quote whatever bytes a file holds.
func (d Diagnostic) String() string {
	return Printable(fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Msg))
}

// Printable escapes what a terminal or a log reader would act on: control
// characters as \xNN (or \uNNNN), bytes that are not UTF-8 as \xNN.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// Diagnostics is the list of messages a load produced, in file order.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns only the errors.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// String formats one diagnostic per line.
func (ds Diagnostics) String() string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ConfigError is returned by Load when the configuration has errors. It
// carries every diagnostic (warnings too) so callers can print them all.
type ConfigError struct {
	Diags Diagnostics
}

func (e *ConfigError) Error() string {
	errs := e.Diags.Errors()
	switch len(errs) {
	case 0:
		return "conf: configuration has errors"
	case 1:
		return "conf: " + errs[0].String()
	}
	return fmt.Sprintf("conf: %s (and %d more errors)", errs[0], len(errs)-1)
}

// diagList collects diagnostics while reading.
type diagList struct {
	list Diagnostics
}

func (d *diagList) errorf(pos Pos, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: Error, Msg: fmt.Sprintf(format, args...)})
}

func (d *diagList) warnf(pos Pos, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: Warning, Msg: fmt.Sprintf(format, args...)})
}

// sorted returns the diagnostics ordered by file, then line, keeping the
// order of messages on the same line.
func (d *diagList) sorted(fileOrder map[string]int) Diagnostics {
	out := append(Diagnostics(nil), d.list...)
	sort.SliceStable(out, func(i, j int) bool {
		fi, fj := fileOrder[out[i].Pos.File], fileOrder[out[j].Pos.File]
		if fi != fj {
			return fi < fj
		}
		return out[i].Pos.Line < out[j].Pos.Line
	})
	return out
}
