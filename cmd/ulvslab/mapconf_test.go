package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

func TestAddrMapApply(t *testing.T) {
	t.Parallel()
	m := addrMap{
		netip.MustParseAddr("192.168.1.1"):  netip.MustParseAddr("198.18.0.2"),
		netip.MustParseAddr("192.168.1.10"): netip.MustParseAddr("198.18.0.11"),
	}
	for _, tc := range []struct{ in, want string }{
		{"real_server 192.168.1.10 80 {", "real_server 198.18.0.11 80 {"},
		// Whole addresses only: .1 must not rewrite .10 or .100.
		{"192.168.1.100 192.168.1.1", "192.168.1.100 198.18.0.2"},
		{"192.168.1.1/24 dev eth0", "198.18.0.2/24 dev eth0"},
		{"192.168.1.1,192.168.1.10", "198.18.0.2,198.18.0.11"},
		{"x192.168.1.1", "x198.18.0.2"},
		{"1.192.168.1.1", "1.192.168.1.1"},
		{"192.168.1.1.5", "192.168.1.1.5"},
		{"peer 192.168.1.1.", "peer 198.18.0.2."},
		{"#192.168.1.10 comment", "#198.18.0.11 comment"},
	} {
		if got := m.apply(tc.in); got != tc.want {
			t.Errorf("apply(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRenameInterfaces(t *testing.T) {
	t.Parallel()
	in := "interface enp0s8\n    10.0.0.1/24 dev enp0s8\ntrack_interface {\nenp0s8\n}\nenp0s80 xenp0s8"
	want := "interface eth0\n    10.0.0.1/24 dev eth0\ntrack_interface {\neth0\n}\nenp0s80 xenp0s8"
	if got := renameInterfaces(in, []string{"enp0s8"}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSwapRoles(t *testing.T) {
	t.Parallel()
	text := `vrrp_instance A {
    state MASTER
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {
        10.0.0.1
    }
}
vrrp_instance B {
    state BACKUP   # comment {
    interface eth0
    virtual_router_id 2
    virtual_ipaddress {
        10.0.0.2
    }
}
`
	res, err := conf.Parse("x.conf", []byte(text), conf.Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	got := swapRoles(text, res.Config)
	res2, err := conf.Parse("y.conf", []byte(got), conf.Options{ConfigID: "x"})
	if err != nil {
		t.Fatalf("swapped config does not load: %v\n%s", err, got)
	}
	var states []string
	for _, in := range res2.Config.Instances {
		states = append(states, in.Name+" "+in.State+" "+strconv.Itoa(in.Priority))
	}
	// B had no priority (100): it gets one, 10 higher.
	if diff := cmp.Diff([]string{"A BACKUP 90", "B MASTER 110"}, states); diff != "" {
		t.Errorf("(-want +got):\n%s\n%s", diff, got)
	}
}

// seedFiles reads seed configs: a bare name from testdata/seed-configs,
// a path as it is.
func seedFiles(t *testing.T, names ...string) []userConfig {
	t.Helper()
	var out []userConfig
	for _, n := range names {
		p := n
		if !filepath.IsAbs(p) {
			p = topotest.SeedConfig(t, n)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, userConfig{Name: p, Text: string(b)})
	}
	return out
}

// digest is what a mapped configuration sets up, as comparable lines.
func digest(t *testing.T, text string) []string {
	t.Helper()
	res, err := conf.Parse("mapped.conf", []byte(text), conf.Options{ConfigID: "x"})
	if err != nil {
		t.Fatalf("mapped config does not load: %v\n%s", err, text)
	}
	var out []string
	for _, in := range res.Config.Instances {
		out = append(out, "vrrp "+in.Name+" "+in.State+" "+strconv.Itoa(in.Priority)+" "+in.Interface+" "+strings.Join(vipStrings(in.VIPs), ","))
	}
	for _, vs := range res.Config.VirtualServers {
		line := "vs " + netip.AddrPortFrom(vs.Addr, vs.Port).String() + " " + vs.Method.Kind
		for _, rs := range vs.RealServers {
			line += " " + netip.AddrPortFrom(rs.Addr, rs.Port).String()
		}
		if vs.SorryServer != nil {
			line += " sorry " + netip.AddrPortFrom(vs.SorryServer.Addr, vs.SorryServer.Port).String()
		}
		out = append(out, line)
	}
	return out
}

func TestMapSeedConfigs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		files     []string
		directors int
		mode      string
		targets   []string
		reals     int
		sorry     bool
		want      [][]string // digest per director
		notes     []string   // substrings some note must hold
	}{
		{
			files: []string{"001-lvs-dr-master.conf", "001-lvs-dr-backup.conf"}, directors: 2, mode: modeDR,
			targets: []string{"198.18.0.100:80"}, reals: 2, sorry: true,
			want: [][]string{
				{"vrrp VI_1 MASTER 100 eth0 198.18.0.100/32", "vs 198.18.0.100:80 DR 198.18.0.11:80 198.18.0.12:80 sorry 198.18.0.20:80"},
				{"vrrp VI_1 BACKUP 90 eth0 198.18.0.100/32", "vs 198.18.0.100:80 DR 198.18.0.11:80 198.18.0.12:80 sorry 198.18.0.20:80"},
			},
			notes: []string{"127.0.0.1", "the sorry node"},
		},
		{
			// One file for a pair: director2 mirrors the roles.
			files: []string{"001-lvs-dr-dual-master.conf"}, directors: 2, mode: modeDR,
			targets: []string{"198.18.0.100:80", "198.18.0.101:80"}, reals: 2, sorry: true,
			want: [][]string{
				{"vrrp VI_1 MASTER 100 eth0 198.18.0.100/32", "vrrp VI_2 BACKUP 90 eth0 198.18.0.101/32",
					"vs 198.18.0.100:80 DR 198.18.0.11:80 198.18.0.12:80 sorry 198.18.0.20:80",
					"vs 198.18.0.101:80 DR 198.18.0.11:80 198.18.0.12:80 sorry 198.18.0.20:80"},
				{"vrrp VI_1 BACKUP 90 eth0 198.18.0.100/32", "vrrp VI_2 MASTER 100 eth0 198.18.0.101/32",
					"vs 198.18.0.100:80 DR 198.18.0.11:80 198.18.0.12:80 sorry 198.18.0.20:80",
					"vs 198.18.0.101:80 DR 198.18.0.11:80 198.18.0.12:80 sorry 198.18.0.20:80"},
			},
			notes: []string{"state swapped"},
		},
		{
			files: []string{"003-lvs1-dual-master.conf"}, directors: 1, mode: modeDR,
			targets: []string{"198.18.0.100:80", "198.18.0.101:80"}, reals: 2,
			want: [][]string{{"vrrp VI_1 MASTER 100 eth0 198.18.0.100/32", "vrrp VI_2 BACKUP 80 eth0 198.18.0.101/32",
				"vs 198.18.0.100:80 DR 198.18.0.11:80 198.18.0.12:80",
				"vs 198.18.0.101:80 DR 198.18.0.11:80 198.18.0.12:80"}},
			notes: []string{"enp0s8", "192.168.56.131     → 198.18.0.100"},
		},
		{
			// nginx behind VRRP: no virtual server, the directors serve.
			files: []string{"001-nginx-vrrp-script.conf"}, directors: 2, mode: modeVRRP,
			targets: []string{"198.18.0.100:80", "198.18.0.101:80"},
			want: [][]string{
				{"vrrp VI_1 MASTER 100 eth0 198.18.0.100/24", "vrrp VI_2 BACKUP 90 eth0 198.18.0.101/24"},
				{"vrrp VI_1 BACKUP 90 eth0 198.18.0.100/24", "vrrp VI_2 MASTER 100 eth0 198.18.0.101/24"},
			},
			notes: []string{"killall", "one PID space"},
		},
		{
			files: []string{"000-dr-wrr-tcpcheck-sorry.conf"}, directors: 1, mode: modeDR,
			targets: []string{"198.18.0.100:80"}, reals: 2, sorry: true,
		},
	} {
		t.Run(strings.Join(tc.files, "+"), func(t *testing.T) {
			t.Parallel()
			m, err := mapConfigs(seedFiles(t, tc.files...), tc.directors)
			if err != nil {
				t.Fatal(err)
			}
			var targets []string
			for _, tg := range m.Targets {
				targets = append(targets, tg.String())
			}
			if diff := cmp.Diff(tc.targets, targets); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			if m.Layout.Mode != tc.mode || m.Layout.Reals != tc.reals || m.Layout.Sorry != tc.sorry {
				t.Errorf("layout %+v, want mode %s, %d reals, sorry %v", m.Layout, tc.mode, tc.reals, tc.sorry)
			}
			if len(m.Configs) != tc.directors {
				t.Fatalf("%d configs for %d directors", len(m.Configs), tc.directors)
			}
			for i, text := range m.Configs {
				got := digest(t, text)
				if tc.want != nil {
					if diff := cmp.Diff(tc.want[i], got); diff != "" {
						t.Errorf("director%d (-want +got):\n%s", i+1, diff)
					}
				}
				// Nothing of the authors' networks is left where the lab
				// routes: every VIP, real and sorry server is the lab's.
				for _, l := range got {
					for _, f := range strings.Fields(l) {
						if p, err := netip.ParseAddrPort(f); err == nil && !netip.MustParsePrefix("198.18.0.0/15").Contains(p.Addr()) {
							t.Errorf("director%d: %s left unmapped in %q", i+1, p, l)
						}
					}
				}
				if strings.Contains(text, "smtp_server") && !strings.Contains(text, "smtp_server 127.0.0.1") {
					t.Errorf("director%d: smtp_server 127.0.0.1 was rewritten", i+1)
				}
			}
			notes := strings.Join(m.Notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(notes, n) {
					t.Errorf("notes lack %q:\n%s", n, notes)
				}
			}
		})
	}
}

// TestMapEverySeed: each seed config maps onto the lab with both
// directors' files loading cleanly, or is refused with a reason.
func TestMapEverySeed(t *testing.T) {
	t.Parallel()
	files := topotest.SeedConfigs(t)
	if len(files) < 10 {
		t.Fatalf("only %d seed configs", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+name, func(t *testing.T) {
			t.Parallel()
			m, err := mapConfigs(seedFiles(t, f), 2)
			if name == "001-nginx-dual-master-b-truncated.conf" {
				if err == nil || !strings.Contains(err.Error(), ":59:") {
					t.Fatalf("the truncated seed must be refused at line 59, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range m.Configs {
				digest(t, text)
				if strings.Contains(text, "enp0s8") || strings.Contains(text, "ens33") {
					t.Errorf("an interface name was left:\n%s", text)
				}
			}
		})
	}
}

func TestMapRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, want string }{
		{"virtual_server fwmark 1 {\n lb_algo rr\n lb_kind DR\n real_server 10.0.0.1 80 {\n }\n}\n", "fwmark"},
		{"virtual_server 2001:db8::1 80 {\n lb_algo rr\n lb_kind DR\n real_server 2001:db8::2 80 {\n }\n}\n", "IPv4 only"},
		{"virtual_server 10.0.0.1 53 {\n lb_algo rr\n lb_kind DR\n protocol UDP\n real_server 10.0.0.2 53 {\n }\n}\n", "TCP only"},
		{"virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.0.2 80 {\n }\n}\nvirtual_server 10.0.0.1 81 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 10.0.0.3 80 {\n }\n}\n", "mixes"},
		{"global_defs {\n router_id x\n}\n", "neither vrrp_instance nor virtual_server"},
		{"include /etc/keepalived/other.conf\nglobal_defs {\n}\n", ""},
	} {
		_, err := mapConfigs([]userConfig{{Name: "u.conf", Text: tc.text}}, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.text, err, tc.want)
		}
	}
	if _, err := mapConfigs(make([]userConfig, 2), 1); err == nil {
		t.Error("two files for one director were accepted")
	}
}

// TestMapNATGateway: a NAT config's VRRP address on the real servers'
// network becomes the lab's gateway, which the real servers route through.
func TestMapNATGateway(t *testing.T) {
	t.Parallel()
	text := `vrrp_instance VI_1 {
    state MASTER
    interface ens33
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        172.16.0.100/24 dev ens33
        10.10.0.254/24 dev ens34
    }
}
virtual_server 172.16.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.10.0.1 8080 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`
	m, err := mapConfigs([]userConfig{{Name: "nat.conf", Text: text}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Layout.Mode != modeNAT || m.Layout.Gateway != natGateway() {
		t.Fatalf("layout %+v, want NAT via %v", m.Layout, natGateway())
	}
	want := []string{"vrrp VI_1 MASTER 100 eth0 198.18.0.100/24,198.18.1.1/24", "vs 198.18.0.100:80 NAT 198.18.1.11:8080"}
	if diff := cmp.Diff(want, digest(t, m.Configs[0])); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]uint16{{8080}}, m.RealPorts); diff != "" {
		t.Errorf("real ports (-want +got):\n%s", diff)
	}
}
