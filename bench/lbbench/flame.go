package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// flameMain is `lbbench flame -out PREFIX A.data B.data …`: it reads the
// profiles that -perf recorded (through `perf script`), folds their stacks
// and writes PREFIX-<profile>.svg, a flame graph of each (the lab's
// processes only: idle, perf and the shared machine's other work left out),
// and PREFIX.md, a table of where the CPU went per forwarded packet, by
// category, one column per profile.
//
// The flame graphs are drawn here rather than with Brendan Gregg's
// FlameGraph scripts: Debian does not package them (apt-cache search
// flamegraph finds nothing), the registries this project may use offer no
// maintained SVG generator (pprof renders call graphs through graphviz and
// flame graphs only in its web UI), and the format is simple: one
// rectangle per frame, as wide as its samples, titled with its name and
// share, coloured by category.
func flameMain(args []string) error {
	fs := flag.NewFlagSet("flame", flag.ContinueOnError)
	out := fs.String("out", "", "write OUT.md and OUT-<profile>.svg")
	title := fs.String("title", "Where a forwarded packet's CPU goes", "heading of OUT.md")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: lbbench flame -out PREFIX profile.data…")
	}
	var profs []*profile
	for _, f := range fs.Args() {
		p, err := loadProfile(f)
		if err != nil {
			return err
		}
		profs = append(profs, p)
		svg := *out + "-" + p.name + ".svg"
		if err := os.WriteFile(svg, []byte(p.flameSVG()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %d samples (%d idle), %s\n", f, p.total, p.idle, svg)
	}
	md := profileTable(*title, *out, profs)
	return os.WriteFile(*out+".md", []byte(md), 0o644)
}

// profile is one perf recording, folded.
type profile struct {
	name    string
	meta    profileMeta
	stacks  map[string]int // "comm;root;…;leaf" → samples (idle excluded)
	byCat   map[string]int
	total   int // samples, idle included
	idle    int
	packets float64
}

// category is a row of the cost table. A sample goes to the category of
// the first frame, from the leaf up, that matches one of its patterns (a
// pattern ending in '*' is a prefix, otherwise the whole symbol): its own
// CPU, where the time was spent, not what it was spent for.
type category struct {
	name     string
	patterns []string
}

var categories = []category{
	{"wake-ups and scheduling (kernel and Go runtime)", []string{"try_to_wake_up", "ttwu_*", "ep_poll_callback", "__wake_up*",
		"schedule", "__schedule", "schedule_*", "finish_task_switch*", "pick_next_task*", "dequeue_task*", "enqueue_task*",
		"select_task_rq*", "do_epoll_wait", "ep_poll", "ep_item_poll*", "futex_*", "__futex*", "do_futex", "do_sched_yield",
		"update_curr*", "psi_*", "native_smp_send_reschedule", "x2apic_send_IPI*", "default_send_IPI*", "__x2apic_send_IPI*",
		"runtime.netpoll*", "runtime.findRunnable", "runtime.schedule", "runtime.stealWork", "runtime.futex*",
		"runtime.notesleep", "runtime.notewakeup", "runtime.wakep", "runtime.park_m", "runtime.mPark", "runtime.stopm",
		"runtime.startm", "runtime.usleep", "runtime.osyield", "runtime.runqgrab", "runtime.checkTimers", "runtime.epollwait",
		"runtime.gopark", "runtime.goready", "runtime.ready", "runtime.netpollblock*", "runtime.casgstatus", "runtime.execute",
		"runtime.exitsyscall*", "runtime.entersyscall*", "runtime.reentersyscall", "runtime.handoffp", "runtime.retake",
		"runtime.sysmon", "runtime.nanotime*", "runtime.mcall", "runtime.goexit*", "runtime.injectglist"}},
	{"AF_XDP and XDP", []string{"xsk_*", "__xsk_*", "xdp_*", "__xdp_*", "bpf_xdp_*", "veth_xdp*", "veth_convert_skb_to_xdp_buff",
		"xp_*", "bpf_prog_run_xdp", "*_ulvs_steer", "dev_map_*", "__dev_map_*"}},
	{"AF_PACKET receive: fanout hash, filter, copy into the ring", []string{"tpacket_rcv", "packet_rcv*", "fanout_demux*",
		"__skb_get_hash_symmetric*", "__skb_flow_dissect", "bpf_prog_run*", "run_filter", "sk_filter*", "__bpf_prog_run*",
		"___bpf_prog_run", "bpf_prog_*", "tpacket_get_timestamp", "__packet_rcv_has_room", "packet_lookup_frame*"}},
	{"AF_PACKET transmit: sendmmsg, skb allocation and copy", []string{"packet_snd", "packet_sendmsg", "__sys_sendmmsg",
		"___sys_sendmsg", "__x64_sys_sendmmsg", "packet_direct_xmit", "packet_alloc_skb", "sock_alloc_send_pskb",
		"packet_parse_headers", "____sys_sendmsg", "tpacket_snd", "tpacket_fill_skb"}},
	{"netfilter: nft rules and conntrack (guard, sink, nft balancers)", []string{"nft_*", "nf_hook_slow*", "nf_conntrack*",
		"nf_nat*", "__nf_conntrack*", "nf_ct_*", "ipv4_conntrack*", "nf_nat_*", "__nft_*", "nft_do_chain*", "jhash*"}},
	{"IP receive and routing (ip_rcv to the hook, ip_forward)", []string{"ip_rcv*", "ip_forward*", "ip_route_input*",
		"ip_route_use_hint", "fib_*", "ip_local_deliver*", "ipv6_rcv*", "ip_sublist_rcv*", "ip_list_rcv*", "ip_rcv_core",
		"ip_rcv_finish_core*", "__ip_options*", "ip6_*", "raw_local_deliver", "udp_v4_early_demux", "inet_gro*", "udp4_gro*"}},
	{"veth, bridge and the backlog", []string{"veth_*", "br_*", "netif_rx*", "__netif_rx", "process_backlog", "__netif_receive_skb*",
		"netif_receive_skb*", "enqueue_to_backlog", "dev_hard_start_xmit", "__dev_queue_xmit", "dev_queue_xmit*", "net_rx_action",
		"skb_release*", "kfree_skb*", "consume_skb", "napi_*", "__napi_*", "__kfree_skb", "skb_free_head", "eth_type_trans",
		"__dev_forward_skb*", "dev_forward_skb*", "validate_xmit_skb*", "netdev_core_pick_tx", "__netif_receive_skb_core*",
		"skb_clone", "__skb_clone", "kmem_cache_free*", "kmem_cache_alloc*", "__alloc_skb", "kmalloc_reserve*", "__kmalloc*",
		"skb_copy_bits", "dev_direct_xmit", "skb_push", "skb_pull*", "nf_ingress*", "__copy_skb_header", "pskb_expand_head"}},
	{catSenders, []string{"main.*", "udp_sendmsg", "ip_output", "ip_finish_output*",
		"tcp_*", "udp_*", "inet_sendmsg", "ip_make_skb", "ip_send_skb", "sock_sendmsg", "__ip_append_data*", "ip_append_data",
		"ip_local_out", "__ip_local_out", "__sys_sendto", "__x64_sys_sendto", "__ip_make_skb", "ip_route_output*",
		"__ip_route_output*", "ip_setup_cork"}},
	{"ulvs forwarding (decode, tables, rewrite; Go)", []string{"github.com/ulvs/ulvs/*"}},
	{catSyscall, []string{"entry_SYSCALL*", "do_syscall_64", "syscall_exit*", "exit_to_user_mode*",
		"syscall_return_via_sysret", "__x64_sys_*", "__do_sys_*", "fdget*", "__fget*", "fput", "__fdget*", "syscall_enter*",
		"internal/runtime/syscall.*", "syscall.*", "golang.org/x/sys/unix.*"}},
}

const (
	catSenders   = "the load's senders and sinks: their UDP and TCP stacks, system calls and user code"
	catSyscall   = "ulvsd's system call entry and exit"
	catGoRuntime = "Go runtime (other: GC, allocation, memmove)"
	catOther     = "other (kernel and user)"
	catNotLab    = "processes outside the lab (other work on the shared machine)"
	catPerf      = "perf itself"
)

var idleLeaves = []string{"pvm_safe_halt*", "*safe_halt", "default_idle*", "cpuidle*", "mwait_idle*", "poll_idle", "native_safe_halt", "acpi_idle*",
	"intel_idle*", "pv_native_safe_halt", "arch_cpu_idle*", "default_enter_idle", "do_idle", "cpu_idle_poll*", "halt"}

// labComms are the processes of the lab (and the kernel threads that do
// its softirq work).
var labComms = []string{"lbbench", "trafgen", "ulvsd", "nginx", "haproxy", "wrk", "iperf3", "swapper", "ksoftirqd",
	"kworker", "migration", "rcu_*"}

// irqEnable are the leaves where a guest's timer samples land when the
// interrupt came while interrupts were off (a PVM or paravirtual guest
// defers it to the point that enables them): the sample belongs to the
// caller, so classification skips them.
var irqEnable = []string{"pvm_irq_enable", "pvm_restore_fl", "native_irq_enable", "arch_local_irq_enable",
	"_raw_spin_unlock_irqrestore", "_raw_spin_unlock_irq", "_raw_spin_unlock_bh", "__local_bh_enable_ip"}

func matches(sym string, pats []string) bool {
	for _, p := range pats {
		if suf, ok := strings.CutPrefix(p, "*"); ok {
			if strings.HasSuffix(sym, suf) {
				return true
			}
		} else if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(sym, pre) {
				return true
			}
		} else if sym == p {
			return true
		}
	}
	return false
}

