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
	// Warning is a problem ulvs runs with: the statement it names is
	// skipped or corrected, or has less effect than written.
	Warning Severity = iota
	// Error is a problem that stops the configuration from running.
	Error
	// Note is information about a statement ulvs leaves out on purpose
	// (it tunes keepalived's own processes, or a management interface
	// ulvs replaces).
	Note
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Note:
		return "note"
	}
	return "warning"
}

// Class is how keepalived 2.2.7 reports the same problem in its config
// test (its config_err_t, lib/parser.h): the class decides `ulvsd -t`'s exit
// status as it decides keepalived's. NoClass marks a message keepalived does
// not give (ulvs's own warnings and notes); it leaves the status alone.
type Class int

// The classes in keepalived's order; keepalived keeps the highest value it
// has seen (report_config_error) and ExitStatus maps it.
const (
	NoClass Class = iota
	// keepalived cannot run the configuration.
	ClassFileNotFound
	ClassBadInterface
	ClassFatal
	// Configuration errors keepalived runs with.
	ClassMultipleFiles
	ClassUnknownKeyword
	ClassUnexpectedBrace // an unexpected '{'
	ClassMissingBrace    // a missing '{'
	ClassUnexpectedClose // an unexpected '}'
	ClassMissingClose    // a missing '}'
	ClassUnmatchedQuote
	ClassMissingParameter
	ClassInvalidNumber
	ClassGeneral
	ClassWarning
	ClassDeprecated
	// Scripts run without enable_script_security.
	ClassSecurity
)

// Exit statuses of a configuration test, keepalived's (lib/scheduler.h
// KEEPALIVED_CHK_EXIT_*): 0 nothing reported, 4 the configuration cannot
// run, 5 problems reported that it runs with, 6 scripts would run without
// script security.
const (
	ExitOK = 0
	// ExitMissingParameter is keepalived's status when a keyword lacks the
	// parameter its handler reads: null_strvec reports it and exits at
	// once (the rest of the file is not read; keepalived does not run).
	ExitMissingParameter = 2
	ExitConfig           = 4
	ExitProblems         = 5
	ExitSecurity         = 6
)

// Diagnostic is one message about the configuration.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	// Class is keepalived's class for the same message, NoClass if
	// keepalived gives none.
	Class Class
	Msg   string
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

// ExitStatus is the status `keepalived -t` gives for these messages:
// config_test_exit (keepalived/core/main.c) over the highest class seen, as
// report_config_error keeps it. An Error without a class counts as
// ClassFatal; one with keepalived's class counts as that class, as in
// keepalived, where a configuration its VRRP process refuses still tests 5.
func (ds Diagnostics) ExitStatus() int {
	max := NoClass
	for _, d := range ds {
		if d.Severity == Error && d.Class == ClassMissingParameter {
			return ExitMissingParameter
		}
		c := d.Class
		if d.Severity == Error && c == NoClass {
			c = ClassFatal
		}
		if c > max {
			max = c
		}
	}
	switch {
	case max == NoClass:
		return ExitOK
	case max <= ClassFatal:
		return ExitConfig
	case max == ClassSecurity:
		return ExitSecurity
	}
	return ExitProblems
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

// errorf reports a problem that stops the configuration from running.
func (d *diagList) errorf(pos Pos, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: Error, Class: ClassFatal, Msg: fmt.Sprintf(format, args...)})
}

// warnf reports a problem keepalived does not report; ulvs runs with it.
func (d *diagList) warnf(pos Pos, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: Warning, Msg: fmt.Sprintf(format, args...)})
}

// notef gives a note (keepalived says nothing).
func (d *diagList) notef(pos Pos, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: Note, Msg: fmt.Sprintf(format, args...)})
}

// refusef reports a problem keepalived reports with class c after which
// the configuration does not run (keepalived stops its VRRP or checker
// process; ulvs does not start).
func (d *diagList) refusef(pos Pos, c Class, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: Error, Class: c, Msg: fmt.Sprintf(format, args...)})
}

// kaf reports a problem keepalived also reports, with keepalived's class;
// ulvs, like keepalived, runs with it (the statement is skipped or
// corrected as the message says).
func (d *diagList) kaf(pos Pos, c Class, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: Warning, Class: c, Msg: fmt.Sprintf(format, args...)})
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
