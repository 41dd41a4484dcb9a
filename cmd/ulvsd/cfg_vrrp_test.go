package main

import (
	"testing"

	"github.com/ulvs/ulvs/conf"
)

// TestVRRPSMTPServer: smtp_server and its port make one host:port, an
// IPv6 address in brackets (it was "::1:25" for VRRP's mail).
func TestVRRPSMTPServer(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"global_defs {\n notification_email {\n  ops@example.com\n }\n smtp_server 198.18.0.25\n}\n", "198.18.0.25:25"},
		{"global_defs {\n notification_email {\n  ops@example.com\n }\n smtp_server 2001:db8::25 2525\n}\n", "[2001:db8::25]:2525"},
	} {
		res, err := conf.Parse("test.conf", []byte(tc.conf), conf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		vc, err := vrrpConfig(res.Config)
		if err != nil {
			t.Fatal(err)
		}
		if vc.Global.Mail == nil || vc.Global.Mail.Server != tc.want {
			t.Errorf("%q: mail %+v, want server %q", tc.conf, vc.Global.Mail, tc.want)
		}
	}
}