// classify returns the category of a stack (frames leaf first).
func classify(comm string, frames []string) string {
	if comm == "perf" || strings.HasPrefix(comm, "perf-") {
		return catPerf
	}
	base := comm
	if i := strings.IndexByte(base, '/'); i > 0 {
		base = base[:i]
	}
	// Go's threads carry the binary's name as their comm.
	if !matches(base, labComms) {
		return catNotLab
	}
	runtime := false
	for i, f := range frames {
		if i == 0 && matches(f, irqEnable) {
			continue
		}
		for _, c := range categories {
			if matches(f, c.patterns) {
				if c.name == catSyscall && base != "ulvsd" {
					return catSenders
				}
				return c.name
			}
		}
		if strings.HasPrefix(f, "runtime.") {
			runtime = true
		}
	}
	if runtime {
		return catGoRuntime
	}
	return catOther
}

func loadProfile(path string) (*profile, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".data")
	p := &profile{name: name, stacks: map[string]int{}, byCat: map[string]int{}}
	if b, err := os.ReadFile(strings.TrimSuffix(path, ".data") + ".json"); err == nil {
		if err := json.Unmarshal(b, &p.meta); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if p.meta.PeriodNs == 0 {
		p.meta.PeriodNs = samplePeriod
	}
	v := p.meta.Values
	switch {
	case v["udp_delivered_pps"] > 0:
		p.packets = v["udp_delivered_pps"] * p.meta.Seconds
	case v["offered_pps"] > 0:
		p.packets = v["offered_pps"] * p.meta.Seconds
	case v["close_rps"] > 0:
		// wrk: per request (a short connection's whole exchange).
		p.packets = v["close_rps"] * p.meta.Seconds
	case v["keepalive_rps"] > 0:
		p.packets = v["keepalive_rps"] * p.meta.Seconds
	}
	cmd := exec.Command("perf", "script", "-i", path, "-F", "comm,tid,ip,sym", "--no-demangle")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf script: %w", err)
	}
	if err := p.fold(outp); err != nil {
		_ = cmd.Wait()
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("perf script -i %s: %w: %s", path, err, stderr.String())
	}
	return p, nil
}

