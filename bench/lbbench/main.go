// Command lbbench measures ulvs against what its users would run instead,
// in one run on one machine: the client talks to two nginx real servers
// directly (the ceiling) and through each balancer in turn — kernel
// nftables DR (netdev ingress) and NAT (dnat, numgen), HAProxy in tcp
// mode, nginx stream, and ulvs once ulvsd can run a keepalived.conf — with
// the same loads for all: wrk keep-alive and Connection: close, one iperf3
// stream, a 60-byte UDP flood from trafgen, and the machine's CPU per
// packet and per new connection at a fixed offered load.
//
// Scenarios are interleaved (A B C … A B C) for -rounds rounds, so that
// the machine's drift (other builds on the same cores) spreads over all of
// them; the report gives medians, min–max and ratios to direct. It needs
// root and the Debian packages of `scripts/deps.sh bench`.
//
//	go run ./bench/lbbench -rounds 3 -d 10s -out bench/results/2026-11-23
//
// It also merges the Go micro-benchmarks (-micro FILE, `go test -bench`
// output) into the same results. LBBENCH_DEBUG=1 logs the real servers'
// UDP counters and ulvsd's log.
//
// Subcommands, run by lbbench itself inside the namespaces: pace (fixed-
// rate UDP or TCP sender), rawpace (fixed-rate 60-byte frames on a packet
// socket, for the loss-free search) and decap (ulvs's userspace IPIP
// decapsulator on a real server).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/internal/script"
)

func main() {
	if len(os.Args) > 1 {
		sub := map[string]func([]string) error{"pace": paceMain, "rawpace": rawPaceMain, "decap": decapMain, "flame": flameMain}[os.Args[1]]
		if sub != nil {
			if err := sub(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "lbbench "+os.Args[1]+":", err)
				os.Exit(1)
			}
			return
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lbbench:", err)
		os.Exit(1)
	}
}

func run() error {
	rounds := flag.Int("rounds", 3, "rounds of every scenario (interleaved)")
	d := flag.Duration("d", 5*time.Second, "length of each measurement")
	conns := flag.Int("c", 64, "wrk connections")
	pps := flag.Int("cost-pps", 50000, "offered datagrams/s of the CPU-per-packet measurement")
	cps := flag.Int("cost-cps", 2000, "offered connections/s of the CPU-per-connection measurement")
	out := flag.String("out", "", "write OUT.json, OUT.md and OUT-<metric>.svg")
	micro := flag.String("micro", "", "merge this `go test -bench` output")
	only := flag.String("scenarios", "", "comma-separated scenario names (default all)")
	ulvsd := flag.String("ulvsd", "bin/ulvsd", "the ulvsd binary of the ulvs scenarios")
	vmOn := flag.Bool("vm", false, "add the VM scenarios: kernel IPVS and ulvs in DR mode inside one QEMU guest")
	vmCache := flag.String("vm-cache", ".cache/ipvs-vm", "the VM kit (scripts/ipvs-vm.sh fetch)")
	vmAgent := flag.String("vm-agent", "bin/ipvsagent", "the guest agent, built static from ./forward/ipvs/internal/ipvsagent")
	loadsFlag := flag.String("loads", "", "comma-separated load names (default all)")
	perfDir := flag.String("perf", "", "record perf profiles of the -perf-loads into this directory (see `lbbench flame`)")
	perfLoads := flag.String("perf-loads", "cpu per packet,udp flood", "comma-separated loads that -perf profiles")
	flag.BoolVar(&wireChecksums, "wire-checksums", false, "turn the client's and real servers' TX checksum offload off, so that every frame reaching the director "+
		"(a NAT real server's replies too) carries a complete checksum, as from a physical wire (on a veth a local sender's are left partial, "+
		"and ulvs's XDP fast path hands those to user space)")
	variants := flag.String("variants", "", "comma-separated LABEL=BINARY [OPTION...]: adds the scenarios \"ulvs DR LABEL\" and \"ulvs NAT LABEL\", "+
		"ulvsd from BINARY (- for -ulvsd) with OPTIONs added, on AF_PACKET (same-run A/B of a change or an option); with --xdp-fastpath "+
		"among the OPTIONs, on XDP with the fast path as the \"ulvs DR XDP fast\" scenario runs it")
	flag.Parse()
	if err := addVariants(*variants); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	res := &Results{Date: time.Now().UTC().Format("2006-01-02T15:04:05Z"), Command: shellJoin(os.Args),
		Metrics: map[string]*Metric{},
		Config:  Config{Rounds: *rounds, Duration: d.String(), WrkConns: *conns, CostPPS: *pps, CostCPS: *cps}}
	res.Machine = machine()
	if *micro != "" {
		m, err := readMicro(*micro)
		if err != nil {
			return err
		}
		res.Micro = m
	}
	if *rounds > 0 {
		var vo *vmOptions
		if *vmOn {
			vo = &vmOptions{cache: *vmCache, agent: *vmAgent}
		}
		scs := pick(*only)
		if vo == nil {
			scs = slices.DeleteFunc(scs, func(s scenario) bool { return s.vm })
		}
		prof, err := newProfiler(*perfDir, *perfLoads, func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
		if err != nil {
			return err
		}
		if err := runRounds(res, *rounds, *d, *conns, *pps, *cps, *ulvsd, vo, scs, pickLoads(*loadsFlag), prof); err != nil {
			return err
		}
	}
	res.Machine.LoadEnd = loadavg()
	res.summarize()
	if err := res.write(*out); err != nil {
		return err
	}
	fmt.Printf("results written to %s.json, %s.md and %s-*.svg\n", *out, *out, *out)
	return nil
}

// addVariants adds the -variants scenarios after the ulvs ones: for each
// "LABEL=BINARY [OPTION...]", "ulvs DR LABEL" and "ulvs NAT LABEL" run
// BINARY (or -ulvsd where BINARY is "-") with the options added, on
// AF_PACKET, or set up as "ulvs DR XDP fast" is when the options hold
// --xdp-fastpath: a same-run A/B of a change or of an option.
func addVariants(list string) error {
	if list == "" {
		return nil
	}
	var add []scenario
	for _, item := range strings.Split(list, ",") {
		label, spec, ok := strings.Cut(strings.TrimSpace(item), "=")
		f := strings.Fields(spec)
		if !ok || label == "" || len(f) == 0 {
			return fmt.Errorf("-variants: %q is not LABEL=BINARY [OPTION...]", item)
		}
		v := variant{label: label, args: f[1:]}
		if f[0] != "-" {
			abs, err := filepath.Abs(f[0])
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); err != nil {
				return fmt.Errorf("-variants: %w", err)
			}
			v.bin = abs
		}
		layer := "afpacket"
		if slices.Contains(v.args, "--xdp-fastpath") {
			layer = "xdp" // the fast path is part of the XDP program
		}
		add = append(add, scenario{name: "ulvs DR " + label, setup: ulvsVariant("DR", layer, v)},
			scenario{name: "ulvs NAT " + label, setup: ulvsVariant("NAT", layer, v)})
	}
	i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.vm })
	if i < 0 {
		i = len(scenarios)
	}
	scenarios = slices.Insert(slices.Clone(scenarios), i, add...)
	return nil
}

