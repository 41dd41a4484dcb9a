// Package manpage writes manual pages (man(7) roff) from the option
// definitions ulvs's commands parse their command line with, so that a page
// cannot drift from the binary: each command's test renders its page from
// its own flag set and checks that every option is on it; `make man`
// writes them for the package.
//
// The roff is plain man(7): .TH, .SH, .PP, .TP, .B, .I, .nf/.fi; text is
// escaped (backslashes, hyphens as \-, a leading dot or quote) so groff
// renders it as written. Left out: mdoc, tables, hyphenation control.
package manpage

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// Page is one manual page.
type Page struct {
	// Name is the command, Section its manual section (1 or 8).
	Name    string
	Section int
	// Summary is the NAME line's text after "name \- ".
	Summary string
	// Version and Date go into the header (.TH) and footer.
	Version, Date string
	// Synopsis lines, each a command line; words in *stars* are set in
	// italics, the command's own name in bold.
	Synopsis []string
	// Description paragraphs (see Text for the markup).
	Description []string
	// Options, in the order the command lists them.
	Options []Option
	// OptionsIntro is a paragraph before the options.
	OptionsIntro string
	// Sections follow OPTIONS (EXIT STATUS, SIGNALS, FILES, EXAMPLES ...).
	Sections []Section
	// SeeAlso names other pages, e.g. "keepalived.conf(5)".
	SeeAlso []string
}

// Section is a titled part of a page. A paragraph starting with two spaces
// is a preformatted example; Items are tagged paragraphs (.TP).
type Section struct {
	Title      string
	Paragraphs []string
	Items      []Item
}

// Item is a tagged paragraph: Tag in bold, then the text.
type Item struct{ Tag, Text string }

// Option is one command-line option.
type Option struct {
	Short, Long string // without dashes; either may be empty
	Arg         string // the value's name; empty for a switch
	OptionalArg bool   // --long[=ARG]
	Usage       string
	Default     string // shown as "(default: X)" unless empty
}

// FromFlagSet lists a pflag.FlagSet's visible options in its order. A
// value name comes from the usage text's `backquoted` word (pflag's
// convention), else from the flag's type.
func FromFlagSet(fs *pflag.FlagSet) []Option {
	var out []Option
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		o := Option{Short: f.Shorthand, Long: f.Name, Usage: usage}
		if f.Value.Type() != "bool" {
			o.Arg = strings.ToUpper(name)
			if o.Arg == "" || o.Arg == "STRING" {
				o.Arg = "VALUE"
			}
			o.OptionalArg = f.NoOptDefVal != ""
			switch f.DefValue {
			case "", "[]", "0":
			default:
				o.Default = f.DefValue
			}
		} else if f.DefValue == "true" {
			o.Default = "true"
		}
		if f.Shorthand == f.Name {
			o.Long = ""
		}
		out = append(out, o)
	})
	return out
}

// Requested reports whether the caller wants pages written (by `make man`):
// the directory is $ULVS_MAN_DIR.
func Requested() (dir string, ok bool) {
	dir = os.Getenv("ULVS_MAN_DIR")
	return dir, dir != ""
}

// WriteFile writes the page as DIR/manSECTION/NAME.SECTION.
func (p *Page) WriteFile(dir string) (string, error) {
	sub := filepath.Join(dir, fmt.Sprintf("man%d", p.Section))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(sub, fmt.Sprintf("%s.%d", p.Name, p.Section))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	p.Write(f)
	return path, f.Close()
}

