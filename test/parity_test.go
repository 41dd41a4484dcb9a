package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// The corpus of TestKeepalivedParity: the project's cases (testdata/parity:
// one .conf per case, a directory with a main.conf for include cases), the
// seed configs, and Debian's keepalived samples. ULVS_PARITY_DIRS adds
// directories (colon-separated) of more keepalived.conf files.
func parityCorpus(t *testing.T) []string {
	t.Helper()
	root, err := topotest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	glob := func(pattern string) {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	glob(filepath.Join(root, "testdata", "parity", "*.conf"))
	glob(filepath.Join(root, "testdata", "parity", "*", "main.conf"))
	files = append(files, topotest.SeedConfigs(t)...)
	glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	for _, d := range filepath.SplitList(os.Getenv("ULVS_PARITY_DIRS")) {
		if d != "" {
			glob(filepath.Join(d, "*"))
		}
	}
	sort.Strings(files)
	return files
}

// parityResult is what one configuration test said about a file.
type parityResult struct {
	status int
	out    string
	hung   bool
}

var (
	// keepalived: "(FILE: Line N) msg" or, for the main file at times,
	// "(Line N) msg".
	kaLine = regexp.MustCompile(`^\((?:(.+?): )?Line (\d+)\) `)
	// ulvsd: "FILE:N: error|warning|note: msg".
	ulvsLine = regexp.MustCompile(`^(.+?):(\d+): (?:error|warning|note): `)
)

// flagged collects the lines a configuration test names, as "base:line"
// (base: the file's name; main is the file tested).
func flagged(out, main string, re *regexp.Regexp) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		s := re.FindStringSubmatch(l)
		if s == nil {
			continue
		}
		f := s[1]
		if f == "" {
			f = main
		}
		m[filepath.Base(f)+":"+s[2]] = true
	}
	return m
}

