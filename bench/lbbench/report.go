package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Results is what one `make bench` run records: bench/results/<date>.json.
type Results struct {
	Date    string   `json:"date"`
	Command string   `json:"command"`
	Machine Machine  `json:"machine"`
	Config  Config   `json:"config"`
	Order   []string `json:"scenarios"`
	// Metrics by name: each scenario's value in every round, its median,
	// spread and ratio to the direct scenario's median.
	Metrics map[string]*Metric `json:"metrics"`
	// Errors are the loads that failed, "round scenario load: error".
	Errors []string `json:"errors,omitempty"`
	Micro  []Micro  `json:"micro,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

// Config is how the run was made.
type Config struct {
	Rounds   int    `json:"rounds"`
	Duration string `json:"duration"`
	WrkConns int    `json:"wrk_connections"`
	CostPPS  int    `json:"cost_pps"`
	CostCPS  int    `json:"cost_cps"`
}

// Metric is one measured quantity across scenarios.
type Metric struct {
	metricInfo
	Rounds map[string][]float64 `json:"rounds"`
	Median map[string]float64   `json:"median"`
	Min    map[string]float64   `json:"min"`
	Max    map[string]float64   `json:"max"`
	// RoundOf is the round each of Rounds' values was measured in (a
	// failed measurement leaves a round out). Absent in results written
	// before it: then the values are rounds 1, 2, ...
	RoundOf map[string][]int `json:"round_of,omitempty"`
	// Ratio is median / direct's median (higher is better for both
	// directions of metrics: for lower-is-better ones it is direct /
	// median). Absent for the CPU costs, which are already relative.
	Ratio map[string]float64 `json:"ratio_to_direct,omitempty"`
	// Peer compares each ulvs scenario with the kernel's own balancer of
	// the same method (peerOf) round by round.
	Peer map[string]*PeerRatio `json:"ratio_to_peer,omitempty"`
}

// PeerRatio is a scenario against its peer in the rounds both were
// measured in: each round's ratio, above 1 when the scenario did better
// (for a lower-is-better metric, peer / scenario), and their median and
// spread. Issue 16's goals are ratios of this kind; pairing within a round
// keeps the machine's drift between rounds out of them.
type PeerRatio struct {
	Peer   string    `json:"peer"`
	Rounds []float64 `json:"rounds"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

// peerOf names the scenario a ulvs scenario is judged against: the kernel's
// own balancer of the same method in the same place — nftables DR or NAT on
// the host, kernel IPVS in the guest — when the run has it.
func peerOf(s string, order []string) string {
	f := strings.Fields(s)
	if len(f) < 2 || f[0] != "ulvs" {
		return ""
	}
	peer := "nft " + f[1]
	if strings.HasSuffix(s, "(VM)") {
		peer = "IPVS " + f[1] + " (VM)"
	}
	if !slices.Contains(order, peer) {
		return ""
	}
	return peer
}

// byRound returns a scenario's values by the round they were measured in.
func (m *Metric) byRound(s string) map[int]float64 {
	out := map[int]float64{}
	for i, v := range m.Rounds[s] {
		r := i + 1
		if ro := m.RoundOf[s]; i < len(ro) {
			r = ro[i]
		}
		out[r] = v
	}
	return out
}

// peerRatio pairs s with peer round by round; nil when no round has both
// (or a value the ratio cannot divide by).
func (m *Metric) peerRatio(s, peer string) *PeerRatio {
	mine, theirs := m.byRound(s), m.byRound(peer)
	pr := &PeerRatio{Peer: peer}
	for _, r := range slices.Sorted(maps.Keys(mine)) {
		v, ok := theirs[r]
		num, den := mine[r], v
		if !m.Higher {
			num, den = v, mine[r]
		}
		if !ok || den <= 0 || num < 0 {
			continue
		}
		pr.Rounds = append(pr.Rounds, num/den)
	}
	if len(pr.Rounds) == 0 {
		return nil
	}
	pr.Median, pr.Min, pr.Max = median(pr.Rounds), slices.Min(pr.Rounds), slices.Max(pr.Rounds)
	return pr
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summarize fills medians, spreads and ratios.
func (r *Results) summarize() {
	for name, m := range r.Metrics {
		m.Median, m.Min, m.Max = map[string]float64{}, map[string]float64{}, map[string]float64{}
		m.Peer = nil
		for s, v := range m.Rounds {
			if len(v) == 0 {
				continue
			}
			m.Median[s], m.Min[s], m.Max[s] = median(v), slices.Min(v), slices.Max(v)
			if peer := peerOf(s, r.Order); peer != "" && name != "udp_loss_pct" {
				if pr := m.peerRatio(s, peer); pr != nil {
					if m.Peer == nil {
						m.Peer = map[string]*PeerRatio{}
					}
					m.Peer[s] = pr
				}
			}
		}
		if strings.HasPrefix(name, "cpu_") {
			continue
		}
		d, ok := m.Median["direct"]
		if !ok || d == 0 {
			continue
		}
		m.Ratio = map[string]float64{}
		for s, v := range m.Median {
			switch {
			case m.Higher:
				m.Ratio[s] = v / d
			case v > 0:
				m.Ratio[s] = d / v
			}
		}
	}
}

func (r *Results) write(base string) error {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".md", []byte(r.markdown(filepath.Base(base))), 0o644); err != nil {
		return err
	}
	for _, name := range metricOrder {
		m := r.Metrics[name]
		if m == nil || len(m.Median) == 0 {
			continue
		}
		svg := barChart(name, m, r.Order)
		if err := os.WriteFile(base+"-"+name+".svg", []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func fmtVal(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// markdown renders the table the README quotes: one row per scenario, one
// column per metric, "median (min–max) ×ratio".
func (r *Results) markdown(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ulvs benchmark, %s\n\n", r.Date)
	fmt.Fprintf(&b, "Command: `%s`  \n", r.Command)
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, kernel %s, %s; load average %s at the start, %s at the end.  \n",
		r.Machine.CPU, r.Machine.CPUs, r.Machine.Kernel, r.Machine.Go, r.Machine.LoadStart, r.Machine.LoadEnd)
	fmt.Fprintf(&b, "Rounds: %d, interleaved (every scenario once per round, in the order of the table); %s per measurement; "+
		"wrk with 2 threads and %d connections; CPU costs at %d datagrams/s and %d connections/s.\n\n",
		r.Config.Rounds, r.Config.Duration, r.Config.WrkConns, r.Config.CostPPS, r.Config.CostCPS)
	b.WriteString("Each cell: median (min–max over the rounds) and, in brackets, the ratio to direct (above 1 is better than direct).\n\n")
	var cols []string
	for _, name := range metricOrder {
		if m := r.Metrics[name]; m != nil && len(m.Median) > 0 {
			cols = append(cols, name)
		}
	}
	b.WriteString("| scenario |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s (%s) |", c, r.Metrics[c].Unit)
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range r.Order {
		fmt.Fprintf(&b, "| %s |", s)
		for _, c := range cols {
			m := r.Metrics[c]
			v, ok := m.Median[s]
			if !ok {
				b.WriteString(" n/a |")
				continue
			}
			fmt.Fprintf(&b, " %s (%s–%s)", fmtVal(v), fmtVal(m.Min[s]), fmtVal(m.Max[s]))
			if rt, ok := m.Ratio[s]; ok && s != "direct" {
				fmt.Fprintf(&b, " [%.2f]", rt)
			}
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	r.peerTable(&b, cols)
	b.WriteString("\nCharts: ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "[%s](%s-%s.svg)", c, base, c)
	}
	b.WriteString(".\n")
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nFailed measurements:\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(e, "\n", " "))
		}
	}
	if len(r.Micro) > 0 {
		b.WriteString("\n## Micro-benchmarks\n\n| package | benchmark | ns/op | B/op | allocs/op | other |\n|---|---|---|---|---|---|\n")
		for _, m := range r.Micro {
			var other []string
			for _, k := range sortedKeys(m.Other) {
				other = append(other, fmt.Sprintf("%s %s", fmtVal(m.Other[k]), k))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", strings.TrimPrefix(m.Pkg, "github.com/ulvs/ulvs/"), m.Name,
				fmtVal(m.NsPerOp), fmtVal(m.BytesPerOp),
				fmtVal(m.AllocsPerOp), strings.Join(other, ", "))
		}
	}
	return b.String()
}

// peerTable renders each ulvs scenario against its peer (PeerRatio), when
// the run has any.
func (r *Results) peerTable(b *strings.Builder, cols []string) {
	var pcols []string
	for _, c := range cols {
		if len(r.Metrics[c].Peer) > 0 {
			pcols = append(pcols, c)
		}
	}
	if len(pcols) == 0 {
		return
	}
	b.WriteString("\nAgainst the kernel's own balancer of the same method, round by round: each round's ratio (above 1 is better " +
		"than the peer; for a cost or a latency, peer / scenario), the median of those ratios and their min–max.\n\n| scenario | peer |")
	for _, c := range pcols {
		fmt.Fprintf(b, " %s |", c)
	}
	b.WriteString("\n|---|---|")
	for range pcols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range r.Order {
		peer := peerOf(s, r.Order)
		if peer == "" {
			continue
		}
		fmt.Fprintf(b, "| %s | %s |", s, peer)
		for _, c := range pcols {
			if pr := r.Metrics[c].Peer[s]; pr != nil {
				fmt.Fprintf(b, " %.2f (%.2f–%.2f) |", pr.Median, pr.Min, pr.Max)
			} else {
				b.WriteString(" n/a |")
			}
		}
		b.WriteString("\n")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}
