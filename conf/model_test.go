package conf

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/sched"
)

// netipOpts lets cmp compare netip values.
var netipOpts = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func mustParse(t *testing.T, text string) *Result {
	t.Helper()
	res, err := Parse("t.conf", []byte(text), Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return res
}

func hasDiag(ds Diagnostics, sev Severity, line int, substr string) bool {
	for _, d := range ds {
		if d.Severity == sev && d.Pos.Line == line && strings.Contains(d.Msg, substr) {
			return true
		}
	}
	return false
}

func TestInstanceDefaults(t *testing.T) {
	t.Parallel()
	res := mustParse(t, `
vrrp_instance A {
    state MASTER
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.18.0.10/24 dev eth0 label eth0:1 scope global brd 198.18.0.255
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 52
    priority 255
    advert_int 1.4
    virtual_ipaddress {
        198.18.0.11
    }
}
vrrp_instance C {
    interface eth0
    virtual_router_id 53
    version 3
    advert_int 0.123
    nopreempt
    virtual_ipaddress {
        2001:db8::10/64
    }
}
`)
	cfg := res.Config
	a, b, c := cfg.Instances[0], cfg.Instances[1], cfg.Instances[2]
	// keepalived: "state MASTER" with no priority means 255.
	if a.Priority != 255 || a.State != "MASTER" {
		t.Errorf("A: state %s priority %d, want MASTER 255", a.State, a.Priority)
	}
	// No state: MASTER iff priority 255.
	if b.State != "MASTER" {
		t.Errorf("B: state %s, want MASTER from priority 255", b.State)
	}
	// VRRPv2 advert_int is whole seconds.
	if b.AdvertInt != time.Second || b.Version != 2 {
		t.Errorf("B: advert %v v%d, want 1s v2", b.AdvertInt, b.Version)
	}
	// VRRPv3 advert_int is centiseconds.
	if c.AdvertInt != 120*time.Millisecond || c.Version != 3 || c.Preempt {
		t.Errorf("C: advert %v v%d preempt %v", c.AdvertInt, c.Version, c.Preempt)
	}
	want := &IPAddress{Pos: Pos{"t.conf", 7}, Prefix: netip.MustParsePrefix("198.18.0.10/24"), Dev: "eth0",
		Label: "eth0:1", Scope: "global", Broadcast: "198.18.0.255"}
	if d := cmp.Diff(want, a.VIPs[0], netipOpts); d != "" {
		t.Errorf("VIP (-want +got):\n%s", d)
	}
	if got := b.VIPs[0].Prefix; got != netip.MustParsePrefix("198.18.0.11/32") {
		t.Errorf("bare VIP prefix = %v, want /32", got)
	}
	if a.Garp.MasterDelay != 5*time.Second || a.Garp.MasterRepeat != 5 || a.Garp.MasterRefreshRepeat != 1 {
		t.Errorf("GARP defaults = %+v", a.Garp)
	}
	if cfg.Global.McastGroup4 != netip.MustParseAddr("224.0.0.18") || cfg.Global.VRRPVersion != 2 {
		t.Errorf("global defaults = %v v%d", cfg.Global.McastGroup4, cfg.Global.VRRPVersion)
	}
}

func TestVirtualServerDefaultsAndInheritance(t *testing.T) {
	t.Parallel()
	res, _ := Parse("t.conf", []byte(`
virtual_server 198.18.0.100 80 {
    protocol TCP
    persistence_timeout
    persistence_granularity 255.255.255.0
    delay_loop 6
    retry 2
    real_server 198.18.0.11 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 2
            nb_get_retry 4
        }
        HTTP_GET {
            url {
                path /health
                status_code 200-299 301
                digest FF20AD2481F97B1754EF3E12ECD3A9CC
            }
        }
    }
    real_server 198.18.0.12 {
        delay_loop 2
        DNS_CHECK {
            connect_port 53
            name example.org
        }
        MISC_CHECK {
            misc_path "/bin/check.sh 'a b'"
            user nobody
        }
    }
    inhibit_on_failure
}
`), Options{})
	vs := res.Config.VirtualServers[0]
	// No lb_algo / lb_kind: keepalived's defaults, each reported
	// (validate_check_config) as keepalived reports them.
	if vs.Sched != "wlc" || vs.Method.Kind != MethodNAT {
		t.Errorf("sched %s method %s, want wlc NAT", vs.Sched, vs.Method.Kind)
	}
	if !hasDiag(res.Diags, Warning, 2, "no scheduler set") || !hasDiag(res.Diags, Warning, 2, "no forwarding method set") {
		t.Errorf("want the missing lb_algo and lb_kind reported:\n%s", res.Diags)
	}
	// A bare persistence_timeout is 360 s.
	if vs.PersistenceTimeout != 360*time.Second || vs.PersistenceGranularity != 24 {
		t.Errorf("persistence %v /%d", vs.PersistenceTimeout, vs.PersistenceGranularity)
	}
	rs1, rs2 := vs.RealServers[0], vs.RealServers[1]
	tcp, http := rs1.Checkers[0], rs1.Checkers[1]
	if tcp.ConnectTimeout != 2*time.Second || tcp.Retry != 4 || tcp.DelayLoop != 6*time.Second ||
		tcp.DelayBeforeRetry != time.Second || tcp.ConnectIP != rs1.Addr || tcp.ConnectPort != 80 {
		t.Errorf("TCP_CHECK resolved = %+v", tcp)
	}
	// HTTP_GET: retry from the VS, delay_before_retry 3 s by default.
	if http.Retry != 2 || http.DelayBeforeRetry != 3*time.Second || http.ConnectTimeout != 5*time.Second {
		t.Errorf("HTTP_GET resolved retry %d dbr %v ct %v", http.Retry, http.DelayBeforeRetry, http.ConnectTimeout)
	}
	u := http.HTTP.URLs[0]
	if d := cmp.Diff([]CodeRange{{200, 299}, {301, 301}}, u.StatusCodes); d != "" || u.Digest != "ff20ad2481f97b1754ef3e12ecd3a9cc" {
		t.Errorf("url %+v %s", u, d)
	}
	// rs2 has no port: it takes the VS's; its delay_loop is its own, and
	// DNS_CHECK's delay_before_retry defaults to the delay loop.
	dns, misc := rs2.Checkers[0], rs2.Checkers[1]
	if rs2.Port != 80 || dns.DelayLoop != 2*time.Second || dns.DelayBeforeRetry != 2*time.Second || dns.Retry != 2 {
		t.Errorf("rs2 port %d DNS %+v", rs2.Port, dns)
	}
	if d := cmp.Diff([]string{"/bin/check.sh", "a b"}, misc.Misc.Path.Argv); d != "" || misc.Misc.Path.User != "nobody" ||
		misc.Misc.Timeout != 2*time.Second {
		t.Errorf("MISC_CHECK %+v %s", misc.Misc.Path, d)
	}
	// inhibit_on_failure after the real servers still applies to them.
	if !rs1.InhibitOnFailure || !rs2.InhibitOnFailure || rs1.Weight != 3 || rs2.Weight != 1 {
		t.Errorf("inheritance: inhibit %v %v weights %d %d", rs1.InhibitOnFailure, rs2.InhibitOnFailure, rs1.Weight, rs2.Weight)
	}
}

func TestSchedulerFlagsOrder(t *testing.T) {
	t.Parallel()
	res, _ := Parse("t.conf", []byte(`
virtual_server 198.18.0.100 80 {
    sh-port
    lb_algo sh
    sh-fallback
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 {
    }
}
virtual_server 198.18.0.101 80 {
    lb_algo mh
    mh-port
    flag-3
    lb_kind TUN type gue port 6080 nocsum
    protocol TCP
    real_server 198.18.0.11 80 {
    }
}
`), Options{})
	a, b := res.Config.VirtualServers[0], res.Config.VirtualServers[1]
	// sh-port before lb_algo sh is ignored (keepalived's lbflags_handler).
	if a.SchedFlags != sched.FlagSched1 || !hasDiag(res.Diags, Warning, 3, "only applies to the sh scheduler") {
		t.Errorf("flags %#x, diags:\n%s", a.SchedFlags, res.Diags)
	}
	if b.SchedFlags != sched.FlagSched2|sched.FlagSched3 {
		t.Errorf("flags %#x", b.SchedFlags)
	}
	want := Method{Kind: MethodTUN, TunnelType: "gue", TunnelPort: 6080, TunnelCsum: "nocsum"}
	if d := cmp.Diff(want, b.Method); d != "" {
		t.Errorf("method (-want +got):\n%s", d)
	}
}

// TestValidation covers keepalived's checks: ranges, duplicates,
// references, obsolete and deprecated keywords — each at its line, with
// keepalived's class (what `keepalived -t` reports them as) and the
// severity ulvs gives: an error only where keepalived stops its VRRP or
// checker process too.
func TestValidation(t *testing.T) {
	t.Parallel()
	const vi = "vrrp_instance V {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n198.18.0.1\n}\n"
	const vs = "virtual_server 198.18.0.1 80 {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\n"
	const rs = "real_server 198.18.0.2 80 {\n}\n"
	for _, tc := range []struct {
		name  string
		in    string
		sev   Severity
		class Class
		line  int
		msg   string
	}{
		{"VRID out of range", "vrrp_instance V {\ninterface eth0\nvirtual_router_id 256\n}\n", Warning, ClassInvalidNumber, 3, "outside range [1, 255]"},
		{"VRID missing", "vrrp_instance V {\ninterface eth0\n}\n", Error, ClassGeneral, 1, "the virtual router id must be set"},
		{"no interface", "vrrp_instance V {\nvirtual_router_id 1\n}\n", Error, ClassGeneral, 1, "Unknown interface"},
		{"priority out of range", vi + "priority 0\n}\n", Warning, ClassInvalidNumber, 7, "outside range [1, 255]"},
		{"auth_pass over 8", vi + "authentication {\nauth_type PASS\nauth_pass 123456789\n}\n}\n", Warning, ClassGeneral, 9, "truncating auth_pass to 8 characters"},
		{"state BACKUP after MASTER", vi + "state MASTER\nstate BACKUP\n}\n", Warning, ClassGeneral, 8, "state BACKUP after state MASTER is ignored"},
		{"duplicate instance", vi + "}\n" + vi + "}\n", Warning, ClassGeneral, 8, "already defined (first at t.conf:1)"},
		{"duplicate VRID on an interface", vi + "}\nvrrp_instance W {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n198.18.0.2\n}\n}\n", Error, ClassGeneral, 8, "duplicate VRID conflict with V"},
		{"undefined track_script", vi + "track_script {\nnope\n}\n}\n", Warning, ClassGeneral, 8, "track script nope not found, ignoring"},
		{"unused vrrp_script", "vrrp_script s {\nscript /bin/true\n}\n" + vi + "}\n", Warning, ClassGeneral, 1, "vrrp_script s is not used"},
		{"undefined sync group member", "vrrp_sync_group G {\ngroup {\nVI_1\n}\n}\n", Warning, ClassGeneral, 3, "vrrp_instance VI_1 is not defined"},
		{"nopreempt with state MASTER", vi + "state MASTER\nnopreempt\npriority 100\n}\n", Warning, ClassGeneral, 7, "nopreempt will not work with initial state MASTER"},
		{"unicast keyword without peers", vi + "unicast_src_ip 198.18.0.9\n}\n", Warning, ClassDeprecated, 1, "without any unicast peers"},
		{"no VIP", "vrrp_instance V {\ninterface eth0\nvirtual_router_id 1\n}\n", Warning, ClassGeneral, 1, "No VIP specified; at least one is sensible"},
		{"obsolete nat_mask", vs + "nat_mask 255.255.255.0\n" + rs + "}\n", Warning, ClassUnknownKeyword, 5, "not known to keepalived 2.2.7"},
		{"nb_get_retry in HTTP_GET", vs + "real_server 198.18.0.2 80 {\nHTTP_GET {\nurl {\npath /\n}\nnb_get_retry 3\n}\n}\n}\n", Warning, ClassGeneral, 10, "nb_get_retry is deprecated"},
		{"nb_get_retry in TCP_CHECK", vs + "real_server 198.18.0.2 80 {\nTCP_CHECK {\nnb_get_retry 3\n}\n}\n}\n", Warning, ClassUnknownKeyword, 7, "not known to keepalived 2.2.7 in TCP_CHECK"},
		{"unknown scheduler", "virtual_server 198.18.0.1 80 {\nlb_algo fastest\nlb_kind NAT\nprotocol TCP\n" + rs + "}\n", Warning, ClassGeneral, 2, "unknown scheduler 'fastest'"},
		{"no scheduler", "virtual_server 198.18.0.1 80 {\nlb_kind NAT\nprotocol TCP\n" + rs + "}\n", Warning, ClassGeneral, 1, "no scheduler set"},
		{"no protocol", "virtual_server 198.18.0.1 80 {\nlb_algo rr\nlb_kind NAT\n" + rs + "}\n", Warning, ClassGeneral, 1, "no protocol set - defaulting to UDP"},
		{"port 0 needs persistence", "virtual_server 198.18.0.1 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\n" + rs + "}\n", Warning, ClassGeneral, 1, "zero port only valid for persistent services"},
		{"no real server", vs + "}\n", Warning, ClassGeneral, 1, "has no real servers - ignoring it"},
		{"duplicate real server", vs + rs + rs + "}\n", Warning, ClassGeneral, 7, "real server 198.18.0.2:80 is duplicated"},
		{"quorum above the total weight", vs + "quorum 5\n" + rs + "}\n", Warning, ClassGeneral, 1, "quorum 5 for 198.18.0.1:80 exceeds the total weight"},
		{"DR real server port", "virtual_server 198.18.0.1 80 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 198.18.0.2 8080 {\n}\n}\n", Warning, ClassGeneral, 5, "ports don't match - resetting to 80"},
		{"bad status code", vs + "real_server 198.18.0.2 80 {\nHTTP_GET {\nurl {\npath /\nstatus_code 600\n}\n}\n}\n}\n", Warning, ClassGeneral, 9, "invalid status code"},
		{"not honoured keyword warns", "bfd_instance b {\nneighbor_ip 198.18.0.1\n}\n", Warning, NoClass, 1, "not honoured by ulvs"},
		{"invalid boolean", "global_defs {\nsmtp_alert maybe\n}\n", Warning, ClassGeneral, 2, "invalid boolean 'maybe'"},
		// §1.6: a sync group listing instances without group { } is not
		// valid in current keepalived: each name is an unknown keyword.
		{"sync group without group block", "vrrp_sync_group G {\nVI_1\nVI_2\n}\n", Warning, ClassUnknownKeyword, 2, "unknown keyword 'VI_1' in vrrp_sync_group G"},
		{"mixed VIP families", vi[:len(vi)-2] + "2001:db8::1\n}\n}\n", Warning, ClassGeneral, 6, "address family must match VRRP instance"},
		{"route without a device", vi + "virtual_routes {\n198.18.9.0/24 via 198.18.0.254\n}\n}\n", Warning, ClassGeneral, 8, "cannot track route 198.18.9.0/24 with no interface specified"},
		{"gw on a route", vi + "virtual_routes {\n198.18.9.0/24 gw 198.18.0.254 dev eth0\n}\n}\n", Warning, ClassGeneral, 8, `"gw" for routes is deprecated`},
		{"rule without a preference", vi + "virtual_rules {\nfrom 198.18.9.0/24 table 100\n}\n}\n", Warning, ClassGeneral, 8, "rule has no preference specified"},
		{"route table not found", vi + "virtual_routes {\n198.18.9.0/24 via 198.18.0.254 dev eth0 table nosuch\n}\n}\n", Warning, ClassGeneral, 8, "routing table nosuch not found"},
		{"unknown keyword", "global_defs {\nfrobnicate 1\n}\n", Warning, ClassUnknownKeyword, 2, "unknown keyword 'frobnicate' in global_defs"},
		{"weighted script in a sync group", "vrrp_script s {\nscript /bin/true\nweight 10\n}\nvrrp_sync_group G {\ngroup {\nV\n}\n}\n" + vi +
			"track_script {\ns\n}\n}\n", Warning, ClassGeneral, 17, "ignoring tracked script s with weights due to SYNC group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, _ := Parse("t.conf", []byte(tc.in), Options{RouteTables: map[string]int{}})
			for _, d := range res.Diags {
				if d.Pos.Line == tc.line && strings.Contains(d.Msg, tc.msg) {
					if d.Severity != tc.sev || d.Class != tc.class {
						t.Errorf("%s: severity %s class %d, want %s class %d", d, d.Severity, d.Class, tc.sev, tc.class)
					}
					return
				}
			}
			t.Errorf("want a message at line %d containing %q, got:\n%s", tc.line, tc.msg, res.Diags)
		})
	}
}

