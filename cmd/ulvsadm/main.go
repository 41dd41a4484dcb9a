// Command ulvsadm is ulvs's ipvsadm. With ipvsadm's options it reads and
// edits a running ulvsd's tables (`ulvsadm -Ln`, `--stats`, `--rate`,
// `-Lnc`, `-A`/`-a`/...); `ulvsadm vrrp|checkers|status` show what ipvsadm
// has no words for; `ulvsadm simulate` drives a scheduler with no network.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// commands lists the subcommands, each with its one-line help.
var commands = []struct {
	name, help string
	run        func(args []string, stdout, stderr io.Writer) int
}{
	{"simulate", "drive a scheduler over a workload, with no network (ulvsadm simulate -h)", runSimulate},
	{"vrrp", "VRRP instances of the running ulvsd (--json)", runView("vrrp")},
	{"checkers", "health checkers of the running ulvsd (--json)", runView("checkers")},
	{"bgp", "BGP neighbours, BFD and announced prefixes with why (--json)", runView("bgp")},
	{"status", "the running ulvsd (--json)", runView("status")},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// ipvsadm alone lists the table.
		return runIPVSAdm([]string{"-L"}, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	if strings.HasPrefix(args[0], "-") {
		return runIPVSAdm(args, stdout, stderr)
	}
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ulvsadm [ipvsadm options]   e.g. -Ln, -Ln --stats, -Lnc, -A -t VIP:PORT -s rr, -a -t VIP:PORT -r RS -g -w 1")
	fmt.Fprintln(w, "       ulvsadm <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.help)
	}
}
