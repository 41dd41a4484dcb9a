// Command dashshot pictures the Grafana dashboard's panels without
// Grafana (Debian has no Grafana package). It writes the dashboard as a
// Prometheus console — Prometheus's own dashboards: a page Prometheus
// serves from --web.console.templates, whose graphs its console library
// (PromConsole.Graph, rickshaw) draws from its query_range API — with each
// panel's queries, titles and legends, laid out on the dashboard's grid,
// then photographs it with Chromium headless.
//
//	go run ./scripts/dashshot -consoles DIR -prom http://127.0.0.1:9090 -out docs/dashboard.png
//
// DIR is the Prometheus's --web.console.templates; Chromium must reach the
// Prometheus (scripts/dashboard-shot.sh runs both in the lab's client
// namespace). Grafana's variables are replaced as Prometheus needs:
// $instance by .*, $__rate_interval by -rate.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Type        string                   `json:"type"`
		Title       string                   `json:"title"`
		Description string                   `json:"description"`
		GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
		Targets     []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
		FieldConfig struct {
			Defaults struct {
				Mappings []struct {
					Options map[string]struct {
						Text string `json:"text"`
					} `json:"options"`
				} `json:"mappings"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
	} `json:"panels"`
}

var legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

func main() {
	dashPath := flag.String("dashboard", "packaging/grafana/ulvs-dashboard.json", "the Grafana dashboard")
	consoles := flag.String("consoles", "", "the Prometheus's console templates directory, where the page is written")
	prom := flag.String("prom", "http://127.0.0.1:9090", "the Prometheus, as Chromium reaches it")
	rng := flag.Duration("range", 6*time.Minute, "time range of the graphs")
	rate := flag.String("rate", "30s", "what $__rate_interval stands for")
	out := flag.String("out", "docs/dashboard.png", "the picture")
	note := flag.String("note", "", "a line under the title (what the lab did)")
	chromium := flag.String("chromium", "chromium", "the browser")
	flag.Parse()
	if *consoles == "" {
		fatal(fmt.Errorf("-consoles is required"))
	}
	b, err := os.ReadFile(*dashPath)
	if err != nil {
		fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		fatal(err)
	}
	vars := strings.NewReplacer("$instance", ".*", "$__rate_interval", *rate, "$__interval", *rate)
	const rowPx, colPx = 30, 66 // Grafana's grid: 30 px rows, 24 columns
	var cells, scripts strings.Builder
	maxY := 0
	for i, p := range d.Panels {
		g := p.GridPos
		maxY = max(maxY, g.Y+g.H)
		style := fmt.Sprintf("left:%dpx;top:%dpx;width:%dpx;height:%dpx", g.X*colPx, g.Y*rowPx, g.W*colPx-8, g.H*rowPx-8)
		if p.Type == "row" {
			fmt.Fprintf(&cells, "<div class=row style=\"%s\">%s</div>\n", style, html.EscapeString(p.Title))
			continue
		}
		var exprs, names, shown []string
		for _, t := range p.Targets {
			e := vars.Replace(t.Expr)
			exprs = append(exprs, e)
			shown = append(shown, e)
			names = append(names, legendLabel.ReplaceAllString(t.LegendFormat, "[[$1]]"))
		}
		var legend []string
		for _, m := range p.FieldConfig.Defaults.Mappings {
			for v, o := range m.Options {
				legend = append(legend, v+" "+o.Text)
			}
		}
		mapping := ""
		if len(legend) > 0 {
			mapping = " (values: " + strings.Join(sortedNumerically(legend), ", ") + ")"
		}
		fmt.Fprintf(&cells, `<div class=panel style="%s"><div class=title>%s<span class=map>%s</span></div>`+
			`<div class=q>%s</div><div id=g%d></div></div>`+"\n",
			style, html.EscapeString(p.Title), html.EscapeString(mapping), html.EscapeString(strings.Join(shown, " ; ")), i)
		ej, _ := json.Marshal(exprs)
		nj, _ := json.Marshal(names)
		if strings.Join(names, "") == "" {
			nj = []byte("null") // the console library names the series itself
		}
		fmt.Fprintf(&scripts, "new PromConsole.Graph({node: document.querySelector('#g%d'), expr: %s, name: %s, "+
			"duration: %d, width: %d, height: %d, min: 0, renderer: 'line', yAxisFormatter: PromConsole.NumberFormatter.humanizeNoSmallPrefix, "+
			"yHoverFormatter: PromConsole.NumberFormatter.humanizeNoSmallPrefix});\n",
			i, ej, nj, int(rng.Seconds()), g.W*colPx-110, g.H*rowPx-130)
	}
	page := fmt.Sprintf(`<!doctype html><html lang="en"><head><meta charset=utf-8>
<link type="text/css" rel="stylesheet" href="/classic/static/rickshaw/rickshaw.min.css">
<link type="text/css" rel="stylesheet" href="/classic/static/bootstrap4/css/bootstrap.min.css">
<link type="text/css" rel="stylesheet" href="/classic/static/css/prom_console.css">
<script src="/classic/static/d3/d3.min.js"></script>
<script src="/classic/static/vendor/rickshaw/vendor/d3.layout.min.js"></script>
<script src="/classic/static/rickshaw/rickshaw.min.js"></script>
<script src="/classic/static/jquery/jquery.min.js"></script>
<script>var PATH_PREFIX = "";</script>
<script src="/classic/static/js/prom_console.js"></script>
<style>
body{margin:0;font-family:sans-serif;background:#f4f5f5;font-size:12px}
h1{font-size:19px;margin:8px 12px 0} .note{font-size:12px;color:#444;margin:2px 12px 8px}
.grid{position:relative;margin:0 8px;height:%dpx}
.panel,.row{position:absolute;box-sizing:border-box}
.row{font-weight:bold;font-size:15px;padding:4px;border-bottom:1px solid #bbb}
.panel{background:#fff;border:1px solid #ccc;overflow:hidden;padding:2px 4px}
.title{font-weight:bold;font-size:13px} .map{font-weight:normal;color:#555;font-size:11px}
.q{font-family:monospace;font-size:10px;color:#555;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;margin-bottom:2px}
.prom_graph_legend{font-size:10px}
</style></head><body>
<h1>%s: the dashboard's panels as a Prometheus console (not Grafana)</h1>
<div class=note>Each panel's queries, evaluated by Prometheus and drawn by its console library. %s</div>
<div class=grid>
%s</div>
<script>
%s</script>
</body></html>
`, maxY*rowPx, html.EscapeString(d.Title), html.EscapeString(*note), cells.String(), scripts.String())
	name := "ulvs-dashboard.html"
	if err := os.WriteFile(filepath.Join(*consoles, name), []byte(page), 0o644); err != nil {
		fatal(err)
	}
	profile, err := os.MkdirTemp("", "dashshot")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(profile)
	abs, err := filepath.Abs(*out)
	if err != nil {
		fatal(err)
	}
	cmd := exec.Command(*chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		fmt.Sprintf("--window-size=%d,%d", 24*colPx+16, maxY*rowPx+80), "--virtual-time-budget=20000",
		"--user-data-dir="+profile, "--screenshot="+abs, *prom+"/consoles/"+name)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fatal(err)
	}
	fmt.Println(abs)
}

// sortedNumerically orders "N text" strings by N.
func sortedNumerically(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && lessNum(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func lessNum(a, b string) bool {
	var x, y int
	fmt.Sscan(a, &x)
	fmt.Sscan(b, &y)
	return x < y
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "dashshot:", err)
	os.Exit(1)
}