// TestShippedDefaultConfigQuirks: keepalived's own shipped keepalived.conf
// has vrrp_garp_interval 0 and vrrp_gna_interval 0, which current keepalived
// rejects; ulvs is lenient (reference §1.6) and reads them as "off".
func TestShippedDefaultConfigQuirks(t *testing.T) {
	t.Parallel()
	res := mustParse(t, "global_defs {\n vrrp_skip_check_adv_addr\n vrrp_strict\n vrrp_garp_interval 0\n vrrp_gna_interval 0\n}\n")
	g := res.Config.Global
	if g.GarpInterval != 0 || g.GnaInterval != 0 || !g.Strict || !g.SkipCheckAdvAddr {
		t.Errorf("global = %+v", g)
	}
	for _, d := range res.Diags {
		if d.Severity == Error {
			t.Errorf("unexpected error: %s", d)
		}
	}
}

func TestVirtualServerGroupEntries(t *testing.T) {
	t.Parallel()
	res := mustParse(t, `
virtual_server_group G {
    198.18.0.3-10 80
    198.18.1.1-198.18.1.4 443
    198.18.2.0/30
    2001:db8::2-a 80
    fwmark 7 inet6
}
`)
	e := res.Config.VirtualServerGroups[0].Entries
	check := func(i int, first, last string, port uint16) {
		t.Helper()
		if e[i].First != netip.MustParseAddr(first) || e[i].Last != netip.MustParseAddr(last) || e[i].Port != port {
			t.Errorf("entry %d = %v-%v:%d, want %s-%s:%d", i, e[i].First, e[i].Last, e[i].Port, first, last, port)
		}
	}
	check(0, "198.18.0.3", "198.18.0.10", 80)
	check(1, "198.18.1.1", "198.18.1.4", 443)
	check(2, "198.18.2.0", "198.18.2.3", 0)
	check(3, "2001:db8::2", "2001:db8::a", 80)
	if e[4].Fwmark != 7 || e[4].Family != "inet6" {
		t.Errorf("fwmark entry = %+v", e[4])
	}
}

