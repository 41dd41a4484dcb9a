package plan

import (
	"strings"
	"testing"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/health"
)

func parse(t *testing.T, text string) *conf.Config {
	t.Helper()
	res, err := conf.Parse("test.conf", []byte(text), conf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Config
}

var all = Options{VRRP: true, Checks: true}

// TestVRRPSMTPServer: smtp_server and its port make one host:port, an
// IPv6 address in brackets (it was "::1:25" for VRRP's mail).
func TestVRRPSMTPServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ conf, want string }{
		{"global_defs {\n notification_email {\n  ops@example.com\n }\n smtp_server 198.18.0.25\n}\n", "198.18.0.25:25"},
		{"global_defs {\n notification_email {\n  ops@example.com\n }\n smtp_server 2001:db8::25 2525\n}\n", "[2001:db8::25]:2525"},
	} {
		p, ds := Build(parse(t, tc.conf), all)
		if ds.HasErrors() {
			t.Fatal(ds)
		}
		if p.VRRP.Global.Mail == nil || p.VRRP.Global.Mail.Server != tc.want {
			t.Errorf("%q: mail %+v, want server %q", tc.conf, p.VRRP.Global.Mail, tc.want)
		}
		if p.Dispatcher.Mail == nil || p.Dispatcher.Mail.Server != tc.want {
			t.Errorf("%q: checkers' mail %+v, want server %q", tc.conf, p.Dispatcher.Mail, tc.want)
		}
	}
}

// vrrpOnly has an instance and no virtual server.
const vrrpOnly = `vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    virtual_ipaddress {
        198.18.0.100
    }
}
`

// TestBuildDiagnostics: Build reports what start-up refuses (errors) and
// what it leaves out (warnings) at the configuration's lines, and only for
// the subsystems that run.
func TestBuildDiagnostics(t *testing.T) {
	t.Parallel()
	const text = `global_defs {
    lvs_sync_daemon lo
}
track_file f {
    file /nonexistent
}
virtual_server 198.18.0.100 80 {
    lb_algo rr
    lb_kind TUN type gre
    protocol TCP
    real_server 198.18.1.1 80 {
        weight 1
    }
}
virtual_server 198.18.0.101 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.18.1.2 80 {
        FILE_CHECK {
            track_file f
        }
    }
}
`
	cfg := parse(t, text)
	// What conf checks too, plan must not take for granted.
	cfg.VirtualServers[1].RealServers[0].Checkers[0].File.TrackFile = "nosuch"
	_, ds := Build(cfg, all)
	for _, want := range []string{
		"test.conf:2: warning: lvs_sync_daemon: no VRRP instance named; not started",
		"test.conf:7: warning: virtual_server 198.18.0.100:80 is not forwarded: TUN type gre is not supported (ipip is)",
		"test.conf:20: error: FILE_CHECK: track_file nosuch is not defined",
	} {
		if !strings.Contains(ds.String(), want+"\n") {
			t.Errorf("diagnostics lack %q:\n%s", want, ds)
		}
	}
	p, ds := Build(cfg, Options{VRRP: true})
	if len(ds) != 0 || p.Health != nil || p.Services != nil || p.VRRP == nil {
		t.Errorf("-P: diagnostics %s, plan %+v", ds, p)
	}
	p, ds = Build(parse(t, vrrpOnly), Options{Checks: true})
	if len(ds) != 0 || p.VRRP != nil || p.Health == nil {
		t.Errorf("-C: diagnostics %s, plan %+v", ds, p)
	}
}

// TestCheckerKinds: every checker kind health has is a checker block conf
// reads, and plan translates it by its keyword.
func TestCheckerKinds(t *testing.T) {
	t.Parallel()
	for k := health.Kind(1); k < 255; k++ {
		name := k.String()
		if name == "UNKNOWN_CHECK" {
			continue
		}
		text := "virtual_server 198.18.0.100 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.18.1.1 80 {\n  " +
			name + " {\n   connect_port 80\n  }\n }\n}\n"
		res, _ := conf.Parse("test.conf", []byte(text), conf.Options{})
		if res == nil || strings.Contains(res.Diags.String(), "unknown keyword '"+name+"'") {
			t.Errorf("conf does not read %s blocks", name)
			continue
		}
		if got, ok := health.KindNamed(name); !ok || got != k {
			t.Errorf("%s: KindNamed = %d, %t", name, got, ok)
		}
	}
}

