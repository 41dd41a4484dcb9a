package vrrp

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func intp(v int) *int              { return &v }
func netip4(s string) netip.Addr   { return netip.MustParseAddr(s) }
func netip6(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func boolp(v bool) *bool           { return &v }

// TestScriptCounter follows keepalived's vrrp_script_child_thread: from
// OK, fall failures in a row to fail; from failed, rise successes to be OK;
// INIT needs one result either way.
func TestScriptCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rise, fall int
		initFail   bool
		runs       string // s = success, f = failure
		want       string // status after each run: O, F
	}{
		{"rise 1 fall 1", 1, 1, false, "sffss", "OFFOO"},
		{"fall 2: one failure is not enough", 1, 2, false, "sfsffs", "OOOOFO"},
		{"rise 3 from a failure", 3, 1, false, "fsssf", "FFFOF"},
		{"init: one success is enough even with rise 3", 3, 1, false, "s", "O"},
		{"init: one failure fails", 3, 2, false, "f", "F"},
		{"init_fail starts failed, rise 2", 2, 1, true, "ss", "FO"},
		{"fall 3 interrupted", 1, 3, false, "sffsfff", "OOOOOOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newScriptTrack(Script{Rise: tc.rise, Fall: tc.fall, InitFail: tc.initFail}, nil)
			if tc.initFail != (st.status == trackFailed) || (!tc.initFail && st.status != trackInit) {
				t.Fatalf("initial status %v", st.status)
			}
			got := ""
			for _, r := range tc.runs {
				st.update(r == 's')
				got += map[trackStatus]string{trackOK: "O", trackFailed: "F", trackInit: "I"}[st.status]
			}
			if got != tc.want {
				t.Errorf("statuses %s, want %s", got, tc.want)
			}
		})
	}
}

func TestContribution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ok      bool
		w       int
		reverse bool
		want    int
	}{
		{true, 10, false, 10}, {false, 10, false, 0},
		{true, -15, false, 0}, {false, -15, false, -15},
		{true, 10, true, -10}, {false, 10, true, 0},
		{true, -15, true, 0}, {false, -15, true, 15},
	}
	for _, tc := range tests {
		if got := contribution(tc.ok, tc.w, tc.reverse); got != tc.want {
			t.Errorf("contribution(ok=%v, w=%d, reverse=%v) = %d, want %d", tc.ok, tc.w, tc.reverse, got, tc.want)
		}
	}
}

