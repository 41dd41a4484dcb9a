package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDumpBuffer checks the layout of keepalived's dump_buffer against
// lines printed by Debian's genhash 2.2.7.
func TestDumpBuffer(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	dumpBuffer(&b, []byte("HTTP/1.1 200 OK\r\nServer: nginx/1"))
	dumpBuffer(&b, []byte("es\r\n\r\n"))
	dumpBuffer(&b, []byte("hello world\n"))
	want := "" +
		"0000  48 54 54 50 2f 31 2e 31 - 20 32 30 30 20 4f 4b 0d   HTTP/1.1 200 OK.\n" +
		"0016  0a 53 65 72 76 65 72 3a - 20 6e 67 69 6e 78 2f 31   .Server: nginx/1\n" +
		"0000  65 73 0d 0a 0d 0a       -                           es....          \n" +
		"0000  68 65 6c 6c 6f 20 77 6f - 72 6c 64 0a               hello world.    \n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestGetopt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		opts []parsedOpt
		rest []string
	}{
		{[]string{"-s", "1.2.3.4", "-p80", "-vS", "x"}, []parsedOpt{{short: 's', arg: "1.2.3.4"}, {short: 'p', arg: "80"}, {short: 'v'}, {short: 'S'}}, []string{"x"}},
		{[]string{"--serv=1.2.3.4", "--url", "/a", "--", "-v"}, []parsedOpt{{short: 's', arg: "1.2.3.4"}, {short: 'u', arg: "/a"}}, []string{"-v"}},
		{[]string{"--use", "-x", "--verbose=1", "-"}, []parsedOpt{{err: "Unknown option --use"}, {err: "Unknown option -x"}, {err: "Unknown option --verbose=1"}}, []string{"-"}},
		{[]string{"-u"}, []parsedOpt{{err: "Missing parameter for option -u"}}, nil},
		{[]string{"--url"}, []parsedOpt{{err: "Missing parameter for option --url"}}, nil},
	} {
		opts, rest := getopt(tc.args)
		if d := cmp.Diff(tc.opts, opts, cmp.AllowUnexported(parsedOpt{})); d != "" {
			t.Errorf("getopt(%q) opts (-want +got):\n%s", tc.args, d)
		}
		if d := cmp.Diff(tc.rest, rest); d != "" {
			t.Errorf("getopt(%q) rest (-want +got):\n%s", tc.args, d)
		}
	}
}

// TestCommandLineErrors checks the messages and exit status of a bad
// command line, as Debian's genhash 2.2.7 prints them (stderr, status 1).
func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args string
		msgs []string
	}{
		{"-h", nil},
		{"-s 1.2.3.4 -p 80", nil},
		{"-s foo -p 80 -u /", []string{"server should be an IP, not foo"}},
		{"-s 1.2.3.4 -p 0 -u /", []string{"invalid port number '0'"}},
		{"-s 1.2.3.4 -p 80 -u / a b", []string{"Unexpected argument(s): a b"}},
		{"-x -y -s 1.2.3.4", []string{"Unknown option -x", "Unknown option -y"}},
		{"--use 1 -s x", []string{"Unknown option --use", "server should be an IP, not x"}},
		{"-s 1.2.3.4 -p 80 -u / -P 2.0", []string{"invalid HTTP protocol version '2.0'"}},
		{"-s 1.2.3.4 -p 80 -u / -t -1", []string{"invalid timeout '-1'"}},
		{"-s 1.2.3.4 -p 80 -u / -m 3x", []string{"invalid fwmark '3x'"}},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"genhash"}, strings.Fields(tc.args)...)
		if code := run(context.Background(), args, &out, &errb); code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.args, code)
		}
		want := strings.Join(append(tc.msgs, ""), "\n") + strings.Replace(usageText, "%s", "genhash", 1)
		if len(tc.msgs) == 0 {
			want = strings.Replace(usageText, "%s", "genhash", 1)
		}
		if d := cmp.Diff(want, errb.String()); d != "" || out.Len() != 0 {
			t.Errorf("%s: stderr (-want +got):\n%s\nstdout %q", tc.args, d, out.String())
		}
	}
}