func TestRoutesAndRules(t *testing.T) {
	t.Parallel()
	res := mustParse(t, `
vrrp_instance V {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        198.18.0.10
    }
    virtual_routes {
        src 198.18.0.10 to 198.18.9.0/24 via 198.18.0.254 dev eth0 table 100 metric 5
        198.18.12.0/24 via 198.18.0.1 or 198.18.0.2 dev eth0
        blackhole 198.18.14.0/24
    }
    virtual_rules {
        from 198.18.0.10/32 table 100 priority 10 no_track
    }
}
`)
	in := res.Config.Instances[0]
	want := []*Route{
		{Pos: Pos{"t.conf", 9}, Type: "unicast", Dst: netip.MustParsePrefix("198.18.9.0/24"), Src: netip.MustParseAddr("198.18.0.10"),
			Via: netip.MustParseAddr("198.18.0.254"), Dev: "eth0", Table: "100", Metric: 5},
		{Pos: Pos{"t.conf", 10}, Type: "unicast", Dst: netip.MustParsePrefix("198.18.12.0/24"), Via: netip.MustParseAddr("198.18.0.1"),
			Or: netip.MustParseAddr("198.18.0.2"), Dev: "eth0"},
		// keepalived cannot track a route with no interface: not tracked.
		{Pos: Pos{"t.conf", 11}, Type: "blackhole", Dst: netip.MustParsePrefix("198.18.14.0/24"), NoTrack: true},
	}
	if d := cmp.Diff(want, in.Routes, netipOpts); d != "" {
		t.Errorf("routes (-want +got):\n%s", d)
	}
	r := in.Rules[0]
	if r.From != netip.MustParsePrefix("198.18.0.10/32") || r.Table != "100" || r.Priority != 10 || !r.NoTrack {
		t.Errorf("rule = %+v", r)
	}
}

