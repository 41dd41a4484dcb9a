package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/ulvs/ulvs/sched"
)

// jsonReport is the --json document.
type jsonReport struct {
	Scheduler      string         `json:"scheduler"`
	Flags          string         `json:"flags,omitempty"`
	VIP            string         `json:"vip"`
	Connections    int            `json:"connections"`
	Unscheduled    int            `json:"unscheduled"`
	SimulatedSec   float64        `json:"simulated_s"`
	Servers        []jsonServer   `json:"servers"`
	LoadRatio      *float64       `json:"load_ratio"`
	Jain           *float64       `json:"jain_index"`
	Remaps         []remap        `json:"remaps,omitempty"`
	DecisionsPerS  float64        `json:"decisions_per_s"`
	RunWallSeconds float64        `json:"run_wall_s"`
	Timeline       []sample       `json:"timeline"`
	KernelOrder    []string       `json:"kernel_order"`
	Config         map[string]any `json:"config"`
}

type jsonServer struct {
	Addr        string  `json:"addr"`
	Weight      int32   `json:"weight"`
	Removed     bool    `json:"removed,omitempty"`
	Conns       int     `json:"conns"`
	Share       float64 `json:"share"`
	WeightShare float64 `json:"weight_share"`
	Active      int32   `json:"active"`
	Inactive    int32   `json:"inactive"`
	Peak        int32   `json:"peak_active"`
}

// shares returns each server's share of the scheduled connections and of
// the final weights (removed servers weigh 0).
func (r *simResult) shares() (conn, weight []float64) {
	var wsum float64
	for _, st := range r.servers {
		if !st.gone {
			wsum += float64(st.weight)
		}
	}
	sched := r.total - r.none
	for _, st := range r.servers {
		var c, w float64
		if sched > 0 {
			c = float64(st.conns) / float64(sched)
		}
		if wsum > 0 && !st.gone {
			w = float64(st.weight) / wsum
		}
		conn, weight = append(conn, c), append(weight, w)
	}
	return conn, weight
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func writeJSON(w io.Writer, c *simConfig, r *simResult) error {
	cs, ws := r.shares()
	doc := jsonReport{
		Scheduler: c.sched, Flags: sched.FlagString(c.sched, c.flags), VIP: c.vip.String(),
		Connections: r.total, Unscheduled: r.none, SimulatedSec: r.end.Seconds(),
		LoadRatio: finite(loadRatio(r.loads())), Jain: finite(jain(r.loads())),
		Remaps: r.remaps, DecisionsPerS: math.Round(r.decisions), RunWallSeconds: r.elapsed.Seconds(),
		Timeline: r.timeline,
		Config: map[string]any{
			"arrival": c.arrival, "rate": c.rate, "duration": c.duration.String(),
			"fin_wait_s": c.finWait.Seconds(), "seed": c.seed, "pcap": c.pcap,
		},
	}
	for i, st := range r.servers {
		doc.Servers = append(doc.Servers, jsonServer{
			Addr: st.addr.String(), Weight: st.weight, Removed: st.gone, Conns: st.conns,
			Share: cs[i], WeightShare: ws[i], Active: st.dest.ActiveConns(),
			Inactive: st.dest.InactiveConns(), Peak: st.peak,
		})
	}
	for _, d := range r.svc.Dests() {
		doc.KernelOrder = append(doc.KernelOrder, d.String())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func writeReport(w io.Writer, c *simConfig, r *simResult) error {
	cs, ws := r.shares()
	fl := ""
	if c.flags != 0 {
		fl = " (" + sched.FlagString(c.sched, c.flags) + ")"
	}
	fmt.Fprintf(w, "scheduler %s%s, %d connections to %s over %.3fs simulated, %d unscheduled\n\n",
		c.sched, fl, r.total, c.vip, r.end.Seconds(), r.none)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "real server\tweight\tconns\tshare\tweight share\tactive\tinactive\tpeak\t")
	for i, st := range r.servers {
		wt := fmt.Sprint(st.weight)
		if st.gone {
			wt = "removed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f%%\t%.2f%%\t%d\t%d\t%d\t\n", st.addr, wt, st.conns,
			100*cs[i], 100*ws[i], st.dest.ActiveConns(), st.dest.InactiveConns(), st.peak)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	x := r.loads()
	fmt.Fprintf(w, "\nload per weight (conns/weight): max/min %s, Jain's fairness index %s\n",
		fmtNum(loadRatio(x), "%.3f"), fmtNum(jain(x), "%.4f"))
	for _, rm := range r.remaps {
		fmt.Fprintf(w, "before connection %d, %s: %d of %d flows remapped (%.2f%%)\n",
			rm.Step, rm.Event, rm.Remapped, rm.Flows, 100*rm.Fraction)
	}
	_, err := fmt.Fprintf(w, "decisions: %.0f per second (Pick alone, one goroutine)\n", r.decisions)
	return err
}

func fmtNum(v float64, f string) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsNaN(v):
		return "n/a"
	}
	return fmt.Sprintf(f, v)
}
