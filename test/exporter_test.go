package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestExporterContract plays the side of keepalived's most used Prometheus
// exporter (mehdy/keepalived-exporter, formerly cafebazaar's) against ulvsd
// installed as keepalived: the version probe (`keepalived -v`, whose stderr's
// first line it splits on spaces, taking the second word after its "v"),
// the JSON probe (`keepalived --version` containing --enable-json), the
// signal numbers (`keepalived --signum=NAME` parsed as JSON), then scrapes:
// read the pid file, signal, read the dumps at once (the exporter's newest
// versions do not wait) and parse them as it does. Every read, the very
// first one included, must find complete files; the JSON dump must have
// keepalived 2.2.7's keys in keepalived's order for the same
// configuration.
func TestExporterContract(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	dn := l.node("dir", "198.18.9.1")
	dir := t.TempDir()
	files := map[string]string{"data": filepath.Join(dir, "keepalived.data"), "stats": filepath.Join(dir, "keepalived.stats"),
		"json": filepath.Join(dir, "keepalived.json")}
	config := `global_defs {
   router_id kajson
   state_dump_file ` + files["data"] + `
   stats_dump_file ` + files["stats"] + `
   json_dump_file ` + files["json"] + `
}
vrrp_script chk {
    script "/usr/bin/true"
    interval 1
    weight -5
}
vrrp_instance VI_1 {
    state BACKUP
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
        198.18.9.101/24 dev eth0 label eth0:1
    }
    virtual_ipaddress_excluded {
        198.18.9.200
    }
    track_script {
        chk
    }
    notify_master "/usr/bin/echo master"
    notify_backup "/usr/bin/echo backup"
    notify_fault "/usr/bin/echo fault"
    notify_stop "/usr/bin/echo stop"
    notify "/usr/bin/echo notify"
    nopreempt
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 90
    advert_int 2
    version 3
    virtual_ipaddress {
        198.18.9.102
    }
}
`
	// ulvsd installed as keepalived, first on PATH.
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(l.bins.ulvsd, filepath.Join(bin, "keepalived")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	shell := func(cmd string) (stdout, stderr string) {
		c := exec.Command("bash", "-c", cmd)
		c.Env = env
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		if err := c.Run(); err != nil {
			t.Fatalf("%s: %v\n%s%s", cmd, err, o.String(), e.String())
		}
		return o.String(), e.String()
	}

	// The probes, before ulvsd runs (the exporter makes them at start-up).
	_, verr := shell("keepalived -v")
	lines := strings.SplitN(verr, "\n", 2)
	if len(lines) != 2 {
		t.Fatalf("keepalived -v wrote %q on stderr: the exporter fails to parse its version", verr)
	}
	args := strings.Split(lines[0], " ")
	if len(args) < 2 || len(args[1]) < 2 {
		t.Fatalf("keepalived -v first line %q: unknown version format", lines[0])
	}
	v, err := parseVersion(args[1][1:])
	if err != nil {
		t.Fatalf("keepalived -v first line %q: %v", lines[0], err)
	}
	// 1.3.8 brought --signum and 1.4.0 the scripts' state: the exporter
	// uses both from those versions on.
	if !versionAtLeast(v, 1, 3, 8) || !versionAtLeast(v, 1, 4, 0) {
		t.Errorf("keepalived -v says version %v: the exporter would not use --signum", v)
	}
	c := exec.Command("keepalived", "--version")
	c.Env = env
	out, err := c.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--enable-json") {
		t.Errorf("keepalived --version: %v; the exporter's JSON probe fails:\n%s", err, out)
	}
	sig := map[string]syscall.Signal{}
	for _, name := range []string{"JSON", "DATA", "STATS"} {
		o, _ := shell("keepalived --signum=" + name)
		var n int64
		if err := json.Unmarshal([]byte(o), &n); err != nil {
			t.Fatalf("keepalived --signum=%s printed %q: %v", name, o, err)
		}
		sig[name] = syscall.Signal(n)
	}
	if d := cmp.Diff(map[string]syscall.Signal{"JSON": 36, "DATA": 10, "STATS": 12}, sig); d != "" {
		t.Errorf("signal numbers (-keepalived +ulvsd):\n%s", d)
	}

	d := l.ulvsd(dn, config)
	pidOf := func() int {
		b, err := os.ReadFile(d.pid)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSuffix(string(b), "\n"))
		if err != nil {
			t.Fatalf("pid file %q: %v", b, err)
		}
		return pid
	}
	open := func(name string) *os.File {
		f, err := os.Open(files[name])
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		return f
	}
	// A text-mode scrape: STATS, DATA, then the files at once.
	scrapeText := func() (map[string]*exData, map[string]*exStats, []exScript) {
		pid := pidOf()
		syscall.Kill(pid, sig["STATS"])
		syscall.Kill(pid, sig["DATA"])
		f := open("data")
		scripts := exParseScripts(f)
		f.Close()
		f = open("stats")
		stats, err := exParseStats(f)
		f.Close()
		if err != nil {
			t.Fatalf("keepalived.stats: %v", err)
		}
		f = open("data")
		data, err := exParseData(f)
		f.Close()
		if err != nil {
			t.Fatalf("keepalived.data: %v", err)
		}
		for name, v := range data {
			if v.VRID == 0 {
				t.Fatalf("incomplete data: instance %s has vrid=0", name)
			}
			if _, ok := stats[name]; !ok {
				t.Fatalf("keepalived.stats has no stats for %s", name)
			}
		}
		if len(data) != len(stats) {
			t.Fatalf("keepalived.data and keepalived.stats are not synced: %d and %d instances", len(data), len(stats))
		}
		return data, stats, scripts
	}
	scrapeJSON := func() []exVRRP {
		syscall.Kill(pidOf(), sig["JSON"])
		f := open("json")
		defer f.Close()
		var v []exVRRP
		if err := json.NewDecoder(f).Decode(&v); err != nil {
			t.Fatalf("keepalived.json: %v", err)
		}
		return v
	}

	// The very first scrapes, as soon as the pid file names ulvsd.
	if data, _, _ := scrapeText(); len(data) != 2 {
		t.Errorf("first text scrape: %d instances, want 2", len(data))
	}
	if js := scrapeJSON(); len(js) != 2 {
		t.Errorf("first JSON scrape: %d instances, want 2", len(js))
	}

	d.waitState("VI_1", "MASTER", 10*time.Second)
	d.waitState("VI_2", "MASTER", 15*time.Second)
	// Scrapes in a loop: every one complete. The exporter reads at once,
	// so it may read the dump before this signal's; how soon the new one
	// is in place is measured for the log.
	const scrapes = 50
	var fresh int
	for i := range scrapes {
		before, _ := os.Stat(files["stats"])
		data, stats, scripts := scrapeText()
		if i == scrapes-1 {
			want := map[string]*exData{
				"VI_1": {IName: "VI_1", State: 2, WantState: 2, Intf: "eth0", GArpDelay: 5, VRID: 51,
					VIPs: []string{"198.18.9.100 dev eth0 scope global set", "198.18.9.101/24 dev eth0 scope global label eth0:1 set"}},
				"VI_2": {IName: "VI_2", State: 2, WantState: 2, Intf: "eth0", GArpDelay: 5, VRID: 52,
					VIPs: []string{"198.18.9.102 dev eth0 scope global set"}},
			}
			if diff := cmp.Diff(want, data); diff != "" {
				t.Errorf("the exporter's view of keepalived.data (-want +got):\n%s", diff)
			}
			if stats["VI_1"].BecomeMaster != 1 || stats["VI_1"].AdvertSent == 0 {
				t.Errorf("the exporter's view of keepalived.stats for VI_1: %+v", stats["VI_1"])
			}
			if diff := cmp.Diff([]exScript{{Name: "chk", Status: "GOOD"}}, scripts); diff != "" {
				t.Errorf("the exporter's view of the scripts (-want +got):\n%s", diff)
			}
		}
		// Did this scrape read this signal's dump? (Read after the fact:
		// the dump's inode changes with each rename.)
		if read, err := os.Stat(files["stats"]); err == nil && before != nil && !os.SameFile(before, read) {
			fresh++
		}
		topotest.Eventually(t, time.Second, "the stats dump never followed the signal", func() bool {
			after, err := os.Stat(files["stats"])
			return err == nil && (before == nil || !os.SameFile(before, after))
		})
	}
	t.Logf("%d text scrapes, every one complete (%d of them already read this signal's stats dump)", scrapes, fresh)
	var lat []time.Duration
	for range scrapes {
		before, _ := os.Stat(files["json"])
		start := time.Now()
		js := scrapeJSON()
		if len(js) != 2 {
			t.Fatalf("JSON scrape: %d instances", len(js))
		}
		for {
			if after, err := os.Stat(files["json"]); err == nil && !os.SameFile(before, after) {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatal("the JSON dump never followed the signal")
			}
			time.Sleep(100 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("%d JSON scrapes, every one complete; signal to new dump in place: median %v, max %v (exporter's wait: none or 10ms)",
		scrapes, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	js := scrapeJSON()
	if js[0].Data.IName != "VI_1" || js[0].Data.State != 2 || js[0].Data.VRID != 51 || js[0].Stats.BecomeMaster != 1 {
		t.Errorf("the exporter's view of keepalived.json: %+v", js[0])
	}

	// keepalived 2.2.7's keys in its order, for the same instances
	// (internal/kacompat/testdata/keepalived-2.2.7, less the virtual
	// routes and tracked interface that configuration adds).
	root, _ := topotest.ModuleRoot()
	kaJSON, err := os.ReadFile(filepath.Join(root, "internal", "kacompat", "testdata", "keepalived-2.2.7", "keepalived.json"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(files["json"])
	if err != nil {
		t.Fatal(err)
	}
	want := jsonKeys(t, kaJSON, "vroutes", "track_ifp")
	if diff := cmp.Diff(want, jsonKeys(t, ours)); diff != "" {
		t.Errorf("JSON dump keys (-keepalived 2.2.7 +ulvsd):\n%s", diff)
	}
}

// jsonKeys lists the object keys of a JSON document in order, leaving out
// those named in skip.
func jsonKeys(t *testing.T, b []byte, skip ...string) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	type frame struct{ object, wantKey bool }
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if k, ok := tok.(string); ok && len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].wantKey {
			if !contains(skip, k) {
				keys = append(keys, k)
			}
			stack[len(stack)-1].wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
	return keys
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// parseVersion reads "MAJOR.MINOR.PATCH" as a version parser would.
func parseVersion(s string) ([3]int, error) {
	var v [3]int
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return v, fmt.Errorf("malformed version %q", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, fmt.Errorf("malformed version %q", s)
		}
		v[i] = n
	}
	return v, nil
}

func versionAtLeast(v [3]int, a, b, c int) bool {
	w := [3]int{a, b, c}
	for i := range v {
		if v[i] != w[i] {
			return v[i] > w[i]
		}
	}
	return true
}

// What the exporter keeps of each dump.
type (
	exData struct {
		IName     string   `json:"iname"`
		State     int      `json:"state"`
		WantState int      `json:"wantstate"`
		Intf      string   `json:"ifp_ifname"`
		GArpDelay int      `json:"garp_delay"`
		VRID      int      `json:"vrid"`
		VIPs      []string `json:"vips"`
	}
	exStats struct {
		AdvertRcvd    int `json:"advert_rcvd"`
		AdvertSent    int `json:"advert_sent"`
		BecomeMaster  int `json:"become_master"`
		ReleaseMaster int `json:"release_master"`
		PacketLenErr  int `json:"packet_len_err"`
		IPTTLErr      int `json:"ip_ttl_err"`
		PriZeroRcvd   int `json:"pri_zero_rcvd"`
		PriZeroSent   int `json:"pri_zero_sent"`
	}
	exVRRP struct {
		Data  exData  `json:"data"`
		Stats exStats `json:"stats"`
	}
	exScript struct{ Name, Status, State string }
)

var exStates = map[string]int{"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}

// exParseData reads keepalived.data's VRRP instances the way the exporter
// does: " VRRP Instance = NAME" opens one, three-space lines "Key = value"
// fill it, five-space lines are the values of the last list key.
func exParseData(f *os.File) (map[string]*exData, error) {
	data := map[string]*exData{}
	var instance, key string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, " VRRP Instance") && strings.Contains(l, "="):
			instance = strings.TrimSpace(strings.SplitN(l, "=", 2)[1])
			data[instance] = &exData{IName: instance}
		case strings.HasPrefix(l, "   ") && instance != "":
			val := ""
			if strings.HasPrefix(l, "     ") {
				val = strings.TrimSpace(l)
			} else {
				var kv []string
				switch {
				case strings.Contains(l, "="):
					kv = strings.SplitN(strings.TrimSpace(l), "=", 2)
				case strings.Contains(l, ":"):
					kv = strings.SplitN(strings.TrimSpace(l), ":", 2)
				default:
					continue
				}
				key = strings.TrimSpace(kv[0])
				if key == "Virtual IP" {
					continue
				}
				val = strings.TrimSpace(kv[1])
			}
			in := data[instance]
			if (strings.HasPrefix(key, "Virtual IP (") || key == "Virtual IP") && val != "" {
				in.VIPs = append(in.VIPs, val)
			}
			var err error
			switch key {
			case "State":
				s, ok := exStates[val]
				if !ok {
					return nil, fmt.Errorf("%s: unknown state %q", instance, val)
				}
				in.State = s
			case "Wantstate":
				s, ok := exStates[val]
				if !ok {
					return nil, fmt.Errorf("%s: unknown wantstate %q", instance, val)
				}
				in.WantState = s
			case "Interface", "Listening device":
				in.Intf = val
			case "Gratuitous ARP delay":
				in.GArpDelay, err = strconv.Atoi(val)
			case "Virtual Router ID":
				in.VRID, err = strconv.Atoi(val)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", instance, key, err)
			}
		case strings.HasPrefix(l, " VRRP Version") || strings.HasPrefix(l, " VRRP Script"):
		default:
			instance = ""
		}
	}
	return data, sc.Err()
}

// exParseStats reads keepalived.stats as the exporter does: sections end
// in ':', their counters are four-space lines, every value an integer.
func exParseStats(f *os.File) (map[string]*exStats, error) {
	stats := map[string]*exStats{}
	var instance, section string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		kv := strings.SplitN(strings.TrimSpace(l), ":", 2)
		switch {
		case strings.HasPrefix(l, "VRRP Instance") && strings.Contains(l, ":"):
			instance = strings.TrimSpace(kv[1])
			stats[instance] = &exStats{}
		case strings.HasPrefix(l, "  ") && strings.HasSuffix(l, ":"):
			section = strings.TrimSpace(kv[0])
		case strings.HasPrefix(l, "  ") && len(kv) == 2:
			n, err := strconv.Atoi(strings.TrimSpace(kv[1]))
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", instance, l, err)
			}
			s := stats[instance]
			if s == nil {
				return nil, fmt.Errorf("counter %q outside an instance", l)
			}
			key := strings.TrimSpace(kv[0])
			if !strings.HasPrefix(l, "    ") {
				section = ""
			}
			switch section + "/" + key {
			case "Advertisements/Received":
				s.AdvertRcvd = n
			case "Advertisements/Sent":
				s.AdvertSent = n
			case "/Became master":
				s.BecomeMaster = n
			case "/Released master":
				s.ReleaseMaster = n
			case "Packet Errors/Length":
				s.PacketLenErr = n
			case "Packet Errors/TTL":
				s.IPTTLErr = n
			case "Priority Zero/Received":
				s.PriZeroRcvd = n
			case "Priority Zero/Sent":
				s.PriZeroSent = n
			}
		}
	}
	return stats, sc.Err()
}

// exParseScripts reads the VRRP Scripts section's Status and State lines.
func exParseScripts(f *os.File) []exScript {
	var out []exScript
	var cur *exScript
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, " VRRP Script") && strings.Contains(l, "="):
			out = append(out, exScript{Name: strings.TrimSpace(strings.SplitN(l, "=", 2)[1])})
			cur = &out[len(out)-1]
		case strings.HasPrefix(l, "   ") && cur != nil && strings.Contains(l, "="):
			kv := strings.SplitN(strings.TrimSpace(l), "=", 2)
			switch strings.TrimSpace(kv[0]) {
			case "Status":
				cur.Status = strings.TrimSpace(kv[1])
			case "State":
				cur.State = strings.TrimSpace(kv[1])
			}
		case !strings.HasPrefix(l, "    "):
			cur = nil
		}
	}
	return out
}