// fold reads `perf script -F comm,tid,ip,sym` output: a header line per
// sample ("comm tid"), then one indented line per frame, leaf first
// ("addr sym (dso)" or "addr sym+off"), and a blank line.
func (p *profile) fold(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var comm string
	var frames []string
	flush := func() {
		if comm == "" {
			return
		}
		p.total++
		if len(frames) > 0 && matches(frames[0], idleLeaves) || len(frames) > 1 && matches(frames[0], irqEnable) && matches(frames[1], idleLeaves) {
			p.idle++
		} else {
			c := classify(comm, frames)
			p.byCat[c]++
			if c == catNotLab || c == catPerf {
				// Counted, not drawn: other work on the shared machine.
				comm, frames = "", frames[:0]
				return
			}
			base := comm
			if i := strings.IndexByte(base, '/'); i > 0 {
				base = base[:i]
			}
			var b strings.Builder
			b.WriteString(base)
			for i := len(frames) - 1; i >= 0; i-- {
				b.WriteByte(';')
				b.WriteString(frames[i])
			}
			p.stacks[b.String()]++
		}
		comm, frames = "", frames[:0]
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			flush()
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			// comm may hold spaces; the tid is the last field.
			comm = strings.Join(f[:max(len(f)-1, 1)], " ")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		sym := f[1]
		if i := strings.LastIndex(sym, "+0x"); i > 0 {
			sym = sym[:i]
		}
		frames = append(frames, strings.ReplaceAll(sym, ";", ":"))
	}
	flush()
	return sc.Err()
}