func TestTrackEval(t *testing.T) {
	t.Parallel()
	ts := &trackState{
		scripts: map[string]*scriptTrack{
			"up":      {cfg: Script{Weight: 10}, status: trackOK},
			"down":    {cfg: Script{Weight: -15}, status: trackFailed},
			"down0":   {cfg: Script{}, status: trackFailed},
			"pending": {cfg: Script{Weight: 5}, status: trackInit},
		},
		files: map[string]*fileTrack{
			"f3":    {cfg: TrackFile{}, value: 3},
			"f0w":   {cfg: TrackFile{WeightSet: true}, value: 1},
			"fbig":  {cfg: TrackFile{Weight: -100, WeightSet: true}, value: 3},
			"fzero": {cfg: TrackFile{WeightSet: true}, value: 0},
		},
		links: map[string]bool{"eth0": true, "eth1": false},
	}
	tests := []struct {
		name  string
		in    Instance
		base  uint8
		grp   *SyncGroup
		iface []string
		want  trackResult
	}{
		{"nothing tracked", Instance{}, 100, nil, nil, trackResult{prio: 100}},
		{"positive weight while OK", Instance{TrackScripts: []TrackRef{{Name: "up"}}}, 100, nil, nil,
			trackResult{prio: 110, status: []TrackStatus{{Kind: "script", Name: "up", Status: "OK", Weight: 10}}}},
		{"negative weight while failed", Instance{TrackScripts: []TrackRef{{Name: "down"}}}, 100, nil, nil,
			trackResult{prio: 85, status: []TrackStatus{{Kind: "script", Name: "down", Status: "FAILED", Weight: -15}}}},
		{"weight overridden in track_script, reversed", Instance{TrackScripts: []TrackRef{{Name: "down", Weight: intp(-20), Reverse: boolp(true)}}},
			100, nil, nil, trackResult{prio: 120, status: []TrackStatus{{Kind: "script", Name: "down", Status: "FAILED", Weight: -20}}}},
		{"unweighted failure is a FAULT", Instance{TrackScripts: []TrackRef{{Name: "down0"}}}, 100, nil, nil,
			trackResult{prio: 100, fault: true, status: []TrackStatus{{Kind: "script", Name: "down0", Status: "FAILED"}}}},
		{"INIT script", Instance{TrackScripts: []TrackRef{{Name: "pending"}}}, 100, nil, nil,
			trackResult{prio: 100, init: true, status: []TrackStatus{{Kind: "script", Name: "pending", Status: "INIT", Weight: 5}}}},
		{"clamped to 254 and 1", Instance{TrackScripts: []TrackRef{{Name: "up", Weight: intp(250)}}}, 200, nil, nil,
			trackResult{prio: 254, status: []TrackStatus{{Kind: "script", Name: "up", Status: "OK", Weight: 250}}}},
		{"owner's priority is fixed", Instance{TrackScripts: []TrackRef{{Name: "down"}}}, 255, nil, nil,
			trackResult{prio: 255, status: []TrackStatus{{Kind: "script", Name: "down", Status: "FAILED", Weight: -15}}}},
		{"track_interface unweighted down", Instance{TrackInterfaces: []TrackRef{{Name: "eth1"}}}, 100, nil, nil,
			trackResult{prio: 100, fault: true, status: []TrackStatus{{Kind: "interface", Name: "eth1", Status: "DOWN"}}}},
		{"track_interface weighted down", Instance{TrackInterfaces: []TrackRef{{Name: "eth1", Weight: intp(-30)}}}, 100, nil, nil,
			trackResult{prio: 70, status: []TrackStatus{{Kind: "interface", Name: "eth1", Status: "DOWN", Weight: -30}}}},
		{"own interface down", Instance{}, 100, nil, []string{"eth1"},
			trackResult{prio: 100, fault: true, status: []TrackStatus{{Kind: "interface", Name: "eth1", Status: "DOWN"}}}},
		{"track_file value × default weight 1", Instance{TrackFiles: []TrackRef{{Name: "f3"}}}, 100, nil, nil,
			trackResult{prio: 103, status: []TrackStatus{{Kind: "file", Name: "f3", Status: "3", Weight: 1}}}},
		{"track_file weight 0, non-zero value", Instance{TrackFiles: []TrackRef{{Name: "f0w"}}}, 100, nil, nil,
			trackResult{prio: 100, fault: true, status: []TrackStatus{{Kind: "file", Name: "f0w", Status: "1"}}}},
		{"track_file weight 0, zero value", Instance{TrackFiles: []TrackRef{{Name: "fzero"}}}, 100, nil, nil,
			trackResult{prio: 100, status: []TrackStatus{{Kind: "file", Name: "fzero", Status: "0"}}}},
		{"track_file at or below -254 is a FAULT", Instance{TrackFiles: []TrackRef{{Name: "fbig"}}}, 100, nil, nil,
			trackResult{prio: 100, fault: true, status: []TrackStatus{{Kind: "file", Name: "fbig", Status: "3", Weight: -100}}}},
		{"sync group member: weights ignored, failure is a FAULT", Instance{TrackScripts: []TrackRef{{Name: "down"}}}, 100,
			&SyncGroup{Name: "G"}, nil,
			trackResult{prio: 100, fault: true, status: []TrackStatus{{Kind: "script", Name: "down", Status: "FAILED"}}}},
		{"sync_group_tracking_weight keeps them", Instance{TrackScripts: []TrackRef{{Name: "down"}}}, 100,
			&SyncGroup{Name: "G", TrackingWeight: true}, nil,
			trackResult{prio: 85, status: []TrackStatus{{Kind: "script", Name: "down", Status: "FAILED", Weight: -15}}}},
		{"the group's own tracked script", Instance{}, 100,
			&SyncGroup{Name: "G", TrackingWeight: true, TrackScripts: []TrackRef{{Name: "up"}}}, nil,
			trackResult{prio: 110, status: []TrackStatus{{Kind: "script", Name: "up", Status: "OK", Weight: 10}}}},
		{"unknown (disabled) script is not tracked", Instance{TrackScripts: []TrackRef{{Name: "insecure"}}}, 100, nil, nil,
			trackResult{prio: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ts.eval(&tc.in, tc.base, tc.grp, tc.iface)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(trackResult{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrackFileReadAndInit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if got := readTrackFile(p); got != 0 {
		t.Errorf("missing file reads %d, want 0", got)
	}
	seven := 7
	if err := initTrackFile(TrackFile{Path: p, InitFile: &seven}); err != nil {
		t.Fatal(err)
	}
	if got := readTrackFile(p); got != 7 {
		t.Errorf("init_file 7 reads %d", got)
	}
	two := 2
	if err := initTrackFile(TrackFile{Path: p, InitFile: &two}); err != nil {
		t.Fatal(err)
	}
	if got := readTrackFile(p); got != 7 {
		t.Errorf("init_file without overwrite changed the file to %d", got)
	}
	if err := initTrackFile(TrackFile{Path: p, InitFile: &two, InitOverwrite: true}); err != nil {
		t.Fatal(err)
	}
	if got := readTrackFile(p); got != 2 {
		t.Errorf("init_file overwrite: %d", got)
	}
	for in, want := range map[string]int{"-12\n": -12, "  5 trailing": 5, "junk": 0, "": 0} {
		if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readTrackFile(p); got != want {
			t.Errorf("%q reads %d, want %d", in, got, want)
		}
	}
}

func TestResolveDefaults(t *testing.T) {
	t.Parallel()
	vip6 := VIP{Prefix: netip6("2001:db8::100/64")}
	tests := []struct {
		name string
		g    Global
		in   Instance
		chk  func(t *testing.T, p *params)
	}{
		{"defaults", Global{}, inst("a", 1, 0), func(t *testing.T, p *params) {
			if p.basePrio != 100 || p.version != 2 || p.adverInt != time.Second || p.advField != 1 || p.wantMast || p.downAdv != 3 {
				t.Errorf("%+v", p)
			}
			if p.garpDelay != 5*time.Second || p.garpRepeat != 5 || p.garpRefresh != 0 || p.garpRefreshRep != 1 ||
				p.garpLowerDelay != 5*time.Second || p.garpLowerRep != 5 {
				t.Errorf("garp %+v", p)
			}
			if p.dst() != Group4 {
				t.Errorf("dst %v", p.dst())
			}
		}},
		{"state MASTER without priority is the owner", Global{}, inst("a", 1, 0, func(i *Instance) { i.State = StateMaster }),
			func(t *testing.T, p *params) {
				if p.basePrio != 255 || !p.wantMast {
					t.Errorf("prio %d want %v", p.basePrio, p.wantMast)
				}
			}},
		{"no state: MASTER iff 255", Global{}, inst("a", 1, 255), func(t *testing.T, p *params) {
			if !p.wantMast {
				t.Error("not MASTER")
			}
		}},
		{"v2 rounds advert_int to seconds", Global{}, inst("a", 1, 100, func(i *Instance) { i.AdvertInt = 1600 * time.Millisecond }),
			func(t *testing.T, p *params) {
				if p.adverInt != 2*time.Second || p.advField != 2 {
					t.Errorf("%v %d", p.adverInt, p.advField)
				}
			}},
		{"v3 rounds to centiseconds", Global{Version: 3}, inst("a", 1, 100, func(i *Instance) { i.AdvertInt = 123 * time.Millisecond }),
			func(t *testing.T, p *params) {
				if p.version != 3 || p.adverInt != 120*time.Millisecond || p.advField != 12 {
					t.Errorf("v%d %v %d", p.version, p.adverInt, p.advField)
				}
			}},
		{"IPv6 is v3, auth ignored", Global{}, inst("a", 1, 100, func(i *Instance) {
			i.VIPs = []VIP{vip6}
			i.AuthType, i.AuthPass = AuthPass, "x"
		}), func(t *testing.T, p *params) {
			if p.family != IPv6 || p.version != 3 || p.auth != AuthNone || p.dst() != Group6 {
				t.Errorf("%+v", p)
			}
		}},
		{"auth_pass truncated to 8", Global{}, inst("a", 1, 100, func(i *Instance) { i.AuthType, i.AuthPass = AuthPass, "123456789" }),
			func(t *testing.T, p *params) {
				if string(p.authKey[:]) != "12345678" {
					t.Errorf("%q", p.authKey)
				}
			}},
		{"other family VIPs stay out of adverts", Global{}, inst("a", 1, 100, func(i *Instance) { i.VIPs = append(i.VIPs, vip6) }),
			func(t *testing.T, p *params) {
				if len(p.vips) != 1 || p.family != IPv4 {
					t.Errorf("%v", p.vips)
				}
			}},
		{"vrrp_min_garp", Global{MinGARP: true}, inst("a", 1, 100), func(t *testing.T, p *params) {
			if p.garpRepeat != 1 || p.garpDelay != 0 || p.garpRefreshRep != 0 {
				t.Errorf("%+v", p)
			}
		}},
		{"mcast group", Global{McastGroup4: netip4("224.24.1.1")}, inst("a", 1, 100), func(t *testing.T, p *params) {
			if p.dst() != netip4("224.24.1.1") {
				t.Errorf("%v", p.dst())
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.in
			p, err := resolve(&tc.g, &in, -1)
			if err != nil {
				t.Fatal(err)
			}
			tc.chk(t, p)
		})
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"vrid 0", Config{Instances: []Instance{inst("a", 0, 100)}}},
		{"vrid 256", Config{Instances: []Instance{inst("a", 256, 100)}}},
		{"priority 256", Config{Instances: []Instance{inst("a", 1, 256)}}},
		{"no interface", Config{Instances: []Instance{inst("a", 1, 100, func(i *Instance) { i.Interface = "" })}}},
		{"advert_int too small", Config{Instances: []Instance{inst("a", 1, 100, func(i *Instance) { i.AdvertInt = time.Millisecond })}}},
		{"version 4", Config{Instances: []Instance{inst("a", 1, 100, func(i *Instance) { i.Version = 4 })}}},
		{"duplicate name", Config{Instances: []Instance{inst("a", 1, 100), inst("a", 2, 100)}}},
		{"duplicate vrid", Config{Instances: []Instance{inst("a", 1, 100), inst("b", 1, 100)}}},
		{"group names a missing instance", Config{Instances: []Instance{inst("a", 1, 100)},
			Groups: []SyncGroup{{Name: "G", Members: []string{"a", "b"}}}}},
		{"instance in two groups", Config{Instances: []Instance{inst("a", 1, 100), inst("b", 2, 100)},
			Groups: []SyncGroup{{Name: "G", Members: []string{"a", "b"}}, {Name: "H", Members: []string{"a"}}}}},
		{"peer of the other family", Config{Instances: []Instance{inst("a", 1, 100, func(i *Instance) {
			i.UnicastPeers = []Peer{{Addr: netip6("2001:db8::1/128").Addr()}}
		})}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(&tc.cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}
