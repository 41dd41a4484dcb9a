package script

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeScript(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// secureDir returns a directory only root can write, when running as root.
func secureDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNeedsShell(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/etc/keepalived/check.sh"}, false},
		{[]string{"killall", "-0", "nginx"}, false},
		{[]string{"killall", "-0", "nginx", "&&", "exit", "0", "||", "exit", "1"}, true},
		{[]string{"</dev/tcp/127.0.0.1/80"}, true},
		{[]string{"echo", "$(date)"}, true},
		{[]string{"/bin/notify.sh", "-n", "master"}, false},
	} {
		if got := needsShell(tc.argv); got != tc.want {
			t.Errorf("needsShell(%q) = %v, want %v", tc.argv, got, tc.want)
		}
	}
}

func TestRunExecDirectWithExtraArgs(t *testing.T) {
	d := secureDir(t)
	out := filepath.Join(d, "out")
	s := writeScript(t, d, "n.sh", "#!/bin/sh\necho \"$#:$*:${LD_LIBRARY_PATH+ldset}\" > "+out+"\n", 0o755)
	t.Setenv("LD_LIBRARY_PATH", "/nonexistent")
	sc, err := Policy{}.Prepare(Spec{Argv: []string{s, "a b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Shell || sc.Disabled != nil {
		t.Fatalf("want direct exec, got shell=%v disabled=%v", sc.Shell, sc.Disabled)
	}
	r := sc.Run(context.Background(), 5*time.Second, "INSTANCE", "VI_1", "MASTER", "100")
	if !r.OK() {
		t.Fatalf("run: %+v", r)
	}
	b, _ := os.ReadFile(out)
	// The configured word "a b" stays one argument; LD_LIBRARY_PATH is removed.
	if got, want := strings.TrimSpace(string(b)), "6:a b c INSTANCE VI_1 MASTER 100:"; got != want {
		t.Errorf("script saw %q, want %q", got, want)
	}
}

func TestShellCommandLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv []string
		want int
	}{
		{[]string{"true", "&&", "exit", "0", "||", "exit", "1"}, 0},
		{[]string{"false", "&&", "exit", "0", "||", "exit", "3"}, 3},
		{[]string{"</dev/null"}, 0},
		{[]string{"</nonexistent/file"}, 2}, // dash's status for a failed redirection
	} {
		sc, err := Policy{}.Prepare(Spec{Argv: tc.argv})
		if err != nil {
			t.Fatal(err)
		}
		if !sc.Shell {
			t.Errorf("%q: want shell", tc.argv)
		}
		r := sc.Run(context.Background(), 5*time.Second)
		if r.Err != nil || r.ExitCode != tc.want {
			t.Errorf("%q: exit %d err %v, want %d", tc.argv, r.ExitCode, r.Err, tc.want)
		}
	}
}

func TestNonExecutableFileRunsThroughShell(t *testing.T) {
	t.Parallel()
	d := secureDir(t)
	s := writeScript(t, d, "noshebang", "exit 7\n", 0o755)
	sc, err := Policy{}.Prepare(Spec{Argv: []string{s}})
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Shell {
		t.Fatal("a file without #! must run through the shell")
	}
	if r := sc.Run(context.Background(), 5*time.Second); r.ExitCode != 7 {
		t.Errorf("exit = %d, want 7 (%v)", r.ExitCode, r.Err)
	}
}

