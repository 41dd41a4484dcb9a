package main

import (
	"bufio"
	"fmt"
	"html"
	"os"
)

// palette is a colour-blind-safe set (Okabe-Ito), cycled.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"}

// writeSVG draws active connections per real server over simulated time.
func writeSVG(path string, c *simConfig, r *simResult) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--svg: %w", err)
	}
	w := bufio.NewWriter(f)
	const (
		width, height          = 860, 420
		left, right, top, foot = 70, 200, 40, 50
	)
	pw, ph := float64(width-left-right), float64(height-top-foot)
	var tmax float64
	var ymax int32 = 1
	for _, s := range r.timeline {
		tmax = max(tmax, s.Time)
		for _, v := range s.Active {
			ymax = max(ymax, v)
		}
	}
	xAt := func(s sample) float64 {
		if tmax == 0 {
			return left + pw*float64(s.Step)/float64(max(1, r.total))
		}
		return left + pw*s.Time/tmax
	}
	yAt := func(v int32) float64 { return top + ph*(1-float64(v)/float64(ymax)) }
	label := "active connections"
	if c.proto == 17 {
		label = "connections (UDP: inactive)"
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="22" font-size="15">%s</text>`+"\n", left,
		html.EscapeString(fmt.Sprintf("ulvsadm simulate -s %s: %s per real server, %d connections", c.sched, label, r.total)))
	// Axes and ticks.
	fmt.Fprintf(w, `<path d="M%d %d V%d H%d" stroke="black" fill="none"/>`+"\n", left, top, height-foot, width-right)
	for i := 0; i <= 4; i++ {
		v := ymax * int32(i) / 4
		y := yAt(v)
		fmt.Fprintf(w, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%d</text>`+"\n",
			left, width-right, y, y, left-6, y+4, v)
		var xv string
		if tmax > 0 {
			xv = fmt.Sprintf("%.3gs", tmax*float64(i)/4)
		} else {
			xv = fmt.Sprint(r.total * i / 4)
		}
		x := float64(left) + pw*float64(i)/4
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, height-foot+18, xv)
	}
	xl := "simulated time"
	if tmax == 0 {
		xl = "connection"
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(left)+pw/2, height-12, xl)
	fmt.Fprintf(w, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", float64(top)+ph/2, label)
	for i, st := range r.servers {
		col := palette[i%len(palette)]
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, col)
		for _, s := range r.timeline {
			if i < len(s.Active) {
				fmt.Fprintf(w, "%.1f,%.1f ", xAt(s), yAt(s.Active[i]))
			}
		}
		fmt.Fprintln(w, `"/>`)
		wt := fmt.Sprintf("w %d", st.weight)
		if st.gone {
			wt = "removed"
		}
		y := top + 10 + 18*i
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="14" height="4" fill="%s"/><text x="%d" y="%d">%s (%s)</text>`+"\n",
			width-right+12, y, col, width-right+32, y+6, html.EscapeString(st.addr.String()), wt)
	}
	fmt.Fprintln(w, "</svg>")
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("--svg: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--svg: %w", err)
	}
	return nil
}
