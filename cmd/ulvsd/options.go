package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ulvs/ulvs/internal/canserve"
)

// defaultConfigFile is keepalived's default configuration path.
const defaultConfigFile = "/etc/keepalived/keepalived.conf"

// maxConnsLimit bounds --max-conns: the table's buckets are allocated at
// start (and each connection takes about 112 B), so 16,777,216 entries are
// already about 2 GiB; beyond that a typo becomes an allocation of tens of
// GiB.
const maxConnsLimit = 1 << 24

// options are ulvsd's command-line settings: keepalived's flags, plus
// ulvs's own long options.
type options struct {
	configFile  string
	vrrpOnly    bool // -P
	checkOnly   bool // -C
	logConsole  bool // -l
	logDetail   bool // -D
	logFacility string
	logFile     string // -g[=FILE]
	noSyslog    bool
	dontFork    bool // -n
	dumpConf    bool // -d
	configTest  bool // -t
	testLog     string
	pidFile     string
	vrrpPidFile string
	checkPid    string
	configID    string
	allConfig   bool // -e
	dontRelVRRP bool // -V
	releaseVIPs bool // -X
	dontRelIPVS bool // -I
	dontRespawn bool // -R
	addrMonitor bool // -a
	umask       string
	signum      string
	version     bool
	help        bool

	// ulvs's own
	keywords   bool
	describe   bool
	control    string
	metrics    string
	nodeIPVS   bool
	backend    string
	jsonLogs   bool
	interfaces []string
	sloppyTCP  bool
	io         string
	// ringVersion is the AF_PACKET receive ring (forward.Config.RingVersion).
	ringVersion int
	// xdpFast is --xdp-fastpath (forward.Config.XDPFastPath).
	xdpFast  bool
	maxConns int
	// bgpFile is --bgp: the BGP file (route announcements); sloppySet
	// records an explicit --sloppy-tcp (ECMP mode turns it on otherwise).
	bgpFile   string
	sloppySet bool
	// cannotServe is what a director that cannot serve does to its VRRP
	// instances: fault, off, or a negative priority weight.
	cannotServe string
}

// refused are keepalived options ulvsd does not support, with why.
var refused = map[string]string{
	"x": "SNMP is not supported by ulvs (use the Prometheus metrics: --metrics)",
	"A": "SNMP is not supported by ulvs (use the Prometheus metrics: --metrics)",
	"s": "network namespaces: start ulvsd with `ip netns exec NAME ulvsd ...` instead",
	"m": "core dump settings are left to the service manager",
	"M": "core dump settings are left to the service manager",
	"T": "genhash mode: run the genhash command instead",
	"B": "BFD is not supported by ulvs",
	"L": "keepalived's memory checker does not apply to Go",
}

var refusedLong = map[string]string{
	"snmp":              "x",
	"snmp-agent-socket": "A",
	"namespace":         "s",
	"core-dump":         "m",
	"core-dump-pattern": "M",
	"genhash":           "T",
	"no_bfd":            "B",
	"mem-check-log":     "L",
}

