package conf

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestSeedConfigs checks every seed config against its README: all load
// without errors except the truncated one, which fails at line 59 where the
// unclosed second VI_1 opens, and names VI_1 as defined twice.
func TestSeedConfigs(t *testing.T) {
	t.Parallel()
	files := topotest.SeedConfigs(t)
	if len(files) < 10 {
		t.Fatalf("found only %d seed configs", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+name, func(t *testing.T) {
			t.Parallel()
			res, err := Read(f, Options{})
			if name == "001-nginx-dual-master-b-truncated.conf" {
				// keepalived runs it (its -t status is 5): the second
				// VI_1 is skipped as "already defined".
				if res.Diags.ExitStatus() != ExitProblems {
					t.Fatalf("status %d, want %d:\n%s", res.Diags.ExitStatus(), ExitProblems, res.Diags)
				}
				if !hasDiag(res.Diags, Warning, 59, "vrrp_instance VI_1: block opened here is never closed") {
					t.Errorf("want the unclosed VI_1 named at line 59, got:\n%s", res.Diags)
				}
				if !hasDiag(res.Diags, Warning, 59, "vrrp instance VI_1 already defined") {
					t.Errorf("want VI_1 already defined at line 59, got:\n%s", res.Diags)
				}
				return
			}
			if err != nil {
				t.Fatalf("want the config to load, got:\n%s", res.Diags)
			}
		})
	}
}

// TestSeedScenarios checks what the user's scenarios rely on.
func TestSeedScenarios(t *testing.T) {
	t.Parallel()
	load := func(name string) *Config {
		t.Helper()
		cfg, err := Load(topotest.SeedConfig(t, name), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	// 001 DR pair: rr DR, sorry server, two HTTP_GET real servers, mcast group.
	m := load("001-lvs-dr-master.conf")
	vs := m.VirtualServers[0]
	if m.Global.McastGroup4.String() != "224.26.1.1" || vs.Sched != "rr" || vs.Method.Kind != MethodDR ||
		vs.SorryServer == nil || vs.SorryServer.Port != 80 || len(vs.RealServers) != 2 ||
		vs.RealServers[0].Checkers[0].Type != CheckHTTP || vs.RealServers[0].Checkers[0].Retry != 3 {
		t.Errorf("001-lvs-dr-master: %+v", vs)
	}
	b := load("001-lvs-dr-backup.conf")
	if b.Instances[0].State != "BACKUP" || b.Instances[0].Priority != 90 || b.Instances[0].VRID != 66 {
		t.Errorf("001-lvs-dr-backup: %+v", b.Instances[0])
	}
	// 000: wrr DR with TCP_CHECK using nb_get_retry.
	z := load("000-dr-wrr-tcpcheck-sorry.conf")
	if c := z.VirtualServers[0].RealServers[0].Checkers[0]; c.Type != CheckTCP || c.Retry != 3 || c.ConnectPort != 80 {
		t.Errorf("000: checker %+v", c)
	}
	// 003: persistence 5 s, wrr and rr.
	l := load("003-lvs1-dual-master.conf")
	if l.VirtualServers[0].PersistenceTimeout.Seconds() != 5 || l.VirtualServers[1].Sched != "rr" {
		t.Errorf("003-lvs1: %+v", l.VirtualServers)
	}
	// nginx with a track script that lowers priority by 15 after 2 failures.
	n := load("001-nginx-vrrp-script.conf")
	if s := n.Scripts[0]; s.Name != "nginx" || s.Weight != -15 || s.Fall != 2 || n.Instances[0].TrackScripts[0].Name != "nginx" {
		t.Errorf("001-nginx-vrrp-script: %+v", s)
	}
	// 004: script run as root:root.
	c := load("004-nginx-check.conf")
	if s := c.Scripts[0].Script; s.User != "root" || s.Group != "root" {
		t.Errorf("004: script user %q group %q", s.User, s.Group)
	}
}

// TestSeedInventories reads the two keyword inventories of the user's
// documents (an annotated reference and a template, not configs) and checks
// every keyword they name is known to the registry.
func TestSeedInventories(t *testing.T) {
	t.Parallel()
	shared, ok := topotest.SharedDir()
	if !ok {
		t.Skip("../shared is not beside the repository: the user's keyword inventories are not here")
	}
	dir := filepath.Join(shared, "seed-configs")
	known := map[string]bool{}
	for _, k := range Keywords() {
		known[k.Keyword] = true
	}
	// Words that start lines of value blocks in those files: interface
	// names, instance names, route words and placeholders.
	values := map[string]bool{"eth0": true, "eth1": true, "VI1": true, "VI2": true, "src": true}
	word := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	var unknown []string
	for _, name := range []string{"001-annotated-reference.txt", "001-vrrp-script-template.txt"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for i, raw := range strings.Split(string(data), "\n") {
			text, _ := decomment(strings.TrimRight(raw, "\r"))
			f := strings.Fields(text)
			if len(f) == 0 || !word.MatchString(f[0]) || values[f[0]] {
				continue
			}
			if !known[f[0]] {
				unknown = append(unknown, name+":"+strconv.Itoa(i+1)+": "+f[0])
			}
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("keywords of the user's inventories that ulvs does not know:\n%s", strings.Join(unknown, "\n"))
	}
}