func pick(list string) []scenario {
	if list == "" {
		return scenarios
	}
	var out []scenario
	for _, s := range scenarios {
		for _, n := range strings.Split(list, ",") {
			if strings.EqualFold(strings.TrimSpace(n), s.name) {
				out = append(out, s)
			}
		}
	}
	return out
}

func pickLoads(list string) []load {
	if list == "" {
		return loads
	}
	var out []load
	for _, l := range loads {
		for _, n := range strings.Split(list, ",") {
			if strings.EqualFold(strings.TrimSpace(n), l.name) {
				out = append(out, l)
			}
		}
	}
	return out
}

func runRounds(res *Results, rounds int, d time.Duration, conns, pps, cps int, ulvsd string, vo *vmOptions, scs []scenario, lds []load, prof *profiler) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces)")
	}
	for _, tool := range []string{"ip", "nft", "nginx", "haproxy", "wrk", "iperf3", "trafgen", "ethtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: run `scripts/deps.sh bench`", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lbbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	// Join the accounting cgroup before starting anything, so that every
	// process of the lab inherits it.
	acct, err := newCPUAccount()
	if err != nil {
		logf("no cpuacct cgroup (%v): CPU costs fall back to the machine's busy time", err)
		res.Notes = append(res.Notes, "CPU costs: machine-wide busy time beyond a quiet window (no cpuacct cgroup): noisy on a shared machine.")
	} else {
		defer acct.close()
		res.Notes = append(res.Notes, "CPU costs: scheduler run time of the lab's processes (a cpuacct cgroup), which includes the "+
			"softirq work done in their context (the whole veth path of a packet runs in its sender's softirq); work deferred to "+
			"ksoftirqd is not counted. Cost = (cores used in the scenario − cores used direct, same round) / offered rate.")
	}
	l, err := newLab(fmt.Sprintf("lbb%d", os.Getpid()%100000), dir, logf)
	if err != nil {
		return err
	}
	l.self = self
	if ulvsd != "" {
		if l.ulvsd, err = filepath.Abs(ulvsd); err != nil {
			return err
		}
	}
	if vo != nil {
		if err := l.bootVM(*vo); err != nil {
			return fmt.Errorf("VM: %w", err)
		}
		res.Notes = append(res.Notes, "The (VM) scenarios run kernel IPVS and ulvs in DR mode inside one QEMU guest "+
			"(Debian's kernel under TCG emulation, one vCPU) that takes the director's place: compare them with each other, "+
			"not with the scenarios on the host; their CPU cost is mostly QEMU emulating the guest.")
	}
	defer l.close()
	r := &runner{l: l, d: d, conns: conns, costPPS: pps, costCPS: cps, self: self, logf: logf, acct: acct}
	for _, s := range scs {
		res.Order = append(res.Order, s.name)
	}
	if slices.ContainsFunc(scs, func(s scenario) bool { return strings.HasPrefix(s.name, "ulvs") && !s.vm }) {
		res.Notes = append(res.Notes, "ulvs DR/NAT/TUN: ulvsd -f with a generated keepalived.conf (three virtual servers, "+
			"no checkers) on the director's eth0, userspace backend; TUN's real servers decapsulate with ulvs's forward/tunnel "+
			"(lbbench decap). ulvs … XDP: the same with --io xdp (AF_XDP in copy mode behind native XDP on the veth). "+
			"ulvs DR/NAT XDP fast: that with --xdp-fastpath (established connections forwarded by the XDP program itself, "+
			"given complete checksums: see -wire-checksums), and the pass-all XDP program a veth's peer needs on the director's switch port. "+
			"The loss-free rate (pinned_lossfree_pps) puts the whole forwarding path on the last CPU and the generator on CPU 0: "+
			"the client's switch port steers what it receives to the last CPU (RPS), so bridge, director kernel and real servers' "+
			"receive run there, and the balancer's threads, if any, are pinned there. sat_ns_per_packet is the lab's whole CPU "+
			"(generator and sinks included) per packet delivered during the UDP flood.")
	}
	record := func(round int, s, metric string, v float64) {
		m := res.Metrics[metric]
		if m == nil {
			m = &Metric{metricInfo: metrics[metric], Rounds: map[string][]float64{}, RoundOf: map[string][]int{}}
			res.Metrics[metric] = m
		}
		m.Rounds[s] = append(m.Rounds[s], v)
		m.RoundOf[s] = append(m.RoundOf[s], round)
	}
	for round := 1; round <= rounds; round++ {
		var base map[string]float64
		for _, s := range scs {
			logf("round %d/%d: %s", round, rounds, s.name)
			t, err := s.setup(l)
			if err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("round %d %s setup: %v", round, s.name, err))
				continue
			}
			got := map[string]float64{}
			for _, ld := range lds {
				vals, err := prof.around(s.name, ld.name, func() (map[string]float64, error) { return ld.run(r, t) })
				if err != nil {
					res.Errors = append(res.Errors, fmt.Sprintf("round %d %s %s: %v", round, s.name, ld.name, err))
					logf("  %s: %v", ld.name, err)
					continue
				}
				for k, v := range vals {
					got[k] = v
				}
			}
			if err := t.teardown(); err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("round %d %s teardown: %v", round, s.name, err))
			}
			if s.name == "direct" {
				base = got
			}
			for k, v := range got {
				if _, ok := metrics[k]; ok {
					record(round, s.name, k, v)
				}
			}
			// CPU costs: the busy cores beyond direct's in this round, per
			// offered packet or connection.
			if base != nil {
				if b, ok := base["busy_cores_pkt"]; ok {
					if v, ok := got["busy_cores_pkt"]; ok && got["offered_pps"] > 0 {
						record(round, s.name, "cpu_ns_per_packet", (v-b)/got["offered_pps"]*1e9)
					}
				}
				if b, ok := base["busy_cores_conn"]; ok {
					if v, ok := got["busy_cores_conn"]; ok && got["offered_cps"] > 0 {
						record(round, s.name, "cpu_us_per_conn", (v-b)/got["offered_cps"]*1e6)
					}
				}
			}
			logf("  %v", got)
		}
	}
	return nil
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// shellJoin renders a command line so that it can be pasted into a shell:
// an argument with anything but letters, digits and _./=:,@%+- in it is
// quoted (script.Quote).
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		plain := a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("_./=:,@%+-", r))
		}) < 0
		if plain {
			q[i] = a
		} else {
			q[i] = script.Quote(a)
		}
	}
	return strings.Join(q, " ")
}