// nsPerPacket is a category's CPU per forwarded packet.
func (p *profile) nsPerPacket(samples int) float64 {
	if p.packets <= 0 {
		return 0
	}
	return float64(samples) * float64(p.meta.PeriodNs) / p.packets
}

func profileTable(title, out string, profs []*profile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	b.WriteString("Each column is one `perf record -a -g -e cpu-clock` of the whole machine while one load ran through one scenario; " +
		"a cell is the CPU time of the samples in that category divided by the packets the real servers received (the UDP flood) " +
		"or the datagrams offered (the paced 50,000/s CPU-per-packet load), in ns per packet — for the wrk loads, per request answered. A sample's category is that of the " +
		"first frame, from the leaf up, that a category names (its own CPU, where the time went). Idle is left out.\n\n")
	b.WriteString("| category |")
	for _, p := range profs {
		fmt.Fprintf(&b, " %s |", p.name)
	}
	b.WriteString("\n|---|")
	for range profs {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	names := []string{}
	for _, c := range categories {
		names = append(names, c.name)
	}
	names = append(names, catGoRuntime, catOther, catPerf, catNotLab)
	for _, n := range names {
		fmt.Fprintf(&b, "| %s |", n)
		for _, p := range profs {
			fmt.Fprintf(&b, " %.0f |", p.nsPerPacket(p.byCat[n]))
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total of the lab (without idle, perf and outside processes)** |")
	for _, p := range profs {
		s := 0
		for c, n := range p.byCat {
			if c != catNotLab && c != catPerf {
				s += n
			}
		}
		fmt.Fprintf(&b, " **%.0f** |", p.nsPerPacket(s))
	}
	b.WriteString("\n| packets (wrk: requests) counted |")
	for _, p := range profs {
		fmt.Fprintf(&b, " %.0f |", p.packets)
	}
	b.WriteString("\n| samples (idle) |")
	for _, p := range profs {
		fmt.Fprintf(&b, " %d (%d) |", p.total, p.idle)
	}
	b.WriteString("\n\nFlame graphs (the lab's processes only; hover a frame for its samples): ")
	var links []string
	for _, p := range profs {
		links = append(links, fmt.Sprintf("[%s](%s-%s.svg)", p.name, filepath.Base(out), p.name))
	}
	b.WriteString(strings.Join(links, ", ") + ".\n")
	if len(profs) > 0 && profs[0].meta.Command != "" {
		fmt.Fprintf(&b, "\nRecorded with `%s`.\n", profs[0].meta.Command)
	}
	return b.String()
}

// node is a frame of the flame graph.
type node struct {
	name     string
	samples  int
	children map[string]*node
}

func (p *profile) tree() *node {
	root := &node{name: "all", children: map[string]*node{}}
	for s, n := range p.stacks {
		cur := root
		cur.samples += n
		for _, f := range strings.Split(s, ";") {
			c := cur.children[f]
			if c == nil {
				c = &node{name: f, children: map[string]*node{}}
				cur.children[f] = c
			}
			c.samples += n
			cur = c
		}
	}
	return root
}

// flameSVG draws the profile as a flame graph: the root at the bottom,
// callees above their callers, widths proportional to samples.
func (p *profile) flameSVG() string {
	root := p.tree()
	const (
		width, frameH, pad, top = 1200.0, 16.0, 10.0, 50.0
	)
	minSamples := max(1, root.samples/1500) // frames under ~0.8 px are left out
	depth := 0
	var measure func(n *node, d int)
	measure = func(n *node, d int) {
		depth = max(depth, d)
		for _, c := range n.children {
			if c.samples >= minSamples {
				measure(c, d+1)
			}
		}
	}
	measure(root, 0)
	height := top + float64(depth+1)*frameH + 2*pad
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="monospace" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#f8f8f0"/>`+"\n")
	ms := float64(root.samples) * float64(p.meta.PeriodNs) / 1e6
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="15">%s</text>`+"\n", pad, html.EscapeString(p.name))
	fmt.Fprintf(&b, `<text x="%.0f" y="38">%d samples, %.0f ms of CPU (the lab only: idle, perf and other processes left out); %s</text>`+"\n", pad, root.samples, ms,
		html.EscapeString(fmt.Sprintf("%.0f packets", p.packets)))
	scale := (width - 2*pad) / float64(max(root.samples, 1))
	var draw func(n *node, x float64, d int)
	draw = func(n *node, x float64, d int) {
		w := float64(n.samples) * scale
		y := height - pad - float64(d+1)*frameH
		col := frameColour(n.name)
		share := 100 * float64(n.samples) / float64(max(root.samples, 1))
		fmt.Fprintf(&b, `<g><title>%s (%d samples, %.2f%%)</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.0f" fill="%s" rx="2"/>`,
			html.EscapeString(n.name), n.samples, share, x, y, w, frameH-1, col)
		if chars := int((w - 4) / 6.6); chars >= 3 {
			label := n.name
			if len(label) > chars {
				label = label[:max(chars-2, 1)] + ".."
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, x+2, y+frameH-4, html.EscapeString(label))
		}
		b.WriteString("</g>\n")
		kids := make([]*node, 0, len(n.children))
		for _, c := range n.children {
			if c.samples >= minSamples {
				kids = append(kids, c)
			}
		}
		sort.Slice(kids, func(i, j int) bool { return kids[i].name < kids[j].name })
		cx := x
		for _, c := range kids {
			draw(c, cx, d+1)
			cx += float64(c.samples) * scale
		}
	}
	draw(root, pad, 0)
	b.WriteString("</svg>\n")
	return b.String()
}

// frameColour colours a frame by what it is: ulvs's Go code green, the Go
// runtime aqua, the kernel's networking warm, the rest grey-yellow.
func frameColour(name string) string {
	h := 0
	for _, c := range name {
		h = h*31 + int(c)
	}
	v := h & 0x3f
	switch {
	case strings.HasPrefix(name, "github.com/ulvs/"):
		return fmt.Sprintf("rgb(%d,%d,%d)", 80+v/2, 190+v/2, 80)
	case strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/") || strings.HasPrefix(name, "syscall."):
		return fmt.Sprintf("rgb(%d,%d,%d)", 90, 180+v/2, 200+v/2)
	case slices.ContainsFunc(categories[:7], func(c category) bool { return matches(name, c.patterns) }):
		return fmt.Sprintf("rgb(%d,%d,%d)", 220+v/2, 90+v, 50)
	}
	return fmt.Sprintf("rgb(%d,%d,%d)", 200+v/2, 180+v/2, 90)
}
