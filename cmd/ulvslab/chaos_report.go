package main

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// report writes the run's timeline (timeline.txt, timeline.svg) and its
// counts (summary.md, summary.json) under outDir.
func (c *chaos) report(args []string) error {
	if c.start.IsZero() {
		return nil
	}
	if c.end.IsZero() {
		c.end = time.Now()
	}
	if err := os.MkdirAll(c.outDir, 0o755); err != nil {
		return err
	}
	cmd := "ulvslab chaos " + strings.Join(args, " ")
	if !strings.Contains(cmd, "--seed") {
		cmd += fmt.Sprintf(" --seed %d", c.seed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int(c.end.Sub(c.start)/time.Second) + 1
	var names []string
	for _, w := range c.dirs {
		names = append(names, w.d.Name)
	}
	// timeline.txt: one line a second, then the events.
	var t strings.Builder
	fmt.Fprintf(&t, "# %s\n# started %s; one line a second: VIP owner, requests answered/failed, downloads running,\n",
		cmd, c.start.UTC().Format(time.RFC3339))
	fmt.Fprintf(&t, "# the machine's CPU busy and the directors' ulvsd and the observer's share (percent of all CPUs),\n")
	fmt.Fprintf(&t, "# then per director RSS (MiB), descriptors, goroutines; events at the second they began.\n")
	fmt.Fprintf(&t, "%6s  %-10s %5s %5s %3s %4s %4s", "t", "vip", "ok", "fail", "dl", "cpu%", "lab%")
	for _, nm := range names {
		fmt.Fprintf(&t, "  %-22s", nm+" rss/fd/gor")
	}
	t.WriteString("  events\n")
	owner := "none"
	for i := range n {
		s := c.secs[i]
		if s == nil {
			s = &second{CPU: -1, Lab: -1}
		}
		if s.Owner != "" {
			owner = s.Owner
		}
		at := c.start.Add(time.Duration(i) * time.Second)
		dl := 0
		for _, d := range c.dls {
			if d.Start.Before(at.Add(time.Second)) && d.End.After(at) {
				dl++
			}
		}
		fmt.Fprintf(&t, "%5ds  %-10s %5d %5d %3d %4s %4s", i, owner, s.OK, s.Failed, dl, pct(s.CPU), pct(s.Lab))
		for _, nm := range names {
			if s.RSS[nm] == 0 {
				fmt.Fprintf(&t, "  %-22s", "-")
				continue
			}
			fmt.Fprintf(&t, "  %-22s", fmt.Sprintf("%.1f/%d/%d", float64(s.RSS[nm])/1024, s.FDs[nm], s.Routines[nm]))
		}
		var evs []string
		for _, e := range c.events {
			if int(e.At.Sub(c.start)/time.Second) == i {
				evs = append(evs, e.Kind+" "+e.Target)
			}
		}
		t.WriteString("  " + strings.Join(evs, "; ") + "\n")
	}
	if len(c.stalls) > 0 {
		t.WriteString("\n# the observer did not run (the machine's CPU taken by other work)\n")
		for _, st := range c.stalls {
			fmt.Fprintf(&t, "%7.1fs..%6.1fs\n", st.From.Sub(c.start).Seconds(), st.To.Sub(c.start).Seconds())
		}
	}
	t.WriteString("\n# events\n")
	for _, e := range c.events {
		fmt.Fprintf(&t, "%7.1fs..%6.1fs  %-13s %-10s %s\n", e.At.Sub(c.start).Seconds(), e.End.Sub(c.start).Seconds(), e.Kind, e.Target, e.Text)
	}
	if err := os.WriteFile(filepath.Join(c.outDir, "timeline.txt"), []byte(t.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.outDir, "timeline.svg"), []byte(c.svgLocked(n, names)), 0o644); err != nil {
		return err
	}
	// summary.md and summary.json.
	type sum struct {
		Command    string         `json:"command"`
		Seed       uint64         `json:"seed"`
		Started    time.Time      `json:"started"`
		Seconds    float64        `json:"seconds"`
		Counts     map[string]int `json:"counts"`
		Phases     []phaseResult  `json:"phases"`
		Violations []string       `json:"violations"`
	}
	c.counts["requests answered"], c.counts["requests failed"] = 0, 0
	for _, s := range c.secs {
		c.counts["requests answered"] += s.OK
		c.counts["requests failed"] += s.Failed
	}
	js, _ := json.MarshalIndent(sum{cmd, c.seed, c.start.UTC(), c.end.Sub(c.start).Seconds(), c.counts, c.phases, c.violations}, "", "  ")
	if err := os.WriteFile(filepath.Join(c.outDir, "summary.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var m strings.Builder
	verdict := "every invariant held"
	if len(c.violations) > 0 {
		verdict = fmt.Sprintf("%d invariant(s) broken", len(c.violations))
	}
	fmt.Fprintf(&m, "# Chaos run %s: %s\n\n", c.start.UTC().Format("2006-01-02 15:04Z"), verdict)
	fmt.Fprintf(&m, "Command (as root, from the repository): `%s` (%.0f s). Timeline: [timeline.txt](timeline.txt), [timeline.svg](timeline.svg).\n\n",
		cmd, c.end.Sub(c.start).Seconds())
	m.WriteString("Invariants: never two masters for more than " + chaosDual.String() + ", never no master for more than " +
		chaosFailover.String() + "; no download broken across a reload storm or a graceful failover; no request failed outside the window a disruptive act opens; " +
		"after each phase every director's RSS, descriptors and goroutines within their baseline + " +
		fmt.Sprintf("%d MiB, %d, %d; no panic in any log.\n\n", rssMarginKiB>>10, fdMargin, routineMargin))
	m.WriteString("| phase | from | to | resources after (baseline→now) | broken |\n|---|---|---|---|---|\n")
	for _, p := range c.phases {
		fmt.Fprintf(&m, "| %s | %.0f s | %.0f s | %s | %d |\n", p.Name, p.From.Sub(c.start).Seconds(), p.To.Sub(c.start).Seconds(),
			p.Resources, p.Violations)
	}
	m.WriteString("\n| count | value |\n|---|---|\n")
	keys := make([]string, 0, len(c.counts))
	for k := range c.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&m, "| %s | %d |\n", k, c.counts[k])
	}
	if len(c.violations) > 0 {
		m.WriteString("\n## Broken\n\n")
		for _, v := range c.violations {
			m.WriteString("- " + v + "\n")
		}
	}
	return os.WriteFile(filepath.Join(c.outDir, "summary.md"), []byte(m.String()), 0o644)
}

// svgLocked draws the timeline: who holds the VIP, requests answered and
// failed a second, each download, and each director's RSS, with the
// events marked.
func (c *chaos) svgLocked(n int, names []string) string {
	const W, left, right = 1400, 70, 20
	pw := float64(W - left - right)
	x := func(sec float64) float64 { return left + pw*sec/float64(max(n, 1)) }
	colors := map[string]string{"none": "#bbbbbb", "both": "#d62728"}
	palette := []string{"#1f77b4", "#2ca02c", "#9467bd"}
	for i, nm := range names {
		colors[nm] = palette[i%len(palette)]
	}
	var b strings.Builder
	panels := []struct {
		title string
		y, h  float64
	}{{"VIP owner", 30, 40}, {"requests / s (green: answered, red: failed)", 100, 140}, {"downloads of /big (green: whole, red: broken)", 270, 90}, {"RSS (MiB)", 390, 140}}
	H := 660
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	for _, p := range panels {
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", left, p.y-6, html.EscapeString(p.title))
		fmt.Fprintf(&b, `<rect x="%d" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`+"\n", left, p.y, pw, p.h)
	}
	// Events: a dashed line through the panels, the label below them.
	for _, e := range c.events {
		ex := x(e.At.Sub(c.start).Seconds())
		fmt.Fprintf(&b, `<line x1="%.1f" y1="25" x2="%.1f" y2="552" stroke="#999" stroke-dasharray="2,3"/>`+"\n", ex, ex)
		fmt.Fprintf(&b, `<text x="%.1f" y="556" font-size="9" transform="rotate(90 %.1f 556)">%s</text>`+"\n", ex, ex,
			html.EscapeString(e.Kind+" "+e.Target))
	}
	// VIP owner band.
	owner := "none"
	for i := range n {
		if s := c.secs[i]; s != nil && s.Owner != "" {
			owner = s.Owner
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="30" width="%.2f" height="40" fill="%s"/>`+"\n", x(float64(i)), pw/float64(n)+0.5, colors[owner])
	}
	lx := float64(left) + 150
	for _, k := range append(slices.Clone(names), "none", "both") {
		fmt.Fprintf(&b, `<rect x="%.0f" y="12" width="10" height="10" fill="%s"/><text x="%.0f" y="21">%s</text>`+"\n", lx, colors[k], lx+14, k)
		lx += 90
	}
	// Requests a second.
	maxReq := 25.0
	for i := range n {
		s := c.secs[i]
		if s == nil {
			continue
		}
		maxReq = max(maxReq, float64(s.OK+s.Failed))
	}
	yReq := func(v float64) float64 { return 100 + 140 - 140*v/maxReq }
	var pts []string
	for i := range n {
		ok := 0
		if s := c.secs[i]; s != nil {
			ok = s.OK
			if s.Failed > 0 {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.2f" height="%.1f" fill="#d62728"/>`+"\n", x(float64(i)), yReq(float64(s.Failed)),
					max(pw/float64(n), 1.5), 240-yReq(float64(s.Failed)))
			}
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(i)+0.5), yReq(float64(ok))))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#2ca02c" stroke-width="1.2"/>`+"\n", strings.Join(pts, " "))
	fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%.0f</text><text x="%d" y="240" text-anchor="end">0</text>`+"\n", left-4, yReq(maxReq)+10, maxReq, left-4)
	// Downloads: one lane each, cycling over 8 lanes.
	dls := slices.Clone(c.dls)
	sort.Slice(dls, func(i, j int) bool { return dls[i].Start.Before(dls[j].Start) })
	for i, d := range dls {
		col := "#2ca02c"
		if d.Err != "" {
			col = "#d62728"
		}
		y := 272 + float64(i%8)*11
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="8" fill="%s"/>`+"\n", x(d.Start.Sub(c.start).Seconds()), y,
			max(x(d.End.Sub(c.start).Seconds())-x(d.Start.Sub(c.start).Seconds()), 1), col)
	}
	// RSS per director.
	maxRSS := 1.0
	for _, s := range c.secs {
		for _, v := range s.RSS {
			maxRSS = max(maxRSS, float64(v)/1024)
		}
	}
	maxRSS *= 1.1
	yRSS := func(v float64) float64 { return 390 + 140 - 140*v/maxRSS }
	for _, nm := range names {
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(seg, " "), colors[nm])
			}
			seg = nil
		}
		for i := range n {
			s := c.secs[i]
			if s == nil || s.RSS[nm] == 0 {
				flush()
				continue
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x(float64(i)+0.5), yRSS(float64(s.RSS[nm])/1024)))
		}
		flush()
	}
	fmt.Fprintf(&b, `<text x="%d" y="400" text-anchor="end">%.0f</text><text x="%d" y="530" text-anchor="end">0</text>`+"\n", left-4, maxRSS, left-4)
	// Time axis.
	step := 60
	if n < 200 {
		step = 10
	}
	for s := 0; s <= n; s += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="545" text-anchor="middle">%ds</text>`+"\n", x(float64(s)), s)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// pct prints a percentage, "-" when it was not read.
func pct(n int) string {
	if n < 0 {
		return "-"
	}
	return strconv.Itoa(n)
}
