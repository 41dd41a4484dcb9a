package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// printer writes what the lab does for a person to read: steps in bold,
// commands as they would be typed, outputs indented.
type printer struct {
	mu          sync.Mutex
	w           io.Writer
	verbose     bool
	bold, plain string
	green, red  string
	dim         string
}

func newPrinter(w io.Writer, verbose bool) *printer {
	p := &printer{w: w, verbose: verbose}
	if f, ok := w.(*os.File); ok && isTerminal(f) && os.Getenv("NO_COLOR") == "" {
		p.bold, p.plain, p.green, p.red, p.dim = "\033[1m", "\033[0m", "\033[32m", "\033[31m", "\033[2m"
	}
	return p
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// step announces a step.
func (p *printer) step(format string, args ...any) {
	p.printf("%s==> %s%s\n", p.bold, fmt.Sprintf(format, args...), p.plain)
}

// line prints one line.
func (p *printer) line(format string, args ...any) { p.printf(format+"\n", args...) }

// cmd shows a command as a person would type it.
func (p *printer) cmd(format string, args ...any) {
	p.printf("%s$ %s%s\n", p.dim, fmt.Sprintf(format, args...), p.plain)
}

// block prints text indented by four spaces.
func (p *printer) block(text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	p.printf("    %s\n", strings.ReplaceAll(text, "\n", "\n    "))
}

// ok and fail mark a check's result.
func (p *printer) ok(format string, args ...any) {
	p.printf("    %s✓ %s%s\n", p.green, fmt.Sprintf(format, args...), p.plain)
}

func (p *printer) fail(format string, args ...any) {
	p.printf("    %s✗ %s%s\n", p.red, fmt.Sprintf(format, args...), p.plain)
}

// debug prints only with -v.
func (p *printer) debug(s string) {
	if p.verbose {
		p.printf("%s    %s%s\n", p.dim, s, p.plain)
	}
}
