package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/sched"
)

// simConfig is what the simulate flags describe.
type simConfig struct {
	sched      string
	flags      uint32
	servers    []serverSpec
	n          int
	vip        netip.AddrPort
	clientNet  netip.Prefix
	sport      uint16
	proto      uint8
	rate       float64
	arrival    string
	duration   durationModel
	finWait    time.Duration
	events     []simEvent
	pcap       string
	seed       uint64
	trace      bool
	json       bool
	svg        string
	samples    int
	expiration time.Duration
}

type serverSpec struct {
	addr   netip.AddrPort
	weight int32
}

// durationModel says how long a connection stays open: forever (kind ""),
// a constant, or exponentially distributed with the given mean.
type durationModel struct {
	kind string // "", "const", "exp"
	d    time.Duration
}

func (m *durationModel) String() string {
	if m.kind == "" {
		return "inf"
	}
	return m.kind + ":" + m.d.String()
}

func (m *durationModel) Set(s string) error {
	if s == "inf" || s == "" {
		*m = durationModel{}
		return nil
	}
	kind, val, ok := strings.Cut(s, ":")
	if !ok {
		kind, val = "const", s
	}
	d, err := time.ParseDuration(val)
	if err != nil || d <= 0 || (kind != "const" && kind != "exp") {
		return fmt.Errorf("want inf, DURATION, const:DURATION or exp:MEAN, got %q", s)
	}
	*m = durationModel{kind: kind, d: d}
	return nil
}

// simEvent changes the real servers before connection number step.
type simEvent struct {
	step   int
	op     string // add, remove, weight
	addr   netip.AddrPort
	weight int32
}

type serverList struct{ v *[]serverSpec }

func (l serverList) String() string { return "" }
func (l serverList) Set(s string) error {
	ap, w, err := parseServer(s)
	if err != nil {
		return err
	}
	*l.v = append(*l.v, serverSpec{ap, w})
	return nil
}

// parseServer parses ADDR:PORT:WEIGHT ([v6]:PORT:WEIGHT).
func parseServer(s string) (netip.AddrPort, int32, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, 0, fmt.Errorf("want ADDR:PORT:WEIGHT, got %q", s)
	}
	ap, err := netip.ParseAddrPort(s[:i])
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("want ADDR:PORT:WEIGHT, got %q: %w", s, err)
	}
	w, err := strconv.ParseInt(s[i+1:], 10, 32)
	if err != nil || w < 0 {
		return netip.AddrPort{}, 0, fmt.Errorf("bad weight in %q", s)
	}
	return ap, int32(w), nil
}

type eventList struct{ v *[]simEvent }

func (l eventList) String() string { return "" }

// Set parses STEP:add:ADDR:PORT:WEIGHT, STEP:remove:ADDR:PORT or
// STEP:weight:ADDR:PORT:WEIGHT.
func (l eventList) Set(s string) error {
	stepS, rest, ok := strings.Cut(s, ":")
	op, arg, ok2 := strings.Cut(rest, ":")
	step, err := strconv.Atoi(stepS)
	if !ok || !ok2 || err != nil || step < 1 {
		return fmt.Errorf("want STEP:add|remove|weight:ADDR:PORT[:WEIGHT], got %q", s)
	}
	ev := simEvent{step: step, op: op}
	switch op {
	case "add", "weight":
		ev.addr, ev.weight, err = parseServer(arg)
	case "remove":
		ev.addr, err = netip.ParseAddrPort(arg)
	default:
		err = fmt.Errorf("unknown event %q", op)
	}
	if err != nil {
		return fmt.Errorf("event %q: %w", s, err)
	}
	*l.v = append(*l.v, ev)
	return nil
}

const simUsage = `usage: ulvsadm simulate [flags]

Drives a scheduler over a workload with no network and reports how it
spread the connections. Real servers are added in the order given, so the
scheduler sees them newest first, as the kernel does.

The default workload: -n new TCP connections to the VIP, the i-th from the
i-th host address of --client-net with source port 40000, each staying open
(active) for the whole run.

flags:
`