// Write writes the page as roff.
func (p *Page) Write(w io.Writer) {
	r := &roff{w: w}
	r.req(".TH %s %d %s %s %s", quote(strings.ToUpper(p.Name)), p.Section, quote(p.Date),
		quote("ulvs "+p.Version), quote(map[int]string{1: "User Commands", 8: "System Administration"}[p.Section]))
	// Left-adjusted, not hyphenated: option names must stay whole.
	r.req(".nh")
	r.req(".ad l")
	r.req(".SH NAME")
	r.line(escape(p.Name) + ` \- ` + escape(p.Summary))
	if len(p.Synopsis) > 0 {
		r.req(".SH SYNOPSIS")
		for i, s := range p.Synopsis {
			if i > 0 {
				r.req(".br")
			}
			r.line(p.synopsis(s))
		}
	}
	if len(p.Description) > 0 {
		r.req(".SH DESCRIPTION")
		r.paragraphs(p.Description)
	}
	if len(p.Options) > 0 {
		r.req(".SH OPTIONS")
		if p.OptionsIntro != "" {
			r.paragraphs([]string{p.OptionsIntro})
		}
		for _, o := range p.Options {
			r.req(".TP")
			r.line(o.tag())
			u := Text(o.Usage)
			if o.Default != "" {
				u += ` (default: \fB` + escape(o.Default) + `\fR)`
			}
			r.line(u)
		}
	}
	for _, s := range p.Sections {
		r.req(".SH %s", quote(strings.ToUpper(s.Title)))
		r.paragraphs(s.Paragraphs)
		for _, it := range s.Items {
			r.req(".TP")
			r.line(`\fB` + escape(it.Tag) + `\fR`)
			r.line(Text(it.Text))
		}
	}
	if len(p.SeeAlso) > 0 {
		r.req(".SH \"SEE ALSO\"")
		var refs []string
		for _, s := range p.SeeAlso {
			name, sec, ok := strings.Cut(s, "(")
			if ok {
				refs = append(refs, `\fB`+escape(name)+`\fR(`+escape(sec))
			} else {
				refs = append(refs, escape(s))
			}
		}
		r.line(strings.Join(refs, ", "))
	}
}

func (o Option) tag() string {
	var names []string
	if o.Short != "" {
		names = append(names, `\fB\-`+escape(o.Short)+`\fR`)
	}
	if o.Long != "" {
		names = append(names, `\fB\-\-`+escape(o.Long)+`\fR`)
	}
	t := strings.Join(names, ", ")
	switch {
	case o.Arg == "":
	case o.OptionalArg && o.Long != "":
		t += `[=\fI` + escape(o.Arg) + `\fR]`
	case o.Long != "":
		t += `=\fI` + escape(o.Arg) + `\fR`
	default:
		t += ` \fI` + escape(o.Arg) + `\fR`
	}
	return t
}

func (p *Page) synopsis(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		switch {
		case w == p.Name:
			words[i] = `\fB` + escape(w) + `\fR`
		default:
			words[i] = Text(w)
		}
	}
	return strings.Join(words, " ")
}

type roff struct{ w io.Writer }

func (r *roff) req(format string, args ...any) { fmt.Fprintf(r.w, format+"\n", args...) }

// line writes text, protecting a leading control character.
func (r *roff) line(s string) {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	fmt.Fprintln(r.w, s)
}

func (r *roff) paragraphs(ps []string) {
	for _, p := range ps {
		if strings.HasPrefix(p, "  ") {
			r.req(".PP")
			r.req(".nf")
			r.req(".RS 4")
			for _, l := range strings.Split(strings.TrimRight(p, "\n"), "\n") {
				r.line(escape(strings.TrimPrefix(l, "  ")))
			}
			r.req(".RE")
			r.req(".fi")
			continue
		}
		r.req(".PP")
		for _, l := range strings.Split(strings.TrimSpace(p), "\n") {
			r.line(Text(strings.TrimSpace(l)))
		}
	}
}

