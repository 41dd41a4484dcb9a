package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestDebPackage builds the Debian package (scripts/deb.sh, as `make deb`),
// checks it with lintian, installs it into a scratch root with dpkg (its
// maintainer scripts run, chrootless, against that root), runs the
// installed ulvsd -t on a seed configuration, renders every manual page
// with man -l, and exercises the keepalived/ipvsadm alternatives: never
// over a real binary, removed with the package, the conffile kept until
// purge.
func TestDebPackage(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if topotest.Strict() {
			t.Fatal("TestDebPackage needs root (dpkg --root installs as root)")
		}
		t.Skip("TestDebPackage needs root")
	}
	topotest.Require(t, "dpkg-deb", "dpkg", "lintian", "man", "update-alternatives", "dpkg-divert")
	root, err := topotest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	run := func(dir, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, name, args...)
		c.Dir = dir
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	out := t.TempDir()
	deb := strings.TrimSpace(lastLine(run(root, "scripts/deb.sh", out)))
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("scripts/deb.sh printed %q", deb)
	}

	// lintian: no error, no warning (the info tags are logged). The one
	// override, checked below, is Go's static linking.
	t.Logf("lintian:\n%s", run("", "lintian", "--fail-on", "error,warning", "--display-info", deb))

	// A scratch root with an empty dpkg database and a real keepalived.
	r := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers",
		"var/lib/dpkg/alternatives", "etc/alternatives", "usr/sbin"} {
		if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/diversions"} {
		if err := os.WriteFile(filepath.Join(r, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	realKeepalived := "#!/bin/sh\necho the real keepalived\n"
	if err := os.WriteFile(filepath.Join(r, "usr/sbin/keepalived"), []byte(realKeepalived), 0o755); err != nil {
		t.Fatal(err)
	}
	dpkg := func(args ...string) string {
		t.Helper()
		return run("", "dpkg", append([]string{"--root=" + r, "--force-script-chrootless", "--force-depends",
			"--log=" + filepath.Join(r, "dpkg.log")}, args...)...)
	}
	dpkg("-i", deb)
	for _, f := range []string{"usr/sbin/ulvsd", "usr/sbin/ulvsadm", "usr/sbin/ulvslab", "usr/bin/ulvs-genhash",
		"usr/sbin/ulvs-alternatives", "lib/systemd/system/ulvsd.service", "etc/default/ulvsd",
		"usr/share/doc/ulvs/copyright", "usr/share/doc/ulvs/changelog.gz", "usr/share/doc/ulvs/README.md.gz"} {
		if _, err := os.Stat(filepath.Join(r, f)); err != nil {
			t.Errorf("installed package lacks %s: %v", f, err)
		}
	}
	ov, _ := os.ReadFile(filepath.Join(r, "usr/share/lintian/overrides/ulvs"))
	for _, l := range strings.Split(strings.TrimSpace(string(ov)), "\n") {
		if !strings.HasPrefix(l, "ulvs: statically-linked-binary [") {
			t.Errorf("lintian override beyond Go's static linking: %s", l)
		}
	}
	if c := run("", "dpkg-query", "--root="+r, "-W", "-f=${Conffiles}", "ulvs"); !strings.Contains(c, "/etc/default/ulvsd ") {
		t.Errorf("conffiles: %q, want /etc/default/ulvsd", c)
	}

	// The installed ulvsd checks a seed configuration.
	conf := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(conf, []byte(seed(t, "000-dr-wrr-tcpcheck-sorry.conf")), 0o644); err != nil {
		t.Fatal(err)
	}
	// The seed uses nb_get_retry in TCP_CHECK, which keepalived 2.2.7 skips
	// with a message: -t says so and exits 5, as keepalived -t does.
	tc := exec.Command(filepath.Join(r, "usr/sbin/ulvsd"), "-t", "-f", conf)
	got, err := tc.CombinedOutput()
	if code := tc.ProcessState.ExitCode(); code != 5 || !strings.Contains(string(got), "configuration runs, with the problems above") {
		t.Errorf("installed ulvsd -t: status %d (%v), want 5 with the seed's warnings:\n%s", code, err, got)
	}
	if got := run("", filepath.Join(r, "usr/sbin/ulvsd"), "-v"); !strings.Contains(got, "(ulvs 0.1.0:") {
		t.Errorf("installed ulvsd -v: %s", got)
	}

	// Every manual page renders, without a groff warning.
	pages, _ := filepath.Glob(filepath.Join(r, "usr/share/man/man*/*.gz"))
	if len(pages) != 5 {
		t.Errorf("manual pages %v, want ulvsd(8), ulvsadm(8), ulvslab(8), ulvs-alternatives(8), ulvs-genhash(1)", pages)
	}
	for _, p := range pages {
		c := exec.Command("man", "--warnings", "-l", p)
		c.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		var stderr strings.Builder
		c.Stderr = &stderr
		text, err := c.Output()
		name := strings.TrimSuffix(filepath.Base(p), ".gz")
		title := strings.ToUpper(strings.TrimSuffix(name, filepath.Ext(name)))
		if err != nil || stderr.Len() > 0 || !strings.Contains(string(text), "NAME") || !strings.Contains(string(text), title) {
			t.Errorf("man -l %s: %v\n%s\n%.300s", name, err, stderr.String(), text)
		}
	}

	// Alternatives, asked for in /etc/default/ulvsd: ipvsadm becomes
	// ulvsadm, the real keepalived stays.
	def := filepath.Join(r, "etc/default/ulvsd")
	b, _ := os.ReadFile(def)
	if err := os.WriteFile(def, append(b, "ULVS_ALTERNATIVES=yes\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg("-i", deb) // reinstalled: postinst configures again
	if l, err := os.Readlink(filepath.Join(r, "usr/sbin/ipvsadm")); err != nil || l != "/etc/alternatives/ipvsadm" {
		t.Errorf("usr/sbin/ipvsadm: %q, %v; want the alternatives link", l, err)
	}
	if l, _ := os.Readlink(filepath.Join(r, "etc/alternatives/ipvsadm")); l != "/usr/sbin/ulvsadm" {
		t.Errorf("ipvsadm alternative points at %q, want /usr/sbin/ulvsadm", l)
	}
	if b, _ := os.ReadFile(filepath.Join(r, "usr/sbin/keepalived")); string(b) != realKeepalived {
		t.Errorf("the real keepalived was replaced (now %q)", b)
	}
	// Asked explicitly, the real keepalived moves aside.
	c := exec.Command(filepath.Join(r, "usr/sbin/ulvs-alternatives"), "enable", "--divert")
	c.Env = append(os.Environ(), "DPKG_ROOT="+r)
	if o, err := c.CombinedOutput(); err != nil {
		t.Fatalf("ulvs-alternatives enable --divert: %v\n%s", err, o)
	}
	if l, _ := os.Readlink(filepath.Join(r, "etc/alternatives/keepalived")); l != "/usr/sbin/ulvsd" {
		t.Errorf("keepalived alternative points at %q, want /usr/sbin/ulvsd", l)
	}
	if b, _ := os.ReadFile(filepath.Join(r, "usr/sbin/keepalived.real")); string(b) != realKeepalived {
		t.Errorf("keepalived.real is %q, want the real keepalived", b)
	}

	// Removal takes the alternatives away and puts the real keepalived
	// back; the conffile stays until purge.
	dpkg("-r", "ulvs")
	if b, _ := os.ReadFile(filepath.Join(r, "usr/sbin/keepalived")); string(b) != realKeepalived {
		t.Errorf("after removal usr/sbin/keepalived is %q, want the real one back", b)
	}
	for _, f := range []string{"usr/sbin/ipvsadm", "usr/sbin/ulvsd", "usr/sbin/keepalived.real"} {
		if _, err := os.Lstat(filepath.Join(r, f)); err == nil {
			t.Errorf("%s is still there after removal", f)
		}
	}
	if _, err := os.Stat(def); err != nil {
		t.Errorf("the conffile went with removal: %v", err)
	}
	dpkg("--purge", "ulvs")
	if _, err := os.Stat(def); err == nil {
		t.Error("the conffile is still there after purge")
	}
	if left := run(r, "find", ".", "-path", "./var", "-prune", "-o", "-type", "f", "-print"); !regexp.MustCompile(`^(\./dpkg\.log\n|\./usr/sbin/keepalived\n)*$`).MatchString(left) {
		t.Errorf("files left after purge:\n%s", left)
	}
}
