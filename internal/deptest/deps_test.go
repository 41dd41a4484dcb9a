package deptest

import (
	"fmt"
	"maps"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ulvs/ulvs/"

// rule forbids the packages matching pkg (a path inside the module; "x/..."
// also matches x's subpackages) to depend on any of banned, for why.
type rule struct {
	pkg    string
	banned []string
	why    string
}

// subsystems are the rooms that never import each other.
var subsystems = []string{"vrrp/...", "health/...", "forward/...", "route/..."}

// daemon are the composition root's own packages.
var daemon = []string{"cmd/...", "internal/lvs", "internal/plan"}

func without(list []string, drop string) []string {
	var out []string
	for _, p := range list {
		if p != drop {
			out = append(out, p)
		}
	}
	return out
}

func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

var rules = []rule{
	{"vrrp/...", join(without(subsystems, "vrrp/..."), daemon, []string{"conf", "internal/ctl", "internal/ipvsfmt"}),
		"vrrp, health, forward and route never import each other: the daemon connects them with events; cmd translates conf into vrrp.Config"},
	{"health/...", join(without(subsystems, "health/..."), daemon, []string{"conf", "internal/ctl", "internal/ipvsfmt"}),
		"vrrp, health, forward and route never import each other: the daemon connects them with events; cmd translates conf into health.Config"},
	{"forward/...", join(without(subsystems, "forward/..."), daemon, []string{"conf", "internal/ctl", "internal/ipvsfmt"}),
		"vrrp, health, forward and route never import each other: the daemon connects them with events; cmd translates conf into forward's types"},
	{"route/...", join(without(subsystems, "route/..."), daemon, []string{"conf", "internal/ctl", "internal/ipvsfmt"}),
		"vrrp, health, forward and route never import each other: the daemon connects them with events"},
	{"sched", []string{"..."},
		"schedulers are pure Pick functions over a snapshot: no I/O, no other room"},
	{"conf", join(subsystems, daemon, []string{"internal/..."}),
		"conf holds types and parsing only (no sockets); it may name sched's schedulers and flags, nothing else"},
	{"internal/ctl", join(without(subsystems, "vrrp/..."), daemon, []string{"conf", "internal/ipvsfmt"}),
		"the control protocol carries views: it may name vrrp.Stats, the counters it shows, and knows no data path, checker or configuration"},
	{"internal/ipvsfmt", join(without(subsystems, "vrrp/..."), daemon, []string{"conf"}),
		"ipvsadm's formats print ctl's views (which name vrrp's counters); turning a backend's status into one is the daemon's (internal/lvs)"},
	{"internal/notify", join(subsystems, daemon, []string{"conf", "sched", "internal/ctl", "internal/ipvsfmt"}),
		"notify FIFOs and mail are shared by vrrp and health, so they sit below both"},
	{"internal/script", join(subsystems, daemon, []string{"conf", "sched", "internal/ctl", "internal/ipvsfmt"}),
		"the script runner is shared by vrrp and health, so it sits below both"},
	{"internal/lvs", []string{"conf", "internal/plan", "cmd/..."},
		"the reconciler knows neither keepalived.conf nor sockets: plan translates the configuration into its Services"},
	{"internal/topo/...", join(subsystems, daemon, []string{"conf"}),
		"the netns topology builder serves tests and the lab of every room, so it sits below all of them"},
	{"internal/vm/...", join(subsystems, daemon, []string{"conf"}),
		"the VM kit boots kernels for any room's tests, so it sits below all of them"},
	{"internal/testkit", join(subsystems, daemon, []string{"conf", "sched", "internal/topo/..."}),
		"the helpers every package's tests share sit below all of them"},
	{"internal/plan", []string{"cmd/..."},
		"the one translation of keepalived.conf (start, reload, -t) is the daemon's library: main calls it, never the reverse"},
	{"forward/xsk", []string{"..."},
		"the AF_XDP socket and its XDP program are frame I/O below the engine, as forward/ring is: no service, table or other room"},
	{"internal/canserve", join(subsystems, daemon, []string{"conf", "sched", "internal/ctl", "internal/ipvsfmt"}),
		"the can-serve monitor runs probes it is given as functions; the daemon wires them to the forwarder and sets VRRP's condition"},
	{"internal/netcap", []string{"..."},
		"a listener's connection cap and the descriptor budget know no room"},
	{"internal/procstat", []string{"..."},
		"the /proc readings (CPU, memory, process state) of the lab tools and benchmarks know no room"},
	{"internal/manpage", []string{"..."},
		"manual pages render a command's flag set; they know no room"},
	{"internal/kacompat", join(without(subsystems, "vrrp/..."), daemon, []string{"internal/ctl", "internal/ipvsfmt"}),
		"keepalived's outside contract (version, signal names, dump formats) formats conf's keywords and vrrp's state; the daemon hands it the values"},
	{"internal/nodeipvs/...", join(without(subsystems, "vrrp/..."), daemon, []string{"conf"}),
		"node_exporter's node_ipvs_* families are formed from ctl's view of the table, as ipvsadm's formats are, never from a backend"},
}

// unruled are the packages no rule needs to hold, and why: the top of the
// house, and what only tests and tools use.
var unruled = []struct{ pkg, why string }{
	{"cmd/...", "the composition roots: they may import every room"},
	{"bench/...", "benchmark drivers, above every room"},
	{"scripts/...", "tools for the documentation, above every room"},
	{"test", "the end-to-end tests, above every room"},
	{"internal", "internal/doc.go only: the map of the internal packages"},
	{"internal/deptest", "this test"},
}

// match reports whether the module path p matches pattern (relative to the
// module; "..." matches everything, "x/..." x and its subpackages).
func match(pattern, p string) bool {
	if !strings.HasPrefix(p, module) {
		return false
	}
	p = strings.TrimPrefix(p, module)
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pattern
}

// deps lists every package of the module with the packages it depends on
// (not counting tests).
func deps(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"...")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

// violations lists every dependency that breaks a rule, given each
// package's dependencies, and the rules that matched some package.
func violations(all map[string][]string) (out []string, checked map[string]bool) {
	checked = map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(all)) {
		ds := all[p]
		for _, r := range rules {
			if !match(r.pkg, p) {
				continue
			}
			checked[r.pkg] = true
			for _, d := range ds {
				for _, b := range r.banned {
					if match(b, d) && !match(r.pkg, d) {
						out = append(out, fmt.Sprintf("%s depends on %s, which %s must not: %s", strings.TrimPrefix(p, module),
							strings.TrimPrefix(d, module), r.pkg, r.why))
					}
				}
			}
		}
	}
	return out, checked
}

