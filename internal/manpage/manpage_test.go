package manpage

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

func TestText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain -x words", `plain \-x words`},
		{"`--metrics` and **bold** and *it*", `\fB\-\-metrics\fR and \fBbold\fR and \fIit\fR`},
		{`a \ backslash`, `a \e backslash`},
		{"a lone * star", `a lone * star`},
		{"ulvs_*, node_ipvs_*", `ulvs_*, node_ipvs_*`},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFromFlagSet(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringP("use-file", "f", "/etc/x.conf", "read `FILE`")
	fs.Bool("quiet", false, "say less")
	fs.Bool("on", true, "on by default")
	fs.String("log", "", "log to a file")
	fs.Lookup("log").NoOptDefVal = "/tmp/x.log"
	fs.Int("n", 0, "a count")
	fs.String("secret", "", "hidden")
	fs.MarkHidden("secret")
	want := []Option{
		{Short: "f", Long: "use-file", Arg: "FILE", Usage: "read FILE", Default: "/etc/x.conf"},
		{Long: "quiet", Usage: "say less"},
		{Long: "on", Usage: "on by default", Default: "true"},
		{Long: "log", Arg: "VALUE", OptionalArg: true, Usage: "log to a file"},
		{Long: "n", Arg: "INT", Usage: "a count"},
	}
	if d := cmp.Diff(want, FromFlagSet(fs)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	p := &Page{Name: "x-tool", Section: 8, Version: "1.0", Date: "2026-01-02", Summary: "does x",
		Synopsis:    []string{"x-tool [*OPTION*...]"},
		Description: []string{".starts with a dot", "  an example\n  second line"},
		Options:     []Option{{Short: "f", Long: "file", Arg: "FILE", Usage: "the file"}},
		Sections:    []Section{{Title: "Exit status", Items: Items("0", "fine")}},
		SeeAlso:     []string{"ulvsd(8)"}}
	var b strings.Builder
	p.Write(&b)
	for _, want := range []string{
		`.TH "X\-TOOL" 8 "2026\-01\-02" "ulvs 1.0" "System Administration"`,
		"x\\-tool \\- does x\n",
		"\\fBx\\-tool\\fR [\\fIOPTION\\fR...]\n",
		"\\&.starts with a dot\n",
		".nf\n.RS 4\nan example\nsecond line\n.RE\n.fi\n",
		".TP\n\\fB\\-f\\fR, \\fB\\-\\-file\\fR=\\fIFILE\\fR\nthe file\n",
		".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\nfine\n",
		".SH \"SEE ALSO\"\n\\fBulvsd\\fR(8)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("page lacks %q:\n%s", want, b.String())
		}
	}
}
