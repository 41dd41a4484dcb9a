package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestConfigTestSeeds runs `ulvsd -t -f FILE` on every seed config, as the
// seed README asks: each would run (no error; the status is keepalived's, 5
// or 6 where keepalived -t reports something), except the truncated one,
// which is named at line 59.
func TestConfigTestSeeds(t *testing.T) {
	for _, f := range topotest.SeedConfigs(t) {
		name := filepath.Base(f)
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "-t", "-f", f)
			if name == "001-nginx-dual-master-b-truncated.conf" {
				if code != 5 {
					t.Fatalf("exit %d, want 5", code)
				}
				for _, want := range []string{
					f + ":59: warning: vrrp_instance VI_1: block opened here is never closed",
					f + ":59: warning: vrrp instance VI_1 already defined",
				} {
					if !strings.Contains(stderr, want) {
						t.Errorf("stderr lacks %q:\n%s", want, stderr)
					}
				}
				return
			}
			if code != 0 && code != 5 && code != 6 || strings.Contains(stderr, ": error: ") {
				t.Fatalf("exit %d, want a configuration that runs:\n%s", code, stderr)
			}
			for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if l != "" && !strings.HasPrefix(l, f+":") {
					t.Errorf("message not in FILE:LINE form: %q", l)
				}
			}
		})
	}
}

func TestConfigTestInterfaceWarning(t *testing.T) {
	f := filepath.Join(t.TempDir(), "k.conf")
	os.WriteFile(f, []byte("vrrp_instance V {\n interface ulvsnoif0\n virtual_router_id 9\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n"), 0o644)
	code, _, stderr := runCLI(t, "-t", "-f", f)
	// keepalived: "WARNING - interface %s for vrrp_instance %s doesn't
	// exist", which makes its -t status 5.
	if code != 5 || !strings.Contains(stderr, f+":2: warning: interface ulvsnoif0 not found on this machine") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestDumpConfIsAFixedPoint(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "inc.conf"), []byte("vrrp_script s {\n script \"/bin/echo 'x y'\"\n}\n"), 0o644)
	main := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(main, []byte("$VIP=198.18.0.10\ninclude inc.conf\n@node1 vrrp_instance V { interface eth0\n"+
		"virtual_router_id 1\nvirtual_ipaddress { $VIP }\ntrack_script { s } }\n"), 0o644)
	code, dump1, stderr := runCLI(t, "--dump-conf", "-i", "node1", "-f", main)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(dump1, "virtual_ipaddress {\n        198.18.0.10\n    }") || strings.Contains(dump1, "include") {
		t.Errorf("dump not resolved:\n%s", dump1)
	}
	again := filepath.Join(dir, "dump.conf")
	os.WriteFile(again, []byte(dump1), 0o644)
	code, dump2, stderr := runCLI(t, "--dump-conf", "-f", again)
	if code != 0 || dump2 != dump1 {
		t.Errorf("exit %d (%s); second dump differs:\n%s\n---\n%s", code, stderr, dump1, dump2)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-x"}, 1, "option -x is not supported: SNMP"},
		{[]string{"-lnDx"}, 1, "option -x is not supported"},
		{[]string{"--snmp"}, 1, "option --snmp is not supported"},
		{[]string{"-B"}, 1, "option -B is not supported: BFD"},
		{[]string{"-u", "999", "-n", "-f", "/nonexistent.conf"}, 1, "no such file"},
		{[]string{"-P", "-C"}, 1, "exclude each other"},
		{[]string{"--signum=RELOAD"}, 0, "1\n"},
		{[]string{"--signum", "JSON"}, 0, "36\n"},
		{[]string{"--keywords"}, 0, "| vrrp_instance | `virtual_router_id` | supported |"},
		{[]string{"--signum=json"}, 1, "Unknown sigfunc json"},
		{[]string{"-v"}, 0, "Keepalived v2.2.7 (ulvs "},
		{[]string{"stray"}, 1, "unexpected argument"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.out) {
			t.Errorf("ulvsd %v: exit %d, output %q; want exit %d containing %q", tc.args, code, stdout+stderr, tc.code, tc.out)
		}
	}
	// keepalived writes -v and --version on stderr, where exporters read them.
	for _, v := range []string{"-v", "--version"} {
		if _, stdout, stderr := runCLI(t, v); stdout != "" || !strings.Contains(stderr, "--enable-json") {
			t.Errorf("ulvsd %s: stdout %q, stderr %q; want the version on stderr", v, stdout, stderr)
		}
	}
	o, err := parseOptions([]string{"-lnD", "-f", "x.conf", "-t"}, &bytes.Buffer{})
	if err != nil || !o.logConsole || !o.dontFork || !o.logDetail || o.configFile != "x.conf" || !o.configTest {
		t.Errorf("combined short flags: %+v %v", o, err)
	}
}

