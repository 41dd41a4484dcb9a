package main

import (
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/internal/manpage"
)

// manPage is ulvsd(8), its options from newFlagSet.
func manPage() *manpage.Page {
	var refusedOpts []string
	for short, why := range refused {
		long := ""
		for l, s := range refusedLong {
			if s == short {
				long = ", `--" + l + "`"
			}
		}
		refusedOpts = append(refusedOpts, "`-"+short+"`"+long+": "+why)
	}
	sort.Strings(refusedOpts)
	return &manpage.Page{
		Name: "ulvsd", Section: 8, Version: version,
		Summary:  "keepalived and LVS/IPVS in one daemon, with the data path in userspace",
		Synopsis: []string{"ulvsd [*OPTION*...]"},
		Description: []string{
			"**ulvsd** runs a keepalived configuration unchanged: VRRP instances and sync groups move virtual " +
				"addresses between directors, health checkers take failed real servers out, and the virtual " +
				"services are forwarded in DR, NAT or TUN mode with IPVS's own semantics, in userspace from " +
				"AF_PACKET rings (or, with `--backend ipvs`, by the kernel's IPVS).",
			"It takes keepalived's command line and signals and writes keepalived's dump files, so it can be " +
				"installed as **keepalived** (see **ulvs-alternatives**(8)); `ulvsadm -Ln` shows the tables as " +
				"**ipvsadm**(8) does.",
		},
		OptionsIntro: "keepalived's options keep keepalived's meaning; the long options after `--help` are ulvs's own.",
		Options:      manpage.FromFlagSet(newFlagSet(&options{}, io.Discard)),
		Sections: []manpage.Section{
			{Title: "Refused options", Paragraphs: []string{
				"keepalived options ulvsd does not support are refused with the reason, never ignored:"},
				Items: refusedItems(refusedOpts)},
			{Title: "Signals", Items: manpage.Items(
				"SIGHUP", "Reload: the file is read again; a configuration with errors changes nothing; otherwise only the difference is applied.",
				"SIGTERM, SIGINT", "Stop: masters send priority 0, addresses and the kernel guard are removed.",
				"SIGUSR1", "State dump to `/tmp/keepalived.data` (`state_dump_file`).",
				"SIGUSR2", "VRRP statistics to `/tmp/keepalived.stats` (`stats_dump_file`).",
				"SIGRTMIN+2 (36)", "JSON dump to `/tmp/keepalived.json` (`json_dump_file`), in keepalived's shape.",
				"SIGRTMAX-1 (63)", "Statistics dump, then the VRRP counters are cleared.",
			), Paragraphs: []string{"`ulvsd --signum=NAME` prints a signal's number, as keepalived does. " +
				"Dumps are written to a temporary file and renamed into place, and all three are written at " +
				"start-up, so a reader never sees part of one."}},
			{Title: "Exit status", Paragraphs: []string{"0 when ulvsd stopped cleanly or `-t` found the " +
				"configuration would run; 1 on a configuration error or a failure to start."}},
			{Title: "Files", Items: manpage.Items(
				"/etc/keepalived/keepalived.conf", "The configuration.",
				"/etc/default/ulvsd", "`ULVSD_CONFIG` and `ULVSD_ARGS` for the systemd unit **ulvsd.service**.",
				"/run/keepalived.pid", "The pid file (also `-r` and `-c`'s, with the same pid: ulvsd is one process).",
				"/run/ulvs/ulvsd.sock", "The control socket **ulvsadm**(8) talks to.",
			)},
			{Title: "Examples", Paragraphs: []string{
				"Check a configuration, then run it in the foreground with readable logs:",
				"  ulvsd -t -f /etc/keepalived/keepalived.conf\n  ulvsd -n -l -f /etc/keepalived/keepalived.conf",
				"Serve Prometheus metrics (`ulvs_*`, and node_exporter's `node_ipvs_*`) on loopback:",
				"  ulvsd -n --metrics 127.0.0.1:9650",
			}},
		},
		SeeAlso: []string{"ulvsadm(8)", "ulvslab(8)", "ulvs-genhash(1)", "ulvs-alternatives(8)", "keepalived(8)",
			"keepalived.conf(5)", "ipvsadm(8)"},
	}
}

func refusedItems(lines []string) []manpage.Item {
	var out []manpage.Item
	for _, l := range lines {
		tag, text, _ := strings.Cut(l, ": ")
		out = append(out, manpage.Item{Tag: strings.ReplaceAll(tag, "`", ""), Text: text})
	}
	return out
}

// TestManPage renders ulvsd(8) and checks that it names every option
// ulvsd parses; with $ULVS_MAN_DIR set (make man) it writes the page there.
func TestManPage(t *testing.T) {
	manpage.Test(t, manPage(), newFlagSet(&options{}, io.Discard))
}
