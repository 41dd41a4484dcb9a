// Command ulvsadm is ulvs's ipvsadm: today it runs the scheduler simulator
// (`ulvsadm simulate`); the live view of a running ulvsd comes later.
package main

import (
	"fmt"
	"io"
	"os"
)

// commands lists the subcommands, each with its one-line help.
var commands = []struct {
	name, help string
	run        func(args []string, stdout, stderr io.Writer) int
}{
	{"simulate", "drive a scheduler over a workload, with no network (ulvsadm simulate -h)", runSimulate},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		for _, c := range commands {
			if c.name == args[0] {
				return c.run(args[1:], stdout, stderr)
			}
		}
	}
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ulvsadm <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.help)
	}
}