func parseSimFlags(args []string, stderr io.Writer) (*simConfig, error) {
	c := &simConfig{}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, simUsage)
		fs.PrintDefaults()
	}
	var flagList, vip, cnet, proto, confPath, vsArg string
	fs.StringVar(&c.sched, "s", sched.Default, "scheduler: "+strings.Join(sched.Names, ", "))
	fs.StringVar(&flagList, "b", "", "scheduler flags: sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3 (comma-separated)")
	fs.Var(serverList{&c.servers}, "r", "real server `ADDR:PORT:WEIGHT` (repeatable, added in the order given)")
	fs.StringVar(&confPath, "f", "", "keepalived.conf `FILE`: take --vs's real servers (in config order), lb_algo and lb_kind flags from it")
	fs.StringVar(&vsArg, "vs", "", "with -f: the virtual_server `ADDR:PORT` (-s, -b, --vip and --proto still override)")
	fs.IntVar(&c.n, "n", 1000, "number of new connections")
	fs.StringVar(&vip, "vip", "198.18.0.10:80", "virtual service `ADDR:PORT`")
	fs.StringVar(&cnet, "client-net", "198.18.128.0/17", "clients: the i-th connection comes from the i-th host address")
	fs.StringVar(&proto, "proto", "tcp", "protocol: tcp, udp or sctp")
	fs.Float64Var(&c.rate, "rate", 1000, "new connections per second of simulated time")
	fs.StringVar(&c.arrival, "arrival", "const", "arrival model: const (every 1/rate) or poisson")
	fs.Var(&c.duration, "duration", "how long a connection stays open: inf, `DURATION`, const:DURATION or exp:MEAN")
	fs.DurationVar(&c.finWait, "fin-wait", 120*time.Second, "how long a closed TCP connection stays inactive before it expires (TIME_WAIT)")
	fs.Var(eventList{&c.events}, "at", "change before connection STEP: `STEP:add:ADDR:PORT:WEIGHT`, STEP:remove:ADDR:PORT, STEP:weight:ADDR:PORT:WEIGHT (repeatable)")
	fs.StringVar(&c.pcap, "pcap", "", "replay the SYNs and FINs/RSTs to the VIP found in a pcap `FILE` instead of the generated workload")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed (poisson arrivals, exp durations, twos)")
	fs.BoolVar(&c.trace, "trace", false, "print one line per connection: CLIENT:PORT -> SERVER:PORT (or -> none), nothing else")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.StringVar(&c.svg, "svg", "", "write a chart of active connections per real server over time to `FILE`")
	fs.IntVar(&c.samples, "samples", 200, "points per series in the chart and the JSON timeline")
	fs.DurationVar(&c.expiration, "cache-expiration", 24*time.Hour, "lblc/lblcr cache expiration (sysctl lblc_expiration)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	var fromConf []serverSpec
	if confPath != "" || vsArg != "" {
		if fromConf, err = loadVS(c, confPath, vsArg, set, &vip, &proto); err != nil {
			return nil, err
		}
		c.servers = append(fromConf, c.servers...)
	}
	if !set["b"] && len(fromConf) > 0 {
		flagList = sched.FlagString(c.sched, c.flags)
	}
	if c.flags, err = sched.ParseFlags(c.sched, flagList); err != nil {
		return nil, err
	}
	if c.vip, err = netip.ParseAddrPort(vip); err != nil {
		return nil, fmt.Errorf("--vip: %w", err)
	}
	if c.clientNet, err = netip.ParsePrefix(cnet); err != nil {
		return nil, fmt.Errorf("--client-net: %w", err)
	}
	switch proto {
	case "tcp":
		c.proto = sched.ProtoTCP
	case "udp":
		c.proto = sched.ProtoUDP
	case "sctp":
		c.proto = sched.ProtoSCTP
	default:
		return nil, fmt.Errorf("--proto: want tcp, udp or sctp, got %q", proto)
	}
	if c.arrival != "const" && c.arrival != "poisson" {
		return nil, fmt.Errorf("--arrival: want const or poisson, got %q", c.arrival)
	}
	if c.rate <= 0 || c.n < 0 || c.samples < 2 {
		return nil, errors.New("--rate must be > 0, -n >= 0, --samples >= 2")
	}
	if len(c.servers) == 0 {
		return nil, errors.New("no real servers: give -r ADDR:PORT:WEIGHT")
	}
	if c.trace && c.json {
		return nil, errors.New("--trace and --json are exclusive")
	}
	c.sport = 40000
	return c, nil
}