// TestConfigTestRunsTranslations: -t runs what start-up runs, so a
// configuration the daemon would refuse in its translation (an SSL ca file
// that cannot be read) fails -t (status 4, keepalived's "cannot run"), and
// the daemon refuses it before starting anything, with the same message.
func TestConfigTestRunsTranslations(t *testing.T) {
	f := filepath.Join(t.TempDir(), "k.conf")
	os.WriteFile(f, []byte("SSL {\n ca /nonexistent/ulvs-ca.pem\n}\nvirtual_server 198.18.0.9 443 {\n lb_algo rr\n lb_kind NAT\n"+
		" protocol TCP\n real_server 198.18.0.10 443 {\n  SSL_GET {\n   url {\n    path /\n   }\n  }\n }\n}\n"), 0o644)
	want := "SSL ca: open /nonexistent/ulvs-ca.pem"
	code, _, stderr := runCLI(t, "-t", "-f", f)
	if code != 4 || !strings.Contains(stderr, want) {
		t.Errorf("-t: exit %d, stderr:\n%s\nwant %s", code, stderr, want)
	}
	code, _, stderr = runCLI(t, "-n", "-f", f, "-p", "", "-r", "", "-c", "", "--control", filepath.Join(t.TempDir(), "s"))
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "not starting") {
		t.Errorf("daemon: exit %d, stderr:\n%s\nwant %s", code, stderr, want)
	}
}

// TestMaxConnsRange: --max-conns outside what the table can hold is
// refused with the bounds, before anything starts (-1 and 0 used to become
// the default while ulvsadm -Ln printed size=-1; 99999999999 began
// allocating tens of GiB).
func TestMaxConnsRange(t *testing.T) {
	for _, bad := range []string{"-1", "0", "16777217", "99999999999"} {
		code, _, stderr := runCLI(t, "--max-conns", bad, "-t", "-f", "/nonexistent.conf")
		if code != 1 || !strings.Contains(stderr, "--max-conns "+bad+": ") || !strings.Contains(stderr, "1 to 16777216") {
			t.Errorf("--max-conns %s: exit %d, stderr %q; want it refused with the range", bad, code, stderr)
		}
	}
	for _, good := range []string{"1", "20000", "16777216"} {
		if _, err := parseOptions([]string{"--max-conns", good}, &bytes.Buffer{}); err != nil {
			t.Errorf("--max-conns %s: %v", good, err)
		}
	}
}

// TestRingVersion: --ring-version takes 2 (the default) or 3, anything
// else is refused before anything starts, naming the two.
func TestRingVersion(t *testing.T) {
	for _, bad := range []string{"1", "4", "0"} {
		code, _, stderr := runCLI(t, "--ring-version", bad, "-t", "-f", "/nonexistent.conf")
		if code != 1 || !strings.Contains(stderr, "--ring-version "+bad+": 2 (TPACKET_V2) or 3 (TPACKET_V3)") {
			t.Errorf("--ring-version %s: exit %d, stderr %q; want it refused", bad, code, stderr)
		}
	}
	for _, c := range []struct {
		args []string
		want int
	}{{nil, 2}, {[]string{"--ring-version", "2"}, 2}, {[]string{"--ring-version", "3"}, 3}} {
		o, err := parseOptions(c.args, &bytes.Buffer{})
		if err != nil || o.ringVersion != c.want {
			t.Errorf("%q: ring version %v, %v; want %d", c.args, o, err, c.want)
		}
	}
}

// TestConfigErrorsCappedAndEscaped: a file of random bytes gets a bounded
// report whose every line is printable text: control bytes, escape
// sequences and invalid UTF-8 are shown escaped, and past the cap one line
// says how many more there are. The whole report used to be printed, raw
// (a 50 MB random file printed 98,459 lines of raw bytes).
func TestConfigErrorsCappedAndEscaped(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 400<<10)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	// An escape sequence that would recolour a terminal, on a line of its
	// own, after an instance without a virtual_router_id, which keepalived's
	// VRRP refuses and so does ulvsd (the rest, unknown keywords, keepalived
	// reports and runs with).
	b = append([]byte("vrrp_instance \x1b[31mred\x1b[0m {\n}\n"), b...)
	f := filepath.Join(t.TempDir(), "random.conf")
	os.WriteFile(f, b, 0o644)
	check := func(what, out string) {
		t.Helper()
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) > 103 {
			t.Errorf("%s: %d lines, cap 100", what, len(lines))
		}
		if !utf8.ValidString(out) {
			t.Errorf("%s: invalid UTF-8 in the report", what)
		}
		for _, l := range lines {
			for _, r := range l {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					t.Fatalf("%s: control character %q in %q", what, r, l)
				}
			}
		}
		if !strings.Contains(out, `\x1b[31mred\x1b[0m`) {
			t.Errorf("%s: the escape sequence is not shown escaped", what)
		}
		if !regexp.MustCompile(`and [0-9,]+ more (errors|messages) not shown`).MatchString(out) {
			t.Errorf("%s: no line counts what was left out:\n%s", what, lines[len(lines)-1])
		}
	}
	code, _, stderr := runCLI(t, "-t", "-f", f)
	if code != conf.ExitProblems && code != conf.ExitMissingParameter {
		t.Errorf("-t: exit %d, want keepalived's %d or %d", code, conf.ExitProblems, conf.ExitMissingParameter)
	}
	check("-t", stderr)
	code, _, stderr = runCLI(t, "-n", "-f", f, "-p", "", "-r", "", "-c", "", "--control", filepath.Join(t.TempDir(), "s"))
	if code != 1 || !strings.Contains(stderr, "not starting") {
		t.Errorf("daemon: exit %d", code)
	}
	check("daemon", stderr)
}
