package main

import (
	"io"
	"testing"

	"github.com/ulvs/ulvs/internal/manpage"
)

// manPage is ulvslab(8): the global options from globalFlags, the commands
// from the commands table.
func manPage() *manpage.Page {
	var cmds []manpage.Item
	for _, c := range commands() {
		if !c.hidden {
			cmds = append(cmds, manpage.Item{Tag: "ulvslab " + c.name + " " + c.args, Text: c.help})
		}
	}
	g := &globals{prefix: defaultPrefix, stateDir: defaultStateDir}
	var help bool
	return &manpage.Page{
		Name: "ulvslab", Section: 8,
		Summary:  "a load-balancing lab in network namespaces: ulvsd directors, real servers, failover, traces",
		Synopsis: []string{"ulvslab [*GLOBAL-OPTIONS*] *COMMAND* [*ARGUMENTS*]"},
		Description: []string{
			"**ulvslab** builds a lab on this machine, in network namespaces: a client, one or two directors " +
				"running **ulvsd**(8) (keepalived and LVS in userspace) and real servers serving HTTP, in DR, NAT " +
				"or TUN mode. It shows what each mode does to a packet hop by hop, fails and heals servers and " +
				"directors, and maps a keepalived.conf of your own onto the lab. It needs root and touches nothing " +
				"outside the namespaces it creates (named with the prefix).",
		},
		OptionsIntro: "Global options come before the command.",
		Options:      manpage.FromFlagSet(globalFlags(g, &help, io.Discard)),
		Sections: []manpage.Section{
			{Title: "Commands", Items: cmds},
			{Title: "Environment", Items: manpage.Items(
				"ULVSLAB_PREFIX", "The default of `--prefix`.",
				"ULVSLAB_STATE_DIR", "The default of `--state-dir`.")},
			{Title: "Examples", Paragraphs: []string{
				"  ulvslab up --mode nat\n  ulvslab curl 30\n  ulvslab fail rs1\n  ulvslab trace\n  ulvslab heal\n  ulvslab down",
			}},
		},
		SeeAlso: []string{"ulvsd(8)", "ulvsadm(8)", "ip-netns(8)"},
	}
}

// TestManPage renders ulvslab(8) and checks that it names every global
// option; with $ULVS_MAN_DIR set (make man) it writes the page there.
func TestManPage(t *testing.T) {
	g := &globals{}
	var help bool
	manpage.Test(t, manPage(), globalFlags(g, &help, io.Discard))
}