func TestScriptsAndNotify(t *testing.T) {
	t.Parallel()
	res, _ := Parse("t.conf", []byte(`
vrrp_script chk {
    script "killall -0 nginx && exit 0 || exit 1"
    interval 2
    weight -15 reverse
    fall 2
    rise 1
    user root root
}
vrrp_instance V {
    interface eth0
    virtual_router_id 1
    notify_master "/etc/keepalived/notify.sh -n master -a 172.16.100.1"
    notify /etc/keepalived/notify.sh nobody
    track_script {
        chk weight 10
    }
    virtual_ipaddress {
        198.18.0.10
    }
}
`), Options{})
	s := res.Config.Scripts[0]
	want := []string{"killall", "-0", "nginx", "&&", "exit", "0", "||", "exit", "1"}
	if d := cmp.Diff(want, s.Script.Argv); d != "" || s.Weight != -15 || !s.Reverse || s.Fall != 2 || s.Interval != 2*time.Second ||
		s.Script.User != "root" || s.Script.Group != "root" {
		t.Errorf("vrrp_script %+v %+v %s", s, s.Script, d)
	}
	in := res.Config.Instances[0]
	if d := cmp.Diff([]string{"/etc/keepalived/notify.sh", "-n", "master", "-a", "172.16.100.1"}, in.Notify.Master.Argv); d != "" {
		t.Errorf("notify_master argv (-want +got):\n%s", d)
	}
	// A word after an unquoted script is its run-as user (keepalived).
	if in.Notify.Generic.User != "nobody" || len(in.Notify.Generic.Argv) != 1 {
		t.Errorf("notify = %+v", in.Notify.Generic)
	}
	if w := in.TrackScripts[0].Weight; w == nil || *w != 10 {
		t.Errorf("track_script weight = %v", w)
	}
}

