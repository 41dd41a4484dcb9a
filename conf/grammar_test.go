package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseTree parses text as file name (in dir when given) and returns the
// canonical dump and the diagnostics.
func parseTree(t *testing.T, name, text string, opts Options) (string, Diagnostics) {
	t.Helper()
	res, _ := Parse(name, []byte(text), opts)
	return DumpString(res.Tree), res.Diags
}

func msgs(ds Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

// TestGrammar covers keepalived's line pipeline rule by rule (reference
// §1.1–1.6), comparing the canonical dump of what was read.
func TestGrammar(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
		opts           Options
		wantDiag       []string
	}{
		{
			name: "comments anywhere outside quotes",
			in:   "global_defs { # c1\n router_id a!b ! c2\n notification_email_from \"x#y!z\" # c3\n}\n",
			want: "global_defs {\n    router_id a\n    notification_email_from \"x#y!z\"\n}\n",
		},
		{
			name: "escaped comment characters are literal",
			in:   "global_defs {\n router_id a\\#b\\!c\n}\n",
			want: "global_defs {\n    router_id \"a#b!c\"\n}\n",
		},
		{
			name: "single quotes do not protect comments",
			in:   "global_defs {\n router_id 'a#b'\n}\n",
			want: "global_defs {\n    router_id 'a\n}\n",
		},
		{
			name: "brace glued to the name",
			in:   "vrrp_script chk{\nscript \"/bin/true\"\n}\n",
			want: "vrrp_script chk {\n    script /bin/true\n}\n",
		},
		{
			name: "brace on the next line",
			in:   "vrrp_script chk\n{\nscript /bin/true\n}\n",
			want: "vrrp_script chk {\n    script /bin/true\n}\n",
		},
		{
			name: "value block on one line and closing braces together",
			in: "vrrp_script a {\nscript /bin/true\n}\nvrrp_script b {\nscript /bin/true\n}\n" +
				"vrrp_instance V { interface eth0\nvirtual_router_id 1\ntrack_script { a b }\nvirtual_ipaddress { 198.18.0.10 } }\n",
			want: "vrrp_script a {\n    script /bin/true\n}\nvrrp_script b {\n    script /bin/true\n}\n" +
				"vrrp_instance V {\n    interface eth0\n    virtual_router_id 1\n    track_script {\n        a b\n    }\n" +
				"    virtual_ipaddress {\n        198.18.0.10\n    }\n}\n",
		},
		{
			name: "quoted words keep blanks and braces",
			in:   "global_defs {\n router_id \"my router {1}\"\n}\n",
			want: "global_defs {\n    router_id \"my router {1}\"\n}\n",
		},
		{
			name: "script keywords take both quotes and escapes",
			in:   "vrrp_instance V {\ninterface eth0\nvirtual_router_id 1\nnotify_master \"/bin/echo 'a b' c\\tx\" root\n}\n",
			want: "vrrp_instance V {\n    interface eth0\n    virtual_router_id 1\n    notify_master \"/bin/echo \\047a b\\047 c\\011x\" root\n}\n",
		},
		{
			name: "CRLF line ends",
			in:   "global_defs {\r\n router_id r1\r\n}\r\n",
			want: "global_defs {\n    router_id r1\n}\n",
		},
		{
			name: "definitions: simple, braces, before comma or paren, undefined left alone",
			in:   "$RID=r1\n$P=8\nglobal_defs {\n router_id $RID\n notification_email_from ${RID}x\n smtp_server 198.18.0.1 ${P}0\n}\nvrrp_script s {\nscript \"/bin/echo $UNDEF,$RID x\"\n}\n",
			want: "global_defs {\n    router_id r1\n    notification_email_from r1x\n    smtp_server 198.18.0.1 80\n}\nvrrp_script s {\n    script \"/bin/echo \\044UNDEF,r1 x\"\n}\n",
		},
		{
			name:     "a blank before = is not a definition",
			in:       "$X =1\n",
			want:     "",
			wantDiag: []string{"t.conf:1: warning: unknown keyword '$X' at the top level"},
		},
		{
			name: "definitions expand at use time, recursively",
			in:   "$A=${B}-x\n$B=one\nglobal_defs {\n router_id $A\n}\n$B=two\nglobal_defs {\n router_id $A\n}\n",
			want: "global_defs {\n    router_id one-x\n}\nglobal_defs {\n    router_id two-x\n}\n",
		},
		{
			name: "multi-line definition expands into several lines",
			in:   "$VS=\\\nreal_server 198.18.0.11 80 {\\\n weight 2\\\n}\nvirtual_server 198.18.0.100 80 {\nlb_algo rr\nlb_kind DR\n$VS\n}\n",
			want: "virtual_server 198.18.0.100 80 {\n    lb_algo rr\n    lb_kind DR\n    real_server 198.18.0.11 80 {\n        weight 2\n    }\n}\n",
		},
		{
			name: "built-in definitions",
			in:   "global_defs {\n router_id ${_INSTANCE}\n notification_email_from ${_ENV ULVS_TEST_VAR}\n smtp_helo_name a${_HASH}b\n}\n",
			opts: Options{ConfigID: "node7", Env: func(k string) string { return map[string]string{"ULVS_TEST_VAR": "v"}[k] }},
			want: "global_defs {\n    router_id node7\n    notification_email_from v\n    smtp_helo_name \"a#b\"\n}\n",
		},
		{
			name:     "recursive definition is an error, not a hang",
			in:       "$A=$A\nglobal_defs {\n router_id $A\n}\n",
			want:     "global_defs {\n}\n",
			wantDiag: []string{"t.conf:3: error: definitions expand recursively without end"},
		},
		{
			name: "conditional lines",
			in:   "global_defs {\n@n1 router_id one\n@n2 router_id two\n@^n1 smtp_helo_name not-one\n@^n2 notification_email_from not-two\n@n1\n}\n",
			opts: Options{ConfigID: "n1"},
			want: "global_defs {\n    router_id one\n    notification_email_from not-two\n}\n",
		},
		{
			name: "~SEQ with defaults, step and hex, and nesting",
			in: "virtual_server_group g {\n~SEQ(i, 3) 198.18.0.$i 80\n~SEQ(i, 10, -5, 0) 198.18.1.$i 80\n~SEQx(i, 9, 11) 2001:db8::$i 80\n" +
				"~SEQ(a,1,2) ~SEQ(b,1,2) 198.18.${a}.$b 81\n}\n",
			want: "virtual_server_group g {\n    198.18.0.1 80\n    198.18.0.2 80\n    198.18.0.3 80\n" +
				"    198.18.1.10 80\n    198.18.1.5 80\n    198.18.1.0 80\n    2001:db8::9 80\n    2001:db8::a 80\n    2001:db8::b 80\n" +
				"    198.18.1.1 81\n    198.18.1.2 81\n    198.18.2.1 81\n    198.18.2.2 81\n}\n",
		},
		{
			name: "~LST single and tuples",
			in:   "virtual_server_group g {\n~LST(h, 11, 12) 198.18.0.$h 80\n~LST({h,p}, {21,443}, {22,8443}) 198.18.0.$h $p\n}\n",
			want: "virtual_server_group g {\n    198.18.0.11 80\n    198.18.0.12 80\n    198.18.0.21 443\n    198.18.0.22 8443\n}\n",
		},
		{
			name: "line of 1022 bytes is read, 1023 bytes is too long",
			in: "global_defs {\n router_id " + strings.Repeat("a", 1022-len(" router_id ")) + "\n" +
				" smtp_helo_name " + strings.Repeat("b", 1023-len(" smtp_helo_name ")) + "\n}\n",
			want:     "global_defs {\n    router_id " + strings.Repeat("a", 1022-len(" router_id ")) + "\n}\n",
			wantDiag: []string{"t.conf:3: error: line too long (1024 bytes, the limit is 1022) - ignoring"},
		},
		{
			name:     "extra closing brace",
			in:       "global_defs {\n}\n}\n",
			want:     "global_defs {\n}\n",
			wantDiag: []string{"t.conf:3: warning: extra '}' found", "t.conf:3: warning: unknown keyword '}' at the top level"},
		},
		{
			name:     "unclosed block names the line it opened on",
			in:       "global_defs {\n router_id x\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n",
			want:     "global_defs {\n    router_id x\n}\nvrrp_instance V {\n    interface eth0\n    virtual_router_id 1\n}\n",
			wantDiag: []string{"t.conf:4: warning: vrrp_instance V: block opened here is never closed (missing '}')"},
		},
		{
			// keepalived's process_stream: the unknown keyword's '{' is
			// unexpected, its lines belong to the enclosing block, and its
			// '}' closes that block; what follows is at the top level.
			name: "unknown keyword with a block is read as keepalived reads it",
			in:   "global_defs {\n routerid x\n foo {\n  router_id inside\n }\n router_id y\n}\n",
			want: "global_defs {\n    router_id inside\n}\n",
			wantDiag: []string{
				"t.conf:2: warning: unknown keyword 'routerid' in global_defs",
				"t.conf:3: warning: unexpected '{' - ignoring",
				"t.conf:3: warning: unknown keyword 'foo' in global_defs",
				"t.conf:6: warning: unknown keyword 'router_id' at the top level",
				"t.conf:7: warning: unknown keyword '}' at the top level",
			},
		},
		{
			// keepalived reports the missing '{' and reads the lines after
			// as the block's, up to a '}'.
			name: "missing brace after a block keyword",
			in:   "global_defs\nrouter_id x\n}\n",
			want: "global_defs {\n    router_id x\n}\n",
			wantDiag: []string{"t.conf:2: warning: global_defs: missing '{' at beginning of configuration block",
				"t.conf:3: warning: extra '}' found"},
		},
		{
			name:     "unterminated quote",
			in:       "global_defs {\n router_id \"abc\n}\n",
			want:     "global_defs {\n}\n",
			wantDiag: []string{"t.conf:2: warning: unmatched quote: 'router_id \"abc' - ignoring the line"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := parseTree(t, "t.conf", tc.in, tc.opts)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("dump (-want +got):\n%s", d)
			}
			var gotDiag []string
			for _, m := range msgs(diags) {
				// Only the grammar's messages; model warnings are tested elsewhere.
				if tc.wantDiag != nil || strings.Contains(m, "error") || strings.Contains(m, "warning") {
					gotDiag = append(gotDiag, m)
				}
			}
			if tc.wantDiag == nil {
				tc.wantDiag = nil
			}
			if d := cmp.Diff(tc.wantDiag, filterGrammar(gotDiag, tc.wantDiag)); d != "" {
				t.Errorf("diagnostics (-want +got):\n%s", d)
			}
		})
	}
}