// TestImports keeps the house's import rules: imports point down, cmd →
// {vrrp, health, forward, route} → {sched, conf}, and the rooms of one
// level never import each other. Every package is held by a rule or named
// in unruled, so that a new room gets its rule.
func TestImports(t *testing.T) {
	t.Parallel()
	all := deps(t)
	bad, checked := violations(all)
	for _, v := range bad {
		t.Error(v)
	}
	for _, r := range rules {
		if !checked[r.pkg] {
			t.Errorf("rule for %s matched no package: a room moved?", r.pkg)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(all)) {
		held := slices.ContainsFunc(rules, func(r rule) bool { return match(r.pkg, p) }) ||
			slices.ContainsFunc(unruled, func(u struct{ pkg, why string }) bool { return match(u.pkg, p) })
		if !held {
			t.Errorf("%s is held by no import rule: add one to rules (or, for a tool above the rooms, to unruled)",
				strings.TrimPrefix(p, module))
		}
	}
}

// TestRulesCatch: the rules catch the breaks they exist for (on made-up
// dependencies, so the tree stays whole): vrrp reaching forward, health
// reaching vrrp through a subpackage, sched importing anything, conf
// importing an internal package.
func TestRulesCatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ pkg, dep string }{
		{"vrrp", "forward"},
		{"vrrp", "forward/ipvs"},
		{"health", "vrrp"},
		{"forward/ipvs", "health"},
		{"route", "internal/plan"},
		{"sched", "conf"},
		{"conf", "internal/script"},
		{"internal/lvs", "conf"},
		{"forward/xsk", "forward"},
		{"internal/nodeipvs", "forward"},
	} {
		bad, _ := violations(map[string][]string{module + tc.pkg: {module + tc.dep}})
		if len(bad) == 0 {
			t.Errorf("%s depending on %s breaks no rule", tc.pkg, tc.dep)
		}
	}
	if bad, _ := violations(map[string][]string{module + "vrrp": {module + "sched"}, module + "forward": {module + "sched", module + "forward/frame"}}); len(bad) != 0 {
		t.Errorf("allowed imports reported: %q", bad)
	}
}

// TestMatch: the patterns mean what the rules take them to mean.
func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, pkg string
		want         bool
	}{
		{"vrrp/...", "vrrp", true},
		{"vrrp/...", "vrrp/x", true},
		{"vrrp/...", "vrrpx", false},
		{"internal/ctl", "internal/ctl", true},
		{"internal/ctl", "internal/ctlx", false},
		{"...", "sched", true},
	} {
		if got := match(tc.pattern, module+tc.pkg); got != tc.want {
			t.Errorf("match(%q, %q) = %v", tc.pattern, tc.pkg, got)
		}
	}
	if match("...", path.Join("github.com/other", "x")) {
		t.Error("a package outside the module matched")
	}
}
