package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ulvs/ulvs/internal/nodeipvs"
)

// exported is every metric family ulvsd can export with --metrics, from
// the collectors' own descriptions.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 256)
	collector{}.Describe(ch)
	nodeipvs.New(nil).Describe(ch)
	close(ch)
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	out := map[string]bool{}
	for d := range ch {
		m := name.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		out[m[1]] = true
	}
	return out
}

// metricRefs are the names of ulvs's families (ulvs_*, node_ipvs_*) an
// expression or rules file mentions.
var metricRefs = regexp.MustCompile(`\b(?:ulvs|node_ipvs)_[a-z0-9_]+\b`)

func checkRefs(t *testing.T, where, text string, have map[string]bool) []string {
	t.Helper()
	refs := metricRefs.FindAllString(text, -1)
	for _, r := range refs {
		if !have[r] {
			t.Errorf("%s: %s is not a metric ulvsd exports", where, r)
		}
	}
	return refs
}

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("ULVS_REQUIRE_NETNS") == "1" {
			t.Fatal("promtool is missing: scripts/deps.sh installs Debian's prometheus package")
		}
		t.Skip("promtool is missing (Debian's prometheus package): the expressions are not checked")
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// grafanaVars stand for Grafana's own variables when an expression is
// handed to Prometheus.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$instance", ".*")

type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct{ Name, Type string } `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int                      `json:"id"`
		Type       string                   `json:"type"`
		Title      string                   `json:"title"`
		GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboard validates packaging/grafana/ulvs-dashboard.json: it loads
// as a Grafana dashboard (ids, layout, a Prometheus data source variable),
// every panel has a query, every query is valid PromQL (promtool) and
// refers only to metrics ulvsd exports, and the panels cover VRRP state,
// real servers up and weight, connections, packets, drops and sync role.
func TestDashboard(t *testing.T) {
	have := exported(t)
	b, err := os.ReadFile("../../packaging/grafana/ulvs-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 30 {
		t.Errorf("title %q, uid %q, schemaVersion %d", d.Title, d.UID, d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["instance"] != "query" {
		t.Errorf("template variables %v: want a datasource one and an instance query", vars)
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: duplicate id", where)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside Grafana's 24 columns", where, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("%s overlaps %s", where, other)
					x, y = g.X+g.W, g.Y+g.H
				}
				taken[cell{x, y}] = where
			}
		}
		switch p.Type {
		case "row":
			continue
		case "timeseries", "state-timeline", "stat", "table":
		default:
			t.Errorf("%s: unknown panel type %q", where, p.Type)
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: data source %+v, want the ${datasource} variable", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, q := range p.Targets {
			refs := checkRefs(t, where, q.Expr, have)
			if len(refs) == 0 {
				t.Errorf("%s: %q refers to no ulvs metric", where, q.Expr)
			}
			for _, r := range refs {
				used[r] = true
			}
			fmt.Fprintf(&rules, "      - record: panel_%d_%s\n        expr: %q\n", p.ID, q.RefID, grafanaVars.Replace(q.Expr))
		}
	}
	for _, want := range []string{"ulvs_vrrp_state", "ulvs_real_server_up", "ulvs_real_server_weight",
		"ulvs_service_connections_total", "ulvs_service_packets_total", "ulvs_forward_dropped_packets_total",
		"ulvs_sync_role"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "check", "rules", "dashboard.yml")
}

// TestAlertRules checks packaging/prometheus/ulvs-alerts.yml with promtool
// (check rules, and test rules on ulvs-alerts_test.yml, where each alert
// fires on its series) and that it refers only to metrics ulvsd exports.
func TestAlertRules(t *testing.T) {
	have := exported(t)
	b, err := os.ReadFile("../../packaging/prometheus/ulvs-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	checkRefs(t, "ulvs-alerts.yml", string(b), have)
	var alerts []string
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(b), -1) {
		alerts = append(alerts, m[1])
	}
	sort.Strings(alerts)
	want := []string{"UlvsDropsRising", "UlvsQuorumLost", "UlvsRealServerDown", "UlvsVRRPNoMaster", "UlvsVRRPTwoMasters"}
	if strings.Join(alerts, " ") != strings.Join(want, " ") {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
	tests, err := os.ReadFile("../../packaging/prometheus/ulvs-alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range want {
		if !strings.Contains(string(tests), "alertname: "+a+"\n") {
			t.Errorf("ulvs-alerts_test.yml does not test %s", a)
		}
	}
	runPromtool(t, "../../packaging/prometheus", "check", "rules", "ulvs-alerts.yml")
	runPromtool(t, "../../packaging/prometheus", "test", "rules", "ulvs-alerts_test.yml")
}