func runSimulate(args []string, stdout, stderr io.Writer) int {
	c, err := parseSimFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ulvsadm simulate: %v\n", err)
		return 2
	}
	res, err := simulate(c, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "ulvsadm simulate: %v\n", err)
		return 1
	}
	if c.svg != "" {
		if err := writeSVG(c.svg, c, res); err != nil {
			fmt.Fprintf(stderr, "ulvsadm simulate: %v\n", err)
			return 1
		}
	}
	switch {
	case c.trace:
	case c.json:
		err = writeJSON(stdout, c, res)
	default:
		err = writeReport(stdout, c, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ulvsadm simulate: %v\n", err)
		return 1
	}
	return 0
}

// conn is a simulated connection: open until close, then inactive until
// expire (TCP), or inactive all along until expire (UDP).
type conn struct {
	d      *sched.Dest
	at     time.Duration // next event time
	closed bool          // the close (deactivate) happened; next is expiry
}

type connHeap []*conn

func (h connHeap) Len() int           { return len(h) }
func (h connHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h connHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *connHeap) Push(x any)        { *h = append(*h, x.(*conn)) }
func (h *connHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// arrival is one new connection of the workload.
type arrival struct {
	flow sched.Flow
	// closeAt is when the client closes it (pcap replay), or -1 when the
	// duration model decides.
	closeAt time.Duration
}

// simResult is what a run measured.
type simResult struct {
	svc       *sched.Service
	servers   []*serverStats // in the order first seen (flag order, then events)
	byDest    map[*sched.Dest]*serverStats
	none      int
	total     int
	elapsed   time.Duration // wall time of the run (Picks and accounting)
	end       time.Duration // simulated time at the end
	remaps    []remap
	timeline  []sample
	decisions float64 // Picks per second, timed alone after the run
}

type serverStats struct {
	addr   netip.AddrPort
	dest   *sched.Dest
	conns  int // connections assigned
	peak   int32
	weight int32 // final weight (0 when removed)
	gone   bool
}

type remap struct {
	Step     int     `json:"step"`
	Event    string  `json:"event"`
	Flows    int     `json:"flows"`
	Remapped int     `json:"remapped"`
	Fraction float64 `json:"fraction"`
}

type sample struct {
	Step   int     `json:"step"`
	Time   float64 `json:"time_s"`
	Active []int32 `json:"active"` // per server, in report order
}

// loadVS reads the virtual_server vsArg of the keepalived.conf at path: its
// real servers in config order (so the scheduler sees them reversed, as
// keepalived adds them), and unless given on the command line its lb_algo
// and scheduler flags, its address and its protocol.
func loadVS(c *simConfig, path, vsArg string, set map[string]bool, vip, proto *string) ([]serverSpec, error) {
	if path == "" || vsArg == "" {
		return nil, errors.New("-f FILE and --vs ADDR:PORT go together")
	}
	ap, err := netip.ParseAddrPort(vsArg)
	if err != nil {
		return nil, fmt.Errorf("--vs: %w", err)
	}
	cfg, err := conf.Load(path, conf.Options{})
	if err != nil {
		return nil, err
	}
	var vs *conf.VirtualServer
	for _, v := range cfg.VirtualServers {
		if v.Fwmark == 0 && v.Addr == ap.Addr() && v.Port == ap.Port() {
			vs = v
		}
	}
	if vs == nil {
		return nil, fmt.Errorf("%s: no virtual_server %s", path, ap)
	}
	if !set["s"] {
		c.sched = vs.Sched
		if !set["b"] {
			c.flags = vs.SchedFlags
		}
	}
	if !set["vip"] {
		*vip = ap.String()
	}
	if !set["proto"] && vs.Protocol != "" {
		*proto = strings.ToLower(vs.Protocol)
	}
	var out []serverSpec
	for _, rs := range vs.RealServers {
		w := min(max(rs.Weight, 0), math.MaxInt32)
		out = append(out, serverSpec{netip.AddrPortFrom(rs.Addr, rs.Port), int32(w)})
	}
	return out, nil
}