// TestLVSSyncDaemon: lvs_sync_daemon with its options and IPVS's
// defaults; a vrrp_instance's deprecated lvs_sync_daemon_interface means
// the same with that instance, and is warned about.
func TestLVSSyncDaemon(t *testing.T) {
	inst := "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n lvs_sync_daemon_interface eth1\n}\n"
	for _, tc := range []struct {
		name, text string
		want       LVSSyncDaemon
	}{
		{"global", "global_defs {\n lvs_sync_daemon eth0 VI_1 id 7 maxlen 1400 port 8849 ttl 2 group 224.0.0.99\n}\n",
			LVSSyncDaemon{Pos: Pos{File: "t.conf", Line: 2}, Interface: "eth0", Instance: "VI_1", SyncID: 7, MaxLen: 1400,
				Port: 8849, TTL: 2, Group: netip.MustParseAddr("224.0.0.99")}},
		{"deprecated", inst,
			LVSSyncDaemon{Pos: Pos{File: "t.conf", Line: 1}, Interface: "eth1", Instance: "VI_2", Port: 8848, TTL: 1,
				Group: netip.MustParseAddr("224.0.0.81")}},
		{"global wins", "global_defs {\n lvs_sync_daemon eth0 VI_1\n}\n" + inst,
			LVSSyncDaemon{Pos: Pos{File: "t.conf", Line: 2}, Interface: "eth0", Instance: "VI_1", Port: 8848, TTL: 1,
				Group: netip.MustParseAddr("224.0.0.81")}},
	} {
		res := mustParse(t, tc.text)
		got := res.Config.Global.LVSSyncDaemon
		if got == nil {
			t.Fatalf("%s: no lvs_sync_daemon", tc.name)
		}
		if diff := cmp.Diff(tc.want, *got, netipOpts); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if tc.name == "deprecated" && !hasDiag(res.Diags, Warning, 4, "specifying it in a vrrp_instance is deprecated") {
			t.Errorf("%s: no deprecation warning: %v", tc.name, res.Diags)
		}
	}
}

