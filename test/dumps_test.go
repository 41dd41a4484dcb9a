package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestDumps sends SIGUSR1, SIGUSR2 and SIGRTMIN+2 and compares the files
// with those Debian's keepalived 2.2.7 writes for the same instance
// (cmd/ulvsd/testdata/keepalived-2.2.7): the stats file line for line but
// the numbers, the JSON dump key for key, the state dump's VRRP lines.
func TestDumps(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	dn := l.node("dir", "198.18.9.1")
	dir := t.TempDir()
	conf := `global_defs {
   router_id kadump
   state_dump_file ` + dir + `/keepalived.data
   stats_dump_file ` + dir + `/keepalived.stats
   json_dump_file ` + dir + `/keepalived.json
}
vrrp_script chk {
    script "/bin/true"
    interval 1
    weight -5
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        198.18.9.100
    }
    track_script {
        chk
    }
}
`
	d := l.ulvsd(dn, conf)
	d.waitState("VI_1", "MASTER", 10*time.Second)
	// ulvsd writes the three dumps at start-up; wait for the signals' own.
	names := []string{"keepalived.data", "keepalived.stats", "keepalived.json"}
	before := map[string]os.FileInfo{}
	for _, f := range names {
		before[f], _ = os.Stat(filepath.Join(dir, f))
	}
	d.signal("USR1")
	d.signal("USR2")
	d.signal("36") // SIGRTMIN+2
	for _, f := range names {
		topotest.Eventually(t, 5*time.Second, f+" was not written", func() bool {
			st, err := os.Stat(filepath.Join(dir, f))
			return err == nil && (before[f] == nil || !os.SameFile(before[f], st))
		})
	}
	root, _ := topotest.ModuleRoot()
	fixtures := filepath.Join(root, "cmd", "ulvsd", "testdata", "keepalived-2.2.7")
	read := func(d, f string) string {
		b, err := os.ReadFile(filepath.Join(d, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	digits := regexp.MustCompile(`[0-9]+`)
	if d := cmp.Diff(digits.ReplaceAllString(read(fixtures, "keepalived.stats"), "N"),
		digits.ReplaceAllString(read(dir, "keepalived.stats"), "N")); d != "" {
		t.Errorf("stats dump differs from keepalived's (-keepalived +ulvs):\n%s", d)
	}

	keys := func(s string) []string {
		var v []map[string]map[string]any
		if err := json.Unmarshal([]byte(s), &v); err != nil || len(v) != 1 {
			t.Fatalf("JSON dump %q: %v", s, err)
		}
		var out []string
		for part, m := range v[0] {
			for k := range m {
				out = append(out, part+"."+k)
			}
		}
		sort.Strings(out)
		return out
	}
	ours := keys(read(dir, "keepalived.json"))
	have := map[string]bool{}
	for _, k := range ours {
		have[k] = true
	}
	for _, k := range keys(read(fixtures, "keepalived.json")) {
		if !have[k] {
			t.Errorf("JSON dump lacks keepalived's %s", k)
		}
	}
	var js []map[string]map[string]any
	json.Unmarshal([]byte(read(dir, "keepalived.json")), &js)
	if got := js[0]["data"]; got["iname"] != "VI_1" || got["state"] != 2.0 || got["vrid"] != 51.0 {
		t.Errorf("JSON dump data = %v", got)
	}

	data := read(dir, "keepalived.data")
	for _, want := range []string{
		"------< Global definitions >------", " Router ID = kadump", "------< VRRP Topology >------",
		" VRRP Instance = VI_1", "   State = MASTER", "   Interface = eth0", "   Virtual Router ID = 51",
		"   Priority = 100", "   Advert interval = 1 sec", "   Authentication type = SIMPLE_PASSWORD",
		"   Virtual IP (1):", "     198.18.9.100 dev eth0 scope global set", "   Tracked scripts :", "     chk weight -5",
		"------< VRRP Scripts >------", " VRRP Script = chk",
		"   Checksum errors = 0", // ulvs's own line: keepalived counts them for SNMP only
	} {
		if !strings.Contains(data, want+"\n") {
			t.Errorf("state dump lacks keepalived's line %q", want)
		}
	}
	if t.Failed() {
		t.Logf("state dump:\n%s", data)
	}
}