func newFlagSet(o *options, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ulvsd", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	fs.StringVarP(&o.configFile, "use-file", "f", defaultConfigFile, "use the configuration file `FILE`")
	fs.BoolVarP(&o.vrrpOnly, "vrrp", "P", false, "only run the VRRP subsystem")
	fs.BoolVarP(&o.checkOnly, "check", "C", false, "only run the health checkers and forwarding")
	fs.BoolVarP(&o.logConsole, "log-console", "l", false, "log to the console in readable lines (default: JSON)")
	fs.BoolVarP(&o.logDetail, "log-detail", "D", false, "detailed logs")
	fs.StringVarP(&o.logFacility, "log-facility", "S", "", "syslog `FACILITY`: accepted, but ulvsd logs to stderr (the journal), not syslog")
	fs.StringVarP(&o.logFile, "log-file", "g", "", "also log to `FILE` (default /tmp/keepalived.log)")
	fs.Lookup("log-file").NoOptDefVal = "/tmp/keepalived.log"
	fs.BoolVarP(&o.noSyslog, "no-syslog", "G", false, "accepted: ulvsd never logs to syslog (it logs to stderr)")
	fs.BoolVarP(&o.dontFork, "dont-fork", "n", false, "stay in the foreground")
	fs.BoolVarP(&o.dumpConf, "dump-conf", "d", false, "print the resolved configuration in canonical keepalived syntax and exit")
	fs.StringVarP(&o.testLog, "config-test", "t", "", "check the configuration and exit (0: would run, 1: would not); messages also to `LOG_FILE`")
	fs.Lookup("config-test").NoOptDefVal = "-"
	fs.StringVarP(&o.pidFile, "pid", "p", "/run/keepalived.pid", "pid file `FILE`")
	fs.StringVarP(&o.vrrpPidFile, "vrrp_pid", "r", "/run/keepalived_vrrp.pid", "VRRP pid file `FILE` (written with the same pid)")
	fs.StringVarP(&o.checkPid, "checkers_pid", "c", "/run/keepalived_checkers.pid", "checkers pid file `FILE` (written with the same pid)")
	fs.StringVarP(&o.configID, "config-id", "i", "", "config `ID` for @ID conditional lines (default: host name)")
	fs.BoolVarP(&o.allConfig, "all-config", "e", false, "a missing include file is an error")
	fs.BoolVarP(&o.dontRelVRRP, "dont-release-vrrp", "V", false, "do not remove VIPs and routes on stop")
	fs.BoolVarP(&o.releaseVIPs, "release-vips", "X", false, "remove an instance's VIPs whenever it becomes backup, fault or stop, even ones this run did not add")
	fs.BoolVarP(&o.dontRelIPVS, "dont-release-ipvs", "I", false, "do not remove virtual services on stop")
	fs.BoolVarP(&o.dontRespawn, "dont-respawn", "R", false, "accepted for compatibility: ulvsd has no child processes")
	fs.BoolVarP(&o.addrMonitor, "address-monitoring", "a", false, "log netlink address changes")
	fs.StringVarP(&o.umask, "umask", "u", "", "`UMASK` (octal) for the files ulvsd creates")
	fs.StringVar(&o.signum, "signum", "", "print the number of the signal `NAME` (STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON) and exit")
	fs.BoolVarP(&o.version, "version", "v", false, "print the version and exit")
	fs.BoolVarP(&o.help, "help", "h", false, "print this help and exit")
	fs.BoolVar(&o.keywords, "keywords", false, "print the keyword coverage table and exit")
	fs.BoolVar(&o.describe, "describe", false, "print what the configuration sets up and exit")
	fs.StringVar(&o.control, "control", "/run/ulvs/ulvsd.sock", "control socket `PATH` for ulvsadm")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on `ADDR` (e.g. 127.0.0.1:9650); off by default")
	fs.BoolVar(&o.nodeIPVS, "metrics-node-ipvs", true, "with --metrics, also export node_exporter's node_ipvs_* families from the live table (IPVS dashboards and alerts work unchanged)")
	fs.StringVar(&o.backend, "backend", "userspace", "forwarding `BACKEND`: userspace or ipvs")
	fs.BoolVar(&o.jsonLogs, "log-json", false, "log JSON lines even with -l")
	fs.StringSliceVar(&o.interfaces, "interfaces", nil, "`INTERFACES` (comma-separated) the userspace forwarder listens on (default: every interface that is up)")
	fs.IntVar(&o.maxConns, "max-conns", 1<<20, "`N`, the size of the userspace connection table (and of the persistence template table)")
	fs.StringVar(&o.bgpFile, "bgp", "", "announce virtual addresses over BGP as the BGP `FILE` says (docs/ecmp.md)")
	fs.StringVar(&o.cannotServe, "cannot-serve", "fault", "while this director cannot serve (forwarder stopped, no socket can be opened, connection table refusing), its VRRP instances go to FAULT (fault), lose priority (a weight such as -50), or stay (off)")
	fs.StringVar(&o.io, "io", "afpacket", "frame I/O of the userspace forwarder: afpacket, xdp (AF_XDP; native XDP only, fails where it does not attach) or auto (AF_XDP where it attaches, AF_PACKET elsewhere)")
	fs.BoolVar(&o.xdpFast, "xdp-fastpath", false, "with --io xdp or auto: forward established DR and NAT connections (TCP once it has sent a few packets, without SYN, FIN or RST, and UDP, with complete checksums; NAT both ways, rewritten as user space does) in the XDP program itself, leaving by the interface they came in on; user space keeps the connection table, its states, timers and counts (on a veth, the peer must run a native XDP program for XDP_TX frames to be delivered)")
	fs.IntVar(&o.ringVersion, "ring-version", 2, "AF_PACKET receive ring: 2 (TPACKET_V2: every frame wakes its worker at once) or 3 (TPACKET_V3: a worker wakes once per block of frames, retired when full or after 1 ms, a kernel tick on older kernels; far less CPU per packet at moderate rates, but a frame on a quiet link waits for the timer)")
	fs.BoolVar(&o.sloppyTCP, "sloppy-tcp", false, "schedule TCP connections on any packet, not only SYN (IPVS's sloppy_tcp), so connections survive a failover")
	return fs
}

// parseOptions parses the command line. Options keepalived has but ulvsd
// does not support are refused with the reason.
func parseOptions(args []string, out io.Writer) (*options, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--") {
			name, _, _ := strings.Cut(a[2:], "=")
			if short, ok := refusedLong[name]; ok {
				return nil, fmt.Errorf("option --%s is not supported: %s", name, refused[short])
			}
			continue
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			for _, c := range a[1:] {
				if why, ok := refused[string(c)]; ok {
					return nil, fmt.Errorf("option -%c is not supported: %s", c, why)
				}
				// Options taking a value end the cluster.
				if strings.ContainsRune("fSgtprciu", c) {
					break
				}
			}
		}
	}
	o := &options{}
	fs := newFlagSet(o, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.configTest = fs.Changed("config-test")
	o.sloppySet = fs.Changed("sloppy-tcp")
	if o.testLog == "-" {
		o.testLog = ""
	}
	if o.backend == "" {
		o.backend = "userspace"
	}
	if o.maxConns < 1 || o.maxConns > maxConnsLimit {
		return nil, fmt.Errorf("--max-conns %s: the connection table holds 1 to %d entries",
			fs.Lookup("max-conns").Value, maxConnsLimit)
	}
	if o.ringVersion != 2 && o.ringVersion != 3 {
		return nil, fmt.Errorf("--ring-version %d: 2 (TPACKET_V2) or 3 (TPACKET_V3)", o.ringVersion)
	}
	if o.xdpFast && o.io != "xdp" && o.io != "auto" {
		return nil, fmt.Errorf("--xdp-fastpath needs --io xdp or --io auto (the fast path is part of the XDP program), not --io %s", o.io)
	}
	if _, err := canserve.ParseMode(o.cannotServe); err != nil {
		return nil, err
	}
	if o.vrrpOnly && o.checkOnly {
		return nil, fmt.Errorf("-P (VRRP only) and -C (checkers only) exclude each other")
	}
	return o, nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: ulvsd [OPTION...]\n\nulvsd runs a keepalived configuration: VRRP, health checkers and a userspace IPVS.\n\n")
	fs := newFlagSet(&options{}, w)
	fs.PrintDefaults()
}
