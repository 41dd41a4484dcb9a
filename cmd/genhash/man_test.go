package main

import (
	"strings"
	"testing"

	"github.com/ulvs/ulvs/internal/manpage"
)

// manPage is ulvs-genhash(1): the options from genhash's getopt table,
// each with its words from keepalived's usage text.
func manPage() (*manpage.Page, []string) {
	help := map[string]string{}
	var missing []string
	last := ""
	for _, l := range strings.Split(usageText, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && strings.HasPrefix(f[0], "--") && strings.HasPrefix(f[1], "-"):
			last = f[0][2:]
			help[last] = strings.Join(f[2:], " ")
		case last != "" && len(f) > 0 && strings.HasPrefix(l, strings.Repeat(" ", 20)):
			help[last] += " " + strings.Join(f, " ") // a continuation line
		default:
			last = ""
		}
	}
	var opts []manpage.Option
	for _, o := range options {
		h, ok := help[o.long]
		if !ok {
			missing = append(missing, o.long)
		}
		op := manpage.Option{Short: string(o.short), Long: o.long, Usage: h}
		if o.hasArg {
			op.Arg = strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(o.long, "use-"), "use"))
		}
		opts = append(opts, op)
	}
	return &manpage.Page{
		Name: "ulvs-genhash", Section: 1,
		Summary: "keepalived's genhash: the digest of a web page, for HTTP_GET and SSL_GET checkers",
		Synopsis: []string{
			"ulvs-genhash [-S [-I]] -s *ADDRESS* -p *PORT* -u *URL* [-V *VIRTUALHOST*] [-m *FWMARK*] [-P *PROTOCOL*] [-t *TIMEOUT*] [-v]",
			"ulvs-genhash -h",
		},
		Description: []string{
			"**ulvs-genhash** fetches a URL over HTTP or HTTPS and prints the MD5 digest of the body, byte for byte " +
				"as keepalived's **genhash** does: the value a `digest` line of an HTTP_GET or SSL_GET checker " +
				"in **keepalived.conf**(5) compares with. It takes genhash's options and words.",
		},
		Options: opts,
		Sections: []manpage.Section{
			{Title: "Exit status", Paragraphs: []string{"1 on a command-line error (after the usage text); 0 " +
				"otherwise, also when the page could not be fetched (the reason is printed instead of a digest), " +
				"as keepalived's genhash does."}},
			{Title: "Examples", Paragraphs: []string{"  ulvs-genhash -s 198.18.0.11 -p 80 -u /index.html"}},
		},
		SeeAlso: []string{"ulvsd(8)", "keepalived.conf(5)"},
	}, missing
}

// TestManPage renders ulvs-genhash(1) and checks that every option of
// genhash's getopt table is on it with keepalived's words; with
// $ULVS_MAN_DIR set (make man) it writes the page there.
func TestManPage(t *testing.T) {
	p, missing := manPage()
	if len(missing) > 0 {
		t.Errorf("options with no words in the usage text: %v", missing)
	}
	manpage.Test(t, p)
	var b strings.Builder
	p.Write(&b)
	for _, o := range options {
		if !strings.Contains(b.String(), `\-\-`+strings.ReplaceAll(o.long, "-", `\-`)) {
			t.Errorf("ulvs-genhash(1) does not name --%s", o.long)
		}
	}
}