// TestStrictMode: vrrp_strict (and strict_mode) apply keepalived's rules to
// every instance: authentication removed, lower_prio_no_advert on,
// higher_prio_send_advert off, no GARP to lower priorities, state MASTER
// only at priority 255, and unicast peers refused.
func TestStrictMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, global, local string
		uLine               int
	}{
		{"vrrp_strict", "global_defs {\n vrrp_strict\n}\n", "", 18},
		{"strict_mode", "", " strict_mode\n", 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, _ := Parse("t.conf", []byte(tc.global+`vrrp_instance V {
 interface eth0
 virtual_router_id 1
 state MASTER
 priority 100
`+tc.local+` higher_prio_send_advert
 authentication {
  auth_type PASS
  auth_pass secret
 }
 virtual_ipaddress {
  198.18.0.1
 }
}
vrrp_instance U {
 interface eth0
 virtual_router_id 2
`+tc.local+` unicast_peer {
  198.18.0.9
 }
 virtual_ipaddress {
  198.18.0.2
 }
}
`), Options{})
			in := res.Config.Instances[0]
			if in.Auth != nil || !in.LowerPrioNoAdvert || in.HigherPrioSendAdvert || in.Garp.LowerPrioRepeat != 0 ||
				in.State != "BACKUP" || in.Accept == nil || *in.Accept {
				t.Errorf("instance V = %+v", in)
			}
			if !hasDiag(res.Diags, Error, tc.uLine, "vrrp_strict does not allow unicast_peer") {
				t.Errorf("unicast peers not refused:\n%s", res.Diags)
			}
		})
	}
}
