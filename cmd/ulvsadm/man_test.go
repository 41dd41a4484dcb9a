package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/internal/manpage"
)

// manPage is ulvsadm(8): ipvsadm's options from ipvsFlagSet, the commands
// from the commands table, simulate's flags from its own parser's help.
func manPage() *manpage.Page {
	var cmds []manpage.Item
	for _, c := range commands {
		cmds = append(cmds, manpage.Item{Tag: "ulvsadm " + c.name, Text: c.help})
	}
	var sim bytes.Buffer
	parseSimFlags([]string{"-h"}, &sim)
	simHelp := strings.TrimSpace(sim.String())
	_, simFlags, _ := strings.Cut(simHelp, "\nflags:\n")
	return &manpage.Page{
		Name: "ulvsadm", Section: 8,
		Summary: "ipvsadm for ulvsd: list and edit its virtual services, show VRRP and checkers, simulate schedulers",
		Synopsis: []string{
			"ulvsadm -L|-l [*OPTIONS*]",
			"ulvsadm -A|-E -t|-u|-f *SERVICE* [-s *SCHEDULER*] [-p [*TIMEOUT*]] [-M *NETMASK*] [-b *FLAGS*]",
			"ulvsadm -D -t|-u|-f *SERVICE*",
			"ulvsadm -a|-e -t|-u|-f *SERVICE* -r *SERVER* [-g|-i|-m] [-w *WEIGHT*] [-x *UTHRESHOLD*] [-y *LTHRESHOLD*]",
			"ulvsadm -d -t|-u|-f *SERVICE* -r *SERVER*",
			"ulvsadm -C | -Z [-t|-u|-f *SERVICE*] | --set *TCP* *TCPFIN* *UDP*",
			"ulvsadm vrrp|checkers|status [--json] [--socket *PATH*]",
			"ulvsadm simulate [*FLAGS*]",
		},
		Description: []string{
			"**ulvsadm** takes **ipvsadm**(8)'s options and talks to a running **ulvsd**(8) over its control " +
				"socket (root only). Listings print exactly what ipvsadm 1.31 prints for the same table, so " +
				"scripts that parse `ipvsadm -Ln` (collectd, diamond, monitoring checks) keep working; it can be " +
				"installed as **ipvsadm** (see **ulvs-alternatives**(8)).",
			"Edits apply at once and last until ulvsd's next reload, as edits made with ipvsadm under keepalived do.",
		},
		Options: manpage.FromFlagSet(ipvsFlagSet(&ipvsOpts{}, io.Discard)),
		Sections: []manpage.Section{
			{Title: "Commands", Paragraphs: []string{"What ipvsadm has no words for:"}, Items: cmds},
			{Title: "Simulate", Paragraphs: []string{
				"`ulvsadm simulate` drives a scheduler over a workload with no network and reports how it spread " +
					"the connections. Its flags:",
			}, Items: flagItems(simFlags)},
			{Title: "Exit status", Paragraphs: []string{"0 on success, 1 when ulvsd refused or could not be reached, " +
				"2 on a command-line error."}},
			{Title: "Examples", Paragraphs: []string{
				"  ulvsadm -Ln\n  ulvsadm -Ln --stats --exact\n  ulvsadm -Lnc\n" +
					"  ulvsadm -e -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 0\n  ulvsadm vrrp",
			}},
		},
		SeeAlso: []string{"ulvsd(8)", "ipvsadm(8)", "ulvs-alternatives(8)", "keepalived.conf(5)"},
	}
}

// flagItems turns the standard flag package's PrintDefaults text ("  -name
// type" lines, each followed by its indented usage) into tagged paragraphs.
func flagItems(text string) []manpage.Item {
	var out []manpage.Item
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "  -"):
			out = append(out, manpage.Item{Tag: strings.TrimSpace(l)})
		case len(out) > 0 && strings.TrimSpace(l) != "":
			last := &out[len(out)-1]
			last.Text = strings.TrimSpace(last.Text + " " + strings.TrimSpace(l))
		}
	}
	return out
}

// TestManPage renders ulvsadm(8) and checks that it names every option
// ulvsadm parses; with $ULVS_MAN_DIR set (make man) it writes the page there.
func TestManPage(t *testing.T) {
	manpage.Test(t, manPage(), ipvsFlagSet(&ipvsOpts{}, io.Discard))
}