// filterGrammar keeps the diagnostics that are about the grammar: those the
// test expects plus any other error.
func filterGrammar(got, want []string) []string {
	var out []string
	for _, g := range got {
		keep := strings.Contains(g, ": error: ")
		for _, w := range want {
			if g == w {
				keep = true
			}
		}
		if keep {
			out = append(out, g)
		}
	}
	return out
}

func TestSplitQuoted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`notify "/bin/x.sh a b"`, []string{"notify", "/bin/x.sh a b"}, false},
		{`ab"c d"e 'f g'`, []string{"abc de", "f g"}, false},
		{`a\tb \x41\x42 \101 \cA \E \q`, []string{"a\tb", "AB", "A", "\x01", "\x1b", "q"}, false},
		{`"a\"b"`, []string{`a"b`}, false},
		{`'it''s'`, []string{"its"}, false},
		{`"open`, nil, true},
		{`trailing\`, nil, true},
	} {
		got, err := splitQuoted(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("splitQuoted(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" && !tc.err {
			t.Errorf("splitQuoted(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

func TestSplitWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"a  b\tc", []string{"a", "b", "c"}, true},
		{`a"b c"d`, []string{"a", "b c", "d"}, true},
		{`"" x`, []string{"", "x"}, true},
		{`x "open`, []string{"x"}, false},
	} {
		got, ok := splitWords(tc.in)
		if ok != tc.ok {
			t.Errorf("splitWords(%q) ok = %v", tc.in, ok)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("splitWords(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInclude(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"keepalived.conf":      "global_defs {\n router_id main\n}\ninclude conf.d/*.conf\ninclude other/{a,b}.inc\ninclude missing/*.conf\n",
		"conf.d/10-vi.conf":    "vrrp_instance V1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.18.0.10\n }\n}\n",
		"conf.d/20-vi.conf":    "include ../nested.inc\n",
		"conf.d/notconf.txt":   "this is not included\n",
		"nested.inc":           "vrrp_instance V2 {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  198.18.0.20\n }\n}\n",
		"other/a.inc":          "vrrp_script a {\n script /bin/true\n}\n",
		"other/b.inc":          "vrrp_script b {\n script \"${_PWD}/x.sh\"\n}\n",
		"loop/keepalived.conf": "include keepalived.conf\n",
	})
	res, err := Read(filepath.Join(dir, "keepalived.conf"), Options{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	var names []string
	for _, in := range res.Config.Instances {
		names = append(names, in.Name)
	}
	if d := cmp.Diff([]string{"V1", "V2"}, names); d != "" {
		t.Errorf("instances from globbed includes, in order (-want +got):\n%s", d)
	}
	if len(res.Config.Scripts) != 2 || res.Config.Scripts[1].Script.Cmd != filepath.Join(dir, "other")+"/x.sh" {
		t.Errorf("brace-expanded includes or ${_PWD}: %+v", res.Config.Scripts)
	}
	// A plain include that matches nothing is only a warning.
	found := false
	for _, d := range res.Diags {
		if strings.Contains(d.Msg, "missing/*.conf") && d.Severity == Warning && d.Pos.Line == 6 {
			found = true
		}
	}
	if !found {
		t.Errorf("want a warning at line 6 for the include that matches nothing, got:\n%s", res.Diags)
	}
	// The included file's position is its own.
	if p := res.Config.Instances[1].Pos; !strings.HasSuffix(p.File, "nested.inc") || p.Line != 1 {
		t.Errorf("V2 position = %v, want nested.inc:1", p)
	}

	// includem makes no match an error; -e (AllConfig) does it for include.
	_, err = Parse(filepath.Join(dir, "x.conf"), []byte("includem nothing*.conf\n"), Options{})
	if err == nil {
		t.Error("includem with no match must be an error")
	}
	_, err = Parse(filepath.Join(dir, "x.conf"), []byte("include nothing.conf\n"), Options{AllConfig: true})
	if err == nil {
		t.Error("include with no match must be an error with AllConfig")
	}
	// An include loop is stopped.
	_, err = Read(filepath.Join(dir, "loop", "keepalived.conf"), Options{})
	if err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("include loop: err = %v", err)
	}
}

func TestExpandBraces(t *testing.T) {
	t.Parallel()
	got := expandBraces("a{b,c{d,e}}f{1,2}")
	want := []string{"abf1", "abf2", "acdf1", "acdf2", "acef1", "acef2"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a{x}b"}, expandBraces("a{x}b")); d != "" {
		t.Errorf("a brace without a comma is literal: %s", d)
	}
}

func TestRandomDefinitionInRange(t *testing.T) {
	t.Parallel()
	for seed := int64(0); seed < 50; seed++ {
		res, _ := Parse("t.conf", []byte("global_defs {\n router_id ${_RANDOM 5 7}\n}\n"), Options{RandomSeed: seed})
		id := res.Config.Global.RouterID
		if id != "5" && id != "6" && id != "7" {
			t.Fatalf("seed %d: ${_RANDOM 5 7} = %q", seed, id)
		}
	}
}

// TestMissingBraceAtTheTopLevel: a top-level block without '{' is read as
// keepalived's VRRP process reads it (its lines are the block's), and its
// lines are flagged as keepalived's other processes read them (top-level
// keywords, each unknown), so that every line keepalived flags is flagged.
func TestMissingBraceAtTheTopLevel(t *testing.T) {
	t.Parallel()
	res, _ := Parse("t.conf", []byte("vrrp_instance V\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.18.0.1\n }\n}\n"),
		Options{})
	in := res.Config.Instances
	if len(in) != 1 || in[0].VRID != 1 || len(in[0].VIPs) != 1 {
		t.Fatalf("instances %+v", in)
	}
	if !hasDiag(res.Diags, Warning, 2, "missing '{' at beginning of configuration block") {
		t.Errorf("no missing '{' at line 2:\n%s", res.Diags)
	}
	for line := 2; line <= 7; line++ {
		found := false
		for _, d := range res.Diags {
			found = found || d.Pos.Line == line && d.Class == ClassUnknownKeyword
		}
		if !found {
			t.Errorf("line %d not flagged as keepalived's other processes read it:\n%s", line, res.Diags)
		}
	}
}
