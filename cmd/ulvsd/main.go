// Command ulvsd runs a keepalived configuration: VRRP, health checkers and
// a userspace IPVS, with keepalived's command line and signals.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/kacompat"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		fmt.Fprintf(stderr, "Try 'ulvsd --help' for more information.\n")
		return 1
	}
	switch {
	case o.help:
		usage(stdout)
		return 0
	case o.signum != "":
		// Before -v, and in keepalived's words: exporters parse both.
		n, ok := kacompat.SignalNumber(o.signum)
		if !ok {
			fmt.Fprintf(stderr, "Unknown sigfunc %s\n", o.signum)
			return 1
		}
		fmt.Fprintln(stdout, int(n))
		return 0
	case o.version:
		// keepalived writes its version on stderr, and exporters read it there.
		kacompat.WriteVersion(stderr, version, kacompat.CurrentFeatures())
		return 0
	case o.keywords:
		fmt.Fprint(stdout, conf.KeywordTable())
		return 0
	case o.configTest:
		return configTest(o, stdout, stderr)
	case o.dumpConf:
		res, err := conf.Read(o.configFile, loadOptions(o))
		if res == nil {
			fmt.Fprintf(stderr, "ulvsd: %v\n", err)
			return 1
		}
		if err != nil {
			writeDiags(stderr, o.configFile, res.Diags.Errors())
			return 1
		}
		conf.Dump(stdout, res.Tree)
		return 0
	case o.describe:
		res, err := conf.Read(o.configFile, loadOptions(o))
		if res == nil {
			fmt.Fprintf(stderr, "ulvsd: %v\n", err)
			return 1
		}
		writeDiags(stderr, o.configFile, res.Diags)
		describe(stdout, o.configFile, res.Config)
		if err != nil {
			return 1
		}
		return 0
	}
	return runDaemon(o, stdout, stderr)
}

func loadOptions(o *options) conf.Options {
	return conf.Options{ConfigID: o.configID, AllConfig: o.allConfig}
}
