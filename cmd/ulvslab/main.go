package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// globals are the options every command takes.
type globals struct {
	prefix   string
	stateDir string
	verbose  bool
}

const (
	defaultPrefix   = "ulvslab-"
	defaultStateDir = "/run/ulvslab"
)

// command is one subcommand.
type command struct {
	name, args, help string
	hidden           bool
	run              func(g *globals, args []string, out *printer) error
}

func commands() []command {
	return []command{
		{"up", "[--mode dr|nat|tun] [--directors 1|2] [--servers N] [--config FILE [--config FILE2]] | --ecmp [--directors N]",
			"build the lab in network namespaces and start ulvsd on each director", false, runUp},
		{"status", "", "nodes, addresses, processes, VRRP states and the master's table", false, runStatus},
		{"curl", "[N] [--target VIP:PORT] [--path P]", "N requests through the VIP (new connection each), tallied per real server", false, runCurl},
		{"fail", "rsN|directorN|http:NODE ... | directorN --term|--kill|--link", "stop a real server's HTTP server, or a whole director (ulvsd killed, link down)", false, runFail},
		{"heal", "", "undo every fail and wait until the lab is whole again", false, runHeal},
		{"trace", "[--target VIP:PORT] [--out DIR]", "follow one connection through every hop, printing what each changed; one pcap per hop", false, runTrace},
		{"down", "", "remove everything the lab made (also after a crash)", false, runDown},
		{"configs", "[--brief] [DIR]", "check and describe the keepalived.conf files in DIR (the seed configs by default)", false, runConfigs},
		{"demo", "[--seeds DIR] [--trace-out DIR] | --ecmp", "the whole story: spread, a failed server drained, director failover, a DR trace", false, runDemo},
		{"serve", "--name NAME [--port P]...", "(used by the lab) a minimal HTTP server naming its node", true, runServe},
		{"decap", "", "(used by the lab) the userspace IPIP decapsulator of a TUN real server", true, runDecap},
		{"chaos", "[--duration 10m] [--out DIR] [--seed N]", "a DR lab under a scripted mix of faults and hostile clients, with invariants checked the whole time; a timeline under DIR", false, runChaos},
		{"hold", "--tcp ADDR|--unix PATH [--n N] [--for D]", "(used by chaos) hold N idle and slow connections", true, runHold},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{prefix: envOr("ULVSLAB_PREFIX", defaultPrefix), stateDir: envOr("ULVSLAB_STATE_DIR", defaultStateDir)}
	var help bool
	fs := globalFlags(g, &help, stderr)
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if help || fs.NArg() == 0 {
		usage(stdout, fs)
		if help {
			return 0
		}
		return 2
	}
	if !prefixRE.MatchString(g.prefix) {
		fmt.Fprintf(stderr, "ulvslab: --prefix %q: use 1-16 of a-z, 0-9 and -, starting with a letter\n", g.prefix)
		return 2
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		out := newPrinter(stdout, g.verbose)
		if err := c.run(g, rest, out); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				return 0
			}
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(stderr, "ulvslab %s: %v\nusage: ulvslab %s %s\n", name, ue.err, name, c.args)
				return 2
			}
			fmt.Fprintln(stderr, strings.TrimRight(err.Error(), "\n"))
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "ulvslab: unknown command %q\n", name)
	usage(stderr, fs)
	return 2
}

// globalFlags are the options before the command.
func globalFlags(g *globals, help *bool, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ulvslab", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SetInterspersed(false)
	fs.StringVar(&g.prefix, "prefix", g.prefix, "namespace name prefix of the lab (env ULVSLAB_PREFIX)")
	fs.StringVar(&g.stateDir, "state-dir", g.stateDir, "where labs keep state, configs and logs (env ULVSLAB_STATE_DIR)")
	fs.BoolVarP(&g.verbose, "verbose", "v", false, "print every command run (ip, nginx, ulvsd)")
	fs.BoolVarP(help, "help", "h", false, "this help")
	return fs
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func usage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "usage: ulvslab [global options] <command> [arguments]\n\n"+
		"ulvslab builds a load-balancing lab in network namespaces on this machine: a client, one or two\n"+
		"directors running ulvsd (keepalived + LVS in userspace) and real servers serving HTTP, in DR, NAT\n"+
		"or TUN mode. Needs root. Start with `ulvslab up`, then curl, fail, heal, trace, status, down.\n\ncommands:\n")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-8s %s\n           %s\n", c.name, c.args, c.help)
		}
	}
	fmt.Fprintf(w, "\nglobal options:\n%s", fs.FlagUsages())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// flags returns a flag set for a command, printing errors nowhere (run
// reports them with the usage line).
func flags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ulvslab "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses a command's flags, turning errors into usage errors.
func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return err
		}
		return usageError{err}
	}
	return nil
}

// needRoot fails unless the process may create namespaces.
func needRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("ulvslab: the lab creates network namespaces: run it as root (sudo)")
	}
	return nil
}