// TestConfCheckersHaveKinds is TestCheckerKinds the other way: every
// checker block conf reads and acts on (a real_server block with a
// delay_loop) is a kind health builds, so a keyword row without its
// health row fails here rather than at a user's reload.
func TestConfCheckersHaveKinds(t *testing.T) {
	t.Parallel()
	timed := map[string]bool{}
	for _, k := range conf.Keywords() {
		if k.Keyword == "delay_loop" {
			timed[k.Block] = true
		}
	}
	n := 0
	for _, k := range conf.Keywords() {
		if k.Block != "real_server" || !timed[k.Keyword] || k.Status == conf.NotHonoured || k.Status == conf.Ignored {
			continue
		}
		n++
		if _, ok := health.KindNamed(k.Keyword); !ok {
			t.Errorf("conf reads %s blocks but health has no such kind", k.Keyword)
		}
	}
	if n == 0 {
		t.Fatal("no checker block found in conf's registry")
	}
}

// TestVRRPFeatures: the keywords whose effect vrrp implements reach its
// Config with keepalived's meaning.
func TestVRRPFeatures(t *testing.T) {
	t.Parallel()
	p, ds := Build(parse(t, `global_defs {
    default_interface eth1
    nftables ulvs_fw
    nftables_priority -5
    nftables_counters
    vrrp_notify_priority_changes
}
track_group TG {
    group {
        VI_1
    }
}
static_ipaddress {
    198.18.40.1/24 track_group TG
    198.18.41.1/24 dev eth0 no_track
}
static_routes {
    198.18.42.0/24 via 198.18.40.254 dev eth1 track_group TG
}
static_rules {
    from 198.18.43.0/24 table 142 preference 1420
}
vrrp_track_process web {
    process /usr/sbin/nginx -g "daemon off;"
    param_match partial
    quorum 2
    quorum_max 0
    delay 1.5
    fork_delay 0.5
    weight -20 reverse
}
vrrp_sync_group G {
    group {
        VI_2
    }
    notify_priority_changes
    track_process {
        web
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    no_accept
    mcast_dst_ip 224.0.0.99
    promote_secondaries
    notify_deleted
    notify_priority_changes
    track_process {
        web weight -10
    }
    virtual_ipaddress {
        198.18.0.100
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    unicast_src_ip 198.18.0.11
    unicast_peer {
        198.18.0.12
    }
    unicast_ttl 64
    unicast_fault_no_peer
    notify_deleted /bin/true
    virtual_ipaddress {
        198.18.0.101
    }
}
`), all)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	vc := p.VRRP
	if fw := vc.Global.Firewall; fw.Table != "ulvs_fw" || fw.Priority == nil || *fw.Priority != -5 || !fw.Counters {
		t.Errorf("firewall %+v", fw)
	}
	if !vc.Global.NotifyPriorityChanges {
		t.Error("vrrp_notify_priority_changes lost")
	}
	st := vc.Static
	if len(st.Addresses) != 2 || st.Addresses[0].Dev != "eth1" || st.Addresses[0].TrackGroup != "TG" || !st.Addresses[1].NoTrack {
		t.Errorf("static addresses %+v (an address without dev goes on default_interface)", st.Addresses)
	}
	if len(st.Routes) != 1 || st.Routes[0].TrackGroup != "TG" || st.Routes[0].Dev != "eth1" {
		t.Errorf("static routes %+v", st.Routes)
	}
	if len(st.Rules) != 1 || st.Rules[0].Table != 142 || st.Rules[0].Priority != 1420 {
		t.Errorf("static rules %+v", st.Rules)
	}
	if len(st.TrackGroups) != 1 || st.TrackGroups[0].Name != "TG" || strings.Join(st.TrackGroups[0].Instances, ",") != "VI_1" {
		t.Errorf("track groups %+v", st.TrackGroups)
	}
	if len(vc.Processes) != 1 {
		t.Fatalf("processes %+v", vc.Processes)
	}
	tp := vc.Processes[0]
	if tp.Process != "/usr/sbin/nginx" || strings.Join(tp.Params, "|") != "-g|daemon off;" || tp.ParamMatch != "partial" ||
		tp.Quorum != 2 || tp.QuorumMax == nil || *tp.QuorumMax != 0 || tp.Weight != -20 || !tp.Reverse ||
		tp.ForkDelay.Seconds() != 0.5 || tp.TerminateDelay.Seconds() != 1.5 {
		t.Errorf("track process %+v (delay sets both delays, fork_delay overrides)", tp)
	}
	g := vc.Groups[0]
	if !g.NotifyPriorityChanges || len(g.TrackProcesses) != 1 {
		t.Errorf("sync group %+v", g)
	}
	i1, i2 := vc.Instances[0], vc.Instances[1]
	if !i1.NoAccept || i1.McastDstIP.String() != "224.0.0.99" || !i1.PromoteSecondaries || !i1.NotifyDeleted ||
		i1.NotifyDeletedScript != nil || i1.NotifyPriorityChanges == nil || !*i1.NotifyPriorityChanges ||
		len(i1.TrackProcesses) != 1 || *i1.TrackProcesses[0].Weight != -10 {
		t.Errorf("VI_1 %+v", i1)
	}
	if i2.NoAccept || i2.UnicastTTL == nil || *i2.UnicastTTL != 64 || !i2.UnicastFaultNoPeer || !i2.NotifyDeleted ||
		i2.NotifyDeletedScript == nil || i2.NotifyDeletedScript.Argv[0] != "/bin/true" {
		t.Errorf("VI_2 %+v", i2)
	}

	// vrrp_strict: no_accept unless the owner, or accept given; and
	// vrrp_iptables still means keepalived's default nftables table.
	p, ds = Build(parse(t, `global_defs {
    vrrp_strict
    vrrp_iptables keepalived_in
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        198.18.0.100
    }
}
vrrp_instance VI_2 {
    state MASTER
    interface eth0
    virtual_router_id 52
    priority 255
    virtual_ipaddress {
        198.18.0.101
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 53
    strict_mode off
    virtual_ipaddress {
        198.18.0.102
    }
}
`), all)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if got := []bool{p.VRRP.Instances[0].NoAccept, p.VRRP.Instances[1].NoAccept, p.VRRP.Instances[2].NoAccept}; got[0] != true || got[1] != false || got[2] != false {
		t.Errorf("no_accept under vrrp_strict: %v, want [true false false]", got)
	}
	if fw := p.VRRP.Global.Firewall; fw.Table != "" {
		t.Errorf("vrrp_iptables: firewall %+v, want keepalived's default table", fw)
	}
}

// TestHealthFeatures: rs_init_notifies and the url regex settings reach
// health's Config; regex_options become RE2 flags.
func TestHealthFeatures(t *testing.T) {
	t.Parallel()
	p, ds := Build(parse(t, `global_defs {
    rs_init_notifies
}
virtual_server 198.18.0.10 80 {
    lb_algo rr
    lb_kind DR
    real_server 198.18.0.11 80 {
        HTTP_GET {
            url {
                path /status
                regex "state: (up|ok)"
                regex_options caseless
                regex_no_match
                regex_min_offset 3
                regex_max_offset 300
            }
        }
    }
}
`), all)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if !p.Health.RSInitNotifies {
		t.Error("rs_init_notifies lost")
	}
	u := p.Health.Services[0].Reals[0].Checks[0].HTTP.URLs[0]
	if u.Regex != "(?i)state: (up|ok)" || !u.RegexNoMatch || u.RegexMinOffset != 3 || u.RegexMaxOffset == nil || *u.RegexMaxOffset != 300 {
		t.Errorf("url %+v", u)
	}
}