func TestTimeoutKillsHangingScript(t *testing.T) {
	t.Parallel()
	d := secureDir(t)
	// The script ignores SIGTERM, so SIGKILL after the grace period ends it.
	s := writeScript(t, d, "hang.sh", "#!/bin/sh\ntrap '' TERM\nsleep 30 & wait\n", 0o755)
	sc, err := Policy{KillGrace: 200 * time.Millisecond}.Prepare(Spec{Argv: []string{s}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := sc.Run(context.Background(), 200*time.Millisecond)
	if !r.TimedOut || r.OK() {
		t.Fatalf("want timed out, got %+v", r)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("hanging script held the runner for %v", el)
	}
}

func TestMissingScriptIsDisabled(t *testing.T) {
	t.Parallel()
	sc, err := Policy{}.Prepare(Spec{Argv: []string{"/nonexistent/check.sh"}})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Disabled == nil {
		t.Fatal("missing script must be disabled")
	}
	if r := sc.Run(context.Background(), time.Second); r.Err == nil {
		t.Error("running a disabled script must report an error")
	}
}

func TestSecurityRules(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ownership rules need root to set up")
	}
	t.Parallel()
	base := secureDir(t)
	// A directory anyone may write, without the sticky bit: unsafe.
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	// A sticky world-writable directory (like /tmp) is acceptable.
	sticky := filepath.Join(base, "sticky")
	if err := os.Mkdir(sticky, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	// A file owned by another user.
	other := writeScript(t, base, "other.sh", "#!/bin/sh\nexit 0\n", 0o755)
	if err := os.Chown(other, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		path     string
		insecure bool
	}{
		{"safe", writeScript(t, base, "safe.sh", "#!/bin/sh\nexit 0\n", 0o755), false},
		{"world-writable file", writeScript(t, base, "ww.sh", "#!/bin/sh\nexit 0\n", 0o757), true},
		{"in open dir", writeScript(t, open, "x.sh", "#!/bin/sh\nexit 0\n", 0o755), true},
		{"in sticky dir", writeScript(t, sticky, "x.sh", "#!/bin/sh\nexit 0\n", 0o755), false},
		{"owned by nobody", other, true},
	} {
		for _, enforce := range []bool{false, true} {
			sc, err := Policy{EnableSecurity: enforce, User: "root"}.Prepare(Spec{Argv: []string{tc.path}})
			if err != nil {
				t.Fatal(err)
			}
			if got := sc.Insecure != ""; got != tc.insecure {
				t.Errorf("%s: insecure = %v (%q), want %v", tc.name, got, sc.Insecure, tc.insecure)
			}
			if got := sc.Disabled != nil; got != (tc.insecure && enforce) {
				t.Errorf("%s (enforce=%v): disabled = %v", tc.name, enforce, sc.Disabled)
			}
		}
	}
	// A symlink into an unsafe directory is unsafe too.
	link := filepath.Join(base, "link.sh")
	if err := os.Symlink(filepath.Join(open, "x.sh"), link); err != nil {
		t.Fatal(err)
	}
	sc, _ := Policy{EnableSecurity: true, User: "root"}.Prepare(Spec{Argv: []string{link}})
	if sc.Disabled == nil {
		t.Error("symlink to a script in an unsafe directory must be disabled")
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch user")
	}
	t.Parallel()
	sc, err := Policy{}.Prepare(Spec{Argv: []string{"id", "-u"}, User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	r := sc.Run(context.Background(), 5*time.Second)
	if !r.OK() || strings.TrimSpace(string(r.Output)) != "65534" {
		t.Errorf("id -u as nobody: %q %+v", r.Output, r)
	}
	if _, err := (Policy{}).Prepare(Spec{Argv: []string{"true"}, User: "no-such-user-ulvs"}); err == nil {
		t.Error("unknown user must be an error")
	}
}

// TestTextFileBusyRetried: a script still open for writing (ETXTBSY on
// exec) runs once the writer lets go, within the retry window.
func TestTextFileBusyRetried(t *testing.T) {
	t.Parallel()
	d := secureDir(t)
	s := writeScript(t, d, "busy.sh", "#!/bin/sh\nexit 0\n", 0o755)
	w, err := os.OpenFile(s, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Policy{}.Prepare(Spec{Argv: []string{s}})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { w.Close() })
	if r := sc.Run(context.Background(), 5*time.Second); !r.OK() {
		t.Errorf("a script busy for 50 ms: %+v, want it run once free", r)
	}
	// Held beyond the window, it is an error that says so.
	w, err = os.OpenFile(s, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if r := sc.Run(context.Background(), 5*time.Second); r.OK() || !errors.Is(r.Err, syscall.ETXTBSY) {
		t.Errorf("a script held open: %+v, want ETXTBSY", r)
	}
}

// TestSecurityWithoutDefaultUser: with enable_script_security and neither
// script_user nor a keepalived_script user, keepalived drops every script
// that has no user of its own ("Unable to set default user keepalived_script
// for script"); ulvsd used to run them as root.
func TestSecurityWithoutDefaultUser(t *testing.T) {
	t.Parallel()
	noUser := func(name string) (*user.User, error) {
		if name == DefaultUser {
			return nil, user.UnknownUserError(name)
		}
		return user.Lookup(name)
	}
	withUser := func(name string) (*user.User, error) {
		if name == DefaultUser {
			return &user.User{Username: DefaultUser, Uid: "65534", Gid: "65534"}, nil
		}
		return user.Lookup(name)
	}
	for _, tc := range []struct {
		name     string
		pol      Policy
		spec     Spec
		disabled bool
		uid      uint32
	}{
		{"security, no user anywhere", Policy{EnableSecurity: true, lookup: noUser}, Spec{Argv: []string{"true"}}, true, 0},
		{"security, shell line, no user", Policy{EnableSecurity: true, lookup: noUser}, Spec{Argv: []string{"true", "&&", "true"}}, true, 0},
		{"security, script_user", Policy{EnableSecurity: true, User: "nobody", lookup: noUser}, Spec{Argv: []string{"true"}}, false, 65534},
		{"security, the script's own user", Policy{EnableSecurity: true, lookup: noUser}, Spec{Argv: []string{"true"}, User: "nobody"}, false, 65534},
		{"security, keepalived_script exists", Policy{EnableSecurity: true, lookup: withUser}, Spec{Argv: []string{"true"}}, false, 65534},
		{"no security, no user: the daemon's", Policy{lookup: noUser}, Spec{Argv: []string{"true"}}, false, uint32(os.Geteuid())},
	} {
		sc, err := tc.pol.Prepare(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := sc.Disabled != nil; got != tc.disabled {
			t.Errorf("%s: disabled = %v, want %v", tc.name, sc.Disabled, tc.disabled)
		}
		if tc.disabled {
			if !strings.Contains(fmt.Sprint(sc.Disabled), "Unable to set default user keepalived_script for script") {
				t.Errorf("%s: %v does not say keepalived's words", tc.name, sc.Disabled)
			}
			if r := sc.Run(context.Background(), time.Second); r.Err == nil {
				t.Errorf("%s: a dropped script ran", tc.name)
			}
			continue
		}
		if sc.UID != tc.uid {
			t.Errorf("%s: runs as uid %d, want %d", tc.name, sc.UID, tc.uid)
		}
	}
}
