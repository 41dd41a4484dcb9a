package conf

import (
	"testing"
)

// TestURLRegex: regex_options become RE2 flags, offsets are read, and a
// pattern RE2 cannot run is an error at the regex line.
func TestURLRegex(t *testing.T) {
	t.Parallel()
	const head = `virtual_server 198.18.0.10 80 { lb_algo rr
    lb_kind NAT
    real_server 198.18.0.11 80 {
        HTTP_GET {
            url {
                path /
`
	const tail = `            }
        }
    }
}
`
	res, err := Parse("t.conf", []byte(head+`                regex "state: (up|ok)"
                regex_options caseless dotall no_start_optimize
                regex_min_offset 4
                regex_max_offset 100
                regex_no_match
`+tail), Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := res.Config.VirtualServers[0].RealServers[0].Checkers[0].HTTP.URLs[0]
	if got := u.RE2(); got != "(?is)state: (up|ok)" {
		t.Errorf("RE2() = %q", got)
	}
	if u.RegexMinOffset != 4 || u.RegexMaxOffset == nil || *u.RegexMaxOffset != 100 || !u.RegexNoMatch || u.RegexPos.Line != 7 {
		t.Errorf("url = %+v", u)
	}

	for _, tc := range []struct {
		name, lines string
		sev         Severity
		line        int
		msg         string
	}{
		{"backreference", `                regex "(a)\\1"` + "\n", Error, 7, "Go's RE2 cannot run it"},
		{"lookahead", `                regex "ok(?=!)"` + "\n", Error, 7, "Go's RE2 cannot run it"},
		{"extended", "                regex \"a b\"\n                regex_options extended\n", Error, 7, "extended"},
		{"firstline", "                regex \"ok\"\n                regex_options firstline\n", Warning, 8, "no such option"},
		{"without regex", "                regex_no_match\n", Warning, 5, "without regex"},
		{"min above max", "                regex \"ok\"\n                regex_min_offset 9\n                regex_max_offset 3\n", Warning, 5, "min offset 9 > regex_max_offset 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := Parse("t.conf", []byte(head+tc.lines+tail), Options{})
			if res == nil || !hasDiag(res.Diags, tc.sev, tc.line, tc.msg) {
				t.Errorf("want %v at line %d with %q; got %v", tc.sev, tc.line, tc.msg, res.Diags)
			}
		})
	}
}