// interfacesOf names the interfaces a configuration mentions, so that the
// namespace it is tested in has them: what conf reads, and the words after
// "interface", "dev", "bind_if" and in track_interface blocks for what it
// could not read.
func interfacesOf(path string) []string {
	names := map[string]bool{}
	if res, _ := conf.Read(path, conf.Options{ConfigID: "parity"}); res != nil && res.Config != nil {
		c := res.Config
		names[c.Global.DefaultInterface] = true
		if sd := c.Global.LVSSyncDaemon; sd != nil {
			names[sd.Interface] = true
		}
		for _, in := range c.Instances {
			names[in.Interface] = true
			for _, tr := range in.TrackInterfaces {
				names[tr.Name] = true
			}
			for _, a := range append(append([]*conf.IPAddress(nil), in.VIPs...), in.ExcludedVIPs...) {
				names[a.Dev] = true
			}
		}
	}
	data, _ := os.ReadFile(path)
	words := strings.Fields(strings.NewReplacer("{", " { ", "}", " } ").Replace(string(data)))
	inTrack := false
	for i, w := range words {
		switch {
		case w == "track_interface":
			inTrack = true
		case inTrack && w == "}":
			inTrack = false
		case inTrack && w != "{" && w != "weight" && !isNumber(w):
			names[w] = true
		case (w == "interface" || w == "dev" || w == "bind_if" || w == "oif" || w == "iif") && i+1 < len(words):
			names[words[i+1]] = true
		}
	}
	var out []string
	for n := range names {
		if validIfName(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func isNumber(s string) bool { _, err := strconv.Atoi(s); return err == nil }

var ifName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,14}$`)

func validIfName(s string) bool { return ifName.MatchString(s) && s != "lo" }

var paritySeq atomic.Uint32

// parityNamespace makes a namespace with the named interfaces up (veth
// pairs; this kernel may lack dummy) and lo.
func parityNamespace(t *testing.T, ifs []string) string {
	t.Helper()
	ns := fmt.Sprintf("upar%d_%d", os.Getpid()%100000, paritySeq.Add(1))
	run := func(args ...string) error {
		return exec.Command("ip", args...).Run()
	}
	if err := run("netns", "add", ns); err != nil {
		t.Fatalf("ip netns add %s: %v", ns, err)
	}
	t.Cleanup(func() { _ = run("netns", "del", ns) })
	_ = run("-n", ns, "link", "set", "lo", "up")
	for i, name := range ifs {
		peer := fmt.Sprintf("pp%d", i)
		if err := run("-n", ns, "link", "add", name, "type", "veth", "peer", "name", peer); err != nil {
			t.Logf("%s: cannot make interface %s: %v", ns, name, err)
			continue
		}
		_ = run("-n", ns, "link", "set", name, "up")
		_ = run("-n", ns, "link", "set", peer, "up")
	}
	return ns
}

// configTest runs a configuration test in the namespace, from the file's
// directory (relative includes resolve as they do for the daemon).
func configTest(ns, path string, argv ...string) parityResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Dir = filepath.Dir(path)
	out, err := cmd.CombinedOutput()
	r := parityResult{out: string(out)}
	if ctx.Err() != nil {
		r.hung = true
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.status = ee.ExitCode()
	} else if err != nil {
		r.status = -1
	}
	return r
}

// TestKeepalivedParity runs `keepalived -t` (Debian's 2.2.7) and `ulvsd -t`
// on every file of the corpus, each in a namespace that has the interfaces
// the file names, and compares the exit status and the lines each flags.
// It wants: every file keepalived passes without a message passes ulvsd
// (status 0); ulvsd flags at least 95 % of the lines keepalived flags; the
// exit status is the same for at least 95 % of the files; no crash or hang.
// ULVS_PARITY_VERBOSE=1 prints every difference.
func TestKeepalivedParity(t *testing.T) {
	topotest.Require(t, "keepalived")
	ulvsd := topotest.Binary(t, "./cmd/ulvsd")
	files := parityCorpus(t)
	if len(files) < 50 {
		t.Fatalf("the corpus has only %d files", len(files))
	}
	verbose := os.Getenv("ULVS_PARITY_VERBOSE") == "1"
	var (
		sameStatus, kaFlags, found, clean, cleanOK int
		broken                                     []string
		report                                     strings.Builder
	)
	for _, f := range files {
		ns := parityNamespace(t, interfacesOf(f))
		base := filepath.Base(f)
		ka := configTest(ns, f, "keepalived", "-t", "-i", "parity", "-f", base)
		us := configTest(ns, f, ulvsd, "-t", "-i", "parity", "-f", base)
		kl, ul := flagged(ka.out, base, kaLine), flagged(us.out, base, ulvsLine)
		if us.hung || us.status < 0 || us.status > 6 || strings.Contains(us.out, "panic:") {
			broken = append(broken, fmt.Sprintf("%s: ulvsd -t status %d (hung %v):\n%s", f, us.status, us.hung, us.out))
		}
		if ka.status == us.status {
			sameStatus++
		}
		var missed []string
		for l := range kl {
			kaFlags++
			if ul[l] {
				found++
			} else {
				missed = append(missed, l)
			}
		}
		if ka.status == 0 && strings.TrimSpace(ka.out) == "" {
			clean++
			if us.status == 0 {
				cleanOK++
			} else {
				broken = append(broken, fmt.Sprintf("%s: keepalived accepts it cleanly, ulvsd -t says %d:\n%s", f, us.status, us.out))
			}
		}
		if verbose && (ka.status != us.status || len(missed) > 0) {
			sort.Strings(missed)
			fmt.Fprintf(&report, "== %s: keepalived %d, ulvsd %d; missed %v\n-- keepalived:\n%s-- ulvsd:\n%s\n",
				f, ka.status, us.status, missed, dedupe(ka.out), us.out)
		}
	}
	if verbose {
		t.Log("\n" + report.String())
	}
	pct := func(a, b int) float64 {
		if b == 0 {
			return 100
		}
		return 100 * float64(a) / float64(b)
	}
	t.Logf("keepalived parity: %d files; exit status equal on %d (%.1f %%); keepalived flags %d lines, ulvsd flags %d of them (%.1f %%); "+
		"%d files keepalived passes cleanly, ulvsd passes %d", len(files), sameStatus, pct(sameStatus, len(files)),
		kaFlags, found, pct(found, kaFlags), clean, cleanOK)
	for _, b := range broken {
		t.Error(b)
	}
	if p := pct(sameStatus, len(files)); p < 95 {
		t.Errorf("exit status equal on %.1f %% of files, want at least 95 %% (ULVS_PARITY_VERBOSE=1 lists them)", p)
	}
	if p := pct(found, kaFlags); p < 95 {
		t.Errorf("ulvsd flags %.1f %% of the lines keepalived flags, want at least 95 %% (ULVS_PARITY_VERBOSE=1 lists them)", p)
	}
}

// dedupe drops repeated lines: keepalived reads the file once per process
// (parent, VRRP, checker) and says most things two or three times.
func dedupe(s string) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		b.WriteString(l + "\n")
	}
	return b.String()
}
