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
