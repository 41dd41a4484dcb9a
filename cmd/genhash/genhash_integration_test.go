package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/health/healthtest"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestGenhashMatchesDebian runs Debian's genhash (keepalived 2.2.7) and
// ours against the same nginx pages, HTTP and HTTPS, plain and -v, and
// wants the same bytes on stdout and stderr and the same exit status. The
// response time of -v is the one number that may differ.
func TestGenhashMatchesDebian(t *testing.T) {
	topotest.Require(t, "genhash", "nginx", "ss")
	ours := topotest.Binary(t, "./cmd/genhash")
	debian, err := exec.LookPath("genhash")
	if err != nil {
		t.Fatal(err)
	}
	tp := topotest.New(t)
	client := topotest.AddNode(t, tp, "client", topo.NodeConfig{Addrs: healthtest.Prefixes("198.18.60.1/24", "2001:db8:60::1/64"), NoDAD: true})
	web := topotest.AddNode(t, tp, "web", topo.NodeConfig{Addrs: healthtest.Prefixes("198.18.60.11/24", "2001:db8:60::11/64"), NoDAD: true})
	dir := t.TempDir()
	cert, key := healthtest.SelfSigned(t, dir, "web.example.com")
	big := make([]byte, 30000)
	rand.Read(big)
	text := bytes.Repeat([]byte("keepalived genhash line of text\n"), 200)
	if _, err := web.StartNginx(topo.NginxConfig{
		Dir:       dir,
		Listen:    []string{"80", "[::]:80"},
		TLSListen: []string{"443", "[::]:443"},
		TLSCert:   cert, TLSKey: key,
		Files: map[string][]byte{"/text.txt": text, "/bin.dat": big, "/empty.html": nil},
	}); err != nil {
		t.Fatal(err)
	}
	usecs := regexp.MustCompile(`= [0-9]+ usecs`)
	run := func(bin string, args []string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := client.Command(ctx, bin, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if err != nil {
			code = cmd.ProcessState.ExitCode()
		}
		// The usage names the program as invoked.
		return usecs.ReplaceAllString(out.String(), "= N usecs"), strings.ReplaceAll(errb.String(), bin, "PROG"), code
	}
	cases := [][]string{}
	for _, page := range []string{"/", "/text.txt", "/bin.dat", "/empty.html", "/missing"} {
		for _, tls := range [][]string{{"-p", "80"}, {"-S", "-p", "443"}} {
			for _, v := range [][]string{nil, {"-v"}} {
				a := append([]string{"-s", "198.18.60.11", "-u", page}, tls...)
				cases = append(cases, append(a, v...))
			}
		}
	}
	cases = append(cases,
		[]string{"-s", "2001:db8:60::11", "-p", "80", "-u", "/", "-v"},
		[]string{"-s", "198.18.60.11", "-p", "80", "-u", "/text.txt", "-V", "www.example.com", "-P", "1.1", "-v"},
		[]string{"-S", "-I", "-V", "web.example.com", "-s", "198.18.60.11", "-p", "443", "-u", "/", "-v"},
		[]string{"-s", "198.18.60.11", "-p", "81", "-u", "/", "-v"},
		[]string{"-s", "198.18.60.11", "-p", "80", "-u", "/", "extra"},
	)
	for _, args := range cases {
		name := strings.Join(args, " ")
		// The Date header may tick between the two runs: try again then.
		var o1, e1, o2, e2 string
		var c1, c2 int
		for try := 0; try < 5; try++ {
			o1, e1, c1 = run(debian, args)
			o2, e2, c2 = run(ours, args)
			if o1 == o2 && e1 == e2 && c1 == c2 {
				break
			}
		}
		if o1 != o2 || e1 != e2 || c1 != c2 {
			t.Errorf("%s: differs from Debian's genhash\nexit %d vs %d\nstdout:\n%s\n--- ours:\n%s\nstderr: %q vs %q", name, c1, c2, o1, o2, e1, e2)
			continue
		}
		if !strings.Contains(name, "extra") && !strings.Contains(name, " 81 ") && c1 == 0 && !regexp.MustCompile(`[0-9a-f]{32}\n`).MatchString(o1) {
			t.Errorf("%s: no digest in %q", name, o1)
		}
	}
}