// Text escapes s and turns its markup into fonts: `code` and **bold** in
// bold, *word* in italics.
func Text(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, "**"):
			if end := strings.Index(s[2:], "**"); end >= 0 {
				b.WriteString(`\fB` + escape(s[2:2+end]) + `\fR`)
				s = s[4+end:]
				continue
			}
		case s[0] == '`':
			if end := strings.IndexByte(s[1:], '`'); end >= 0 {
				b.WriteString(`\fB` + escape(s[1:1+end]) + `\fR`)
				s = s[2+end:]
				continue
			}
		case s[0] == '*' && !wordBefore(b.String()) && len(s) > 1 && s[1] != ' ':
			// *word* opens only where a word may start: ulvs_* stays a star.
			if end := strings.IndexByte(s[1:], '*'); end > 0 {
				b.WriteString(`\fI` + escape(s[1:1+end]) + `\fR`)
				s = s[2+end:]
				continue
			}
		}
		n := strings.IndexAny(s[1:], "`*")
		if n < 0 {
			n = len(s)
		} else {
			n++
		}
		b.WriteString(escape(s[:n]))
		s = s[n:]
	}
	return b.String()
}

// wordBefore reports whether the text so far ends in a letter, a digit or
// an underscore.
func wordBefore(s string) bool {
	if s == "" {
		return false
	}
	c := s[len(s)-1]
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// escape makes s literal roff text: backslashes doubled as \e, hyphens as
// \- (minus signs, which options are).
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	return s
}

func quote(s string) string { return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"` }

// Render formats the page with man(1), as a terminal 80 columns wide shows
// it, and returns the text and what groff warned about (nothing, for a
// good page).
func Render(p *Page) (text, warnings string, err error) {
	dir, err := os.MkdirTemp("", "manpage")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(dir)
	path, err := p.WriteFile(dir)
	if err != nil {
		return "", "", err
	}
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "MANPAGER=cat", "PAGER=cat")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	// Overstrike (X\bX for bold, _\bX for underline) down to the letters.
	return overstrike.ReplaceAllString(out.String(), ""), errb.String(), err
}

// Test checks a command's page (used by each command's TestManPage): every
// visible option of fs is on it, man(1) renders it without a warning; with
// $ULVS_MAN_DIR set it writes the page there.
func Test(t testing.TB, p *Page, fs ...*pflag.FlagSet) {
	t.Helper()
	if p.Date == "" {
		p.Date = Date()
	}
	if v := os.Getenv("ULVS_VERSION"); v != "" {
		p.Version = v
	} else if p.Version == "" {
		p.Version = "dev"
	}
	if dir, ok := Requested(); ok {
		path, err := p.WriteFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	var b strings.Builder
	p.Write(&b)
	src := b.String()
	for _, f := range fs {
		f.VisitAll(func(fl *pflag.Flag) {
			if fl.Hidden {
				return
			}
			if !strings.Contains(src, `\-`+escape(fl.Name)) {
				t.Errorf("%s(%d) does not name --%s", p.Name, p.Section, fl.Name)
			}
		})
	}
	if _, err := exec.LookPath("man"); err != nil {
		if os.Getenv("ULVS_REQUIRE_NETNS") == "1" {
			t.Fatal("man(1) is missing: install man-db")
		}
		t.Skip("man(1) is missing: the page is not rendered")
	}
	text, warnings, err := Render(p)
	if err != nil || warnings != "" {
		t.Errorf("man -l %s(%d): %v\n%s", p.Name, p.Section, err, warnings)
	}
	flat := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{"NAME", strings.ToUpper(p.Name) + "(" + fmt.Sprint(p.Section) + ")", p.Summary} {
		if !strings.Contains(flat, want) {
			t.Errorf("%s(%d) as man shows it lacks %q:\n%s", p.Name, p.Section, want, text)
		}
	}
}

// Date is the pages' date: $SOURCE_DATE_EPOCH's day when set (reproducible
// builds), else today's.
func Date() string {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC().Format("2006-01-02")
		}
	}
	return time.Now().UTC().Format("2006-01-02")
}

var overstrike = regexp.MustCompile(".\x08")

// Items makes tagged paragraphs from tag, text pairs.
func Items(pairs ...string) []Item {
	var out []Item
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Item{Tag: pairs[i], Text: pairs[i+1]})
	}
	return out
}
