package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// barChart draws a metric's median per scenario as a horizontal bar, with
// a whisker from the smallest to the largest round.
func barChart(name string, m *Metric, order []string) string {
	var rows []string
	for _, s := range order {
		if _, ok := m.Median[s]; ok {
			rows = append(rows, s)
		}
	}
	const (
		left, right, top, rowH, width = 130, 90, 40, 28, 640
	)
	height := top + rowH*len(rows) + 30
	maxV := 0.0
	minV := 0.0
	for _, s := range rows {
		maxV = math.Max(maxV, m.Max[s])
		minV = math.Min(minV, m.Min[s])
	}
	if maxV == minV {
		maxV = minV + 1
	}
	plot := float64(width - left - right)
	x := func(v float64) float64 { return left + (v-minV)/(maxV-minV)*plot }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	better := "lower is better"
	if m.Higher {
		better = "higher is better"
	}
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s (%s, %s; median, whisker min–max)</text>`+"\n",
		html.EscapeString(name), html.EscapeString(m.Unit), better)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888"/>`+"\n", x(0), top-5, x(0), top+rowH*len(rows))
	for i, s := range rows {
		y := top + i*rowH
		v := m.Median[s]
		color := "#4a78b5"
		if s == "direct" {
			color = "#999"
		} else if strings.HasPrefix(s, "ulvs") {
			color = "#d9822b"
		}
		x0, x1 := x(math.Min(0, v)), x(math.Max(0, v))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+16, html.EscapeString(s))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0, y+4, math.Max(x1-x0, 1), rowH-8, color)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222"/>`+"\n", x(m.Min[s]), y+rowH/2, x(m.Max[s]), y+rowH/2)
		label := fmtVal(v)
		if r, ok := m.Ratio[s]; ok && s != "direct" {
			label += fmt.Sprintf(" (%.2f×)", r)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", x(math.Max(v, m.Max[s]))+6, y+16, html.EscapeString(label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
