package conf

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRouteTableNames: a table name is looked up in iproute2's rt_tables,
// as keepalived does (lib/rttables.c: "NUMBER NAME" lines, the reserved
// names without the file); a name that is not there drops the route or
// rule with keepalived's message at its line.
func TestRouteTableNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "rt_tables")
	if err := os.WriteFile(f, []byte("# comment\n255\tlocal\n100\tfoo # ours\n0x20 bar\nbad line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tables := ReadRouteTables(f, filepath.Join(dir, "missing"))
	for name, want := range map[string]int{"foo": 100, "bar": 32, "main": 254, "local": 255, "default": 253} {
		if tables[name] != want {
			t.Errorf("table %s = %d, want %d (%v)", name, tables[name], want, tables)
		}
	}
	const text = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.18.0.100
    }
    virtual_routes {
        198.18.7.0/24 via 198.18.0.1 dev eth0 table foo
        198.18.8.0/24 via 198.18.0.1 dev eth0 table nosuch
    }
    virtual_rules {
        from 198.18.7.0/24 table 0x10 priority 100
        from 198.18.8.0/24 table bar priority 101
    }
}
`
	res, _ := Parse("t.conf", []byte(text), Options{RouteTables: tables})
	in := res.Config.Instances[0]
	if len(in.Routes) != 1 || in.Routes[0].Table != "100" {
		t.Errorf("routes %+v, want the one in table foo as 100", in.Routes)
	}
	if len(in.Rules) != 2 || in.Rules[0].Table != "16" || in.Rules[1].Table != "32" {
		t.Errorf("rules %+v, want tables 16 and 32", in.Rules)
	}
	if !hasDiag(res.Diags, Warning, 9, "routing table nosuch not found") {
		t.Errorf("diagnostics:\n%s", res.Diags)
	}
}
