package kacompat

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/vrrp"
)

// TestWriteJSONAsKeepalived writes the instances of
// testdata/keepalived-2.2.7/keepalived.conf as keepalived 2.2.7 saw them and
// compares the result with the dump keepalived itself wrote, byte for byte.
func TestWriteJSONAsKeepalived(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("testdata/keepalived-2.2.7/keepalived.json")
	if err != nil {
		t.Fatal(err)
	}
	garp := func(d *Data) {
		d.GarpDelay, d.GarpRep, d.GarpRefreshRep = 5*time.Second, 5, 1
		d.GarpLowerPrioDelay, d.GarpLowerPrioRep = 5*time.Second, 5
	}
	vi1 := Instance{Data: Data{IName: "VI_1", IfpIfname: "veth-k",
		LastTransition: time.Unix(1796646143, 716431000), VRID: 51, BasePriority: 100, EffectivePriority: 100,
		VIPSet: true, AdverInt: time.Second, MasterAdverInt: time.Second, Accept: true, Nopreempt: true,
		State: 2, WantState: 2, Version: 2,
		ScriptBackup: Command([]string{"/usr/bin/echo", "backup"}), ScriptMaster: Command([]string{"/usr/bin/echo", "master"}),
		ScriptFault: Command([]string{"/usr/bin/echo", "fault"}), ScriptStop: Command([]string{"/usr/bin/echo", "stop"}),
		Script:      Command([]string{"/usr/bin/echo", "notify"}),
		VIPs:        []string{"198.18.9.100 dev veth-k scope global set", "198.18.9.101/24 dev veth-k scope global label veth-k:1 set"},
		EVIPs:       []string{"198.18.9.200 dev veth-k scope global set"},
		VRoutes:     []string{"prepend 198.18.50.0/24 via inet 198.18.9.254 dev veth-k proto 18"},
		TrackIfp:    []string{"veth-k2"},
		TrackScript: []string{Command([]string{"/usr/bin/true"})},
		AuthType:    1, AuthData: "1111"},
		Stats: vrrp.Stats{AdvertSent: 6, BecomeMaster: 1}}
	garp(&vi1.Data)
	vi2 := Instance{Data: Data{IName: "VI_2", IfpIfname: "veth-k",
		LastTransition: time.Unix(1796646147, 424666000), VRID: 52, BasePriority: 90, EffectivePriority: 90,
		VIPSet: true, AdverInt: 2 * time.Second, MasterAdverInt: 2 * time.Second, Accept: true,
		State: 2, WantState: 2, Version: 3, NotifyDeleted: true,
		VIPs: []string{"198.18.9.102 dev veth-k scope global set"}},
		Stats: vrrp.Stats{AdvertSent: 1, BecomeMaster: 1}}
	garp(&vi2.Data)
	var got bytes.Buffer
	if err := WriteJSON(&got, []Instance{vi1, vi2}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got.String()); d != "" {
		t.Errorf("JSON dump differs from keepalived 2.2.7's (-keepalived +ulvs):\n%s", d)
	}
}

func TestWriteJSONValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   Data
		want []string // substrings
	}{
		{"sub-second advert", Data{AdverInt: 100 * time.Millisecond}, []string{`"adver_int":0.1,`}},
		{"never transitioned", Data{}, []string{`"last_transition":0.000000,`}},
		{"microseconds kept", Data{LastTransition: time.Unix(1796646143, 1000)}, []string{`"last_transition":1796646143.000001,`}},
		{"no interface", Data{}, []string{`"vmac_ifname":"","master_priority"`}},
		{"escapes", Data{IName: "a\"b\\c/d\x01é"}, []string{`"iname":"a\"b\\c\/d\u0001é"`}},
		{"no auth, no data", Data{AuthData: "secret"}, []string{`"auth_type":0},"stats"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJSON(&b, []Instance{{Data: tc.in}}); err != nil {
				t.Fatal(err)
			}
			var v []map[string]map[string]any
			if err := json.Unmarshal(b.Bytes(), &v); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, b.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("%s lacks %s", b.String(), w)
				}
			}
		})
	}
}

func TestWriteJSONEmpty(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteJSON(&b, nil); err != nil || b.String() != "[]\n" {
		t.Errorf("WriteJSON(nil) = %q, %v", b.String(), err)
	}
}
