// Package script runs keepalived's scripts (vrrp_script, notify*, MISC_CHECK,
// quorum_up/down, notify_up/down) the way keepalived 2.x does, and applies
// its script security rules (keepalived core/notify.c, reference §6.5–6.6).
//
//   - The argument vector comes already split (package conf does keepalived's
//     quoting and escapes). A bare name is searched in PATH.
//   - A file that is a real executable (ELF, or a "#!" script) is run with
//     execve directly, no shell, in its own process group, with IFS,
//     LD_PRELOAD and LD_LIBRARY_PATH removed from the environment and a
//     parent-death signal of SIGTERM. Anything else ("</dev/tcp/host/port",
//     a script without "#!", a command line using shell operators such as
//     "killall -0 nginx && exit 0 || exit 1") runs through /bin/sh -c.
//   - The run-as user is the script's own "user USER [GROUP]", else
//     global script_user, else "keepalived_script" if that user exists, else
//     the daemon's own user — except with enable_script_security, where a
//     script left without a user is removed ("Unable to set default user").
//   - A script that will run as root must sit in a path owned by root that
//     no one else may write; otherwise "Unsafe permissions" is reported and,
//     with enable_script_security, the script is disabled.
//   - A script that outlives its timeout gets SIGTERM, then SIGKILL.
package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultUser is the user keepalived runs scripts as when it exists and no
// script_user is configured.
const DefaultUser = "keepalived_script"

// Policy holds the global_defs settings that govern scripts.
type Policy struct {
	// User and Group are global_defs script_user (empty: keepalived's
	// default choice).
	User, Group string
	// EnableSecurity is global_defs enable_script_security.
	EnableSecurity bool
	// KillGrace is how long a script has between SIGTERM and SIGKILL once
	// it times out (default 2 s).
	KillGrace time.Duration

	// lookup finds users (user.Lookup; tests replace it).
	lookup func(name string) (*user.User, error)
}

// Spec is a configured script: its argument vector and optional run-as
// user and group.
type Spec struct {
	Argv        []string
	User, Group string
}

// Script is a Spec resolved against the system and the Policy, ready to run.
type Script struct {
	// Argv is the configured argument vector.
	Argv []string
	// Path is the resolved executable (empty when run through the shell).
	Path string
	// Shell is set when the script runs as /bin/sh -c.
	Shell bool
	// UID and GID are the run-as credentials.
	UID, GID uint32
	// Username names the run-as user, for messages.
	Username string
	// Insecure holds the reason the script's path is unsafe, if it is.
	Insecure string
	// Disabled is non-nil when the script must not run (not found, not
	// executable by its user, insecure under enable_script_security).
	Disabled error

	grace time.Duration
}

// String returns the script as configured.
func (s *Script) String() string { return strings.Join(s.Argv, " ") }

// Prepare resolves spec: the run-as user, the executable, whether it runs
// through the shell, and the security verdict. It returns an error only for
// an empty argument vector or an unknown user; a script that is merely
// unusable comes back with Disabled set, as keepalived keeps it configured
// but never runs it.
func (p Policy) Prepare(spec Spec) (*Script, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, errors.New("script: empty script")
	}
	s := &Script{Argv: spec.Argv, grace: p.KillGrace}
	if s.grace == 0 {
		s.grace = 2 * time.Second
	}
	uname, gname := spec.User, spec.Group
	if uname == "" {
		uname, gname = p.User, p.Group
	}
	lookup := p.lookup
	if lookup == nil {
		lookup = user.Lookup
	}
	if uname == "" {
		if _, err := lookup(DefaultUser); err == nil {
			uname = DefaultUser
		} else if p.EnableSecurity {
			// keepalived (get_default_script_user): with script security
			// and no default user, a script without a user of its own is
			// removed rather than run as root.
			s.Disabled = fmt.Errorf("script: Unable to set default user %s for script - removing "+
				"(enable_script_security: set global_defs script_user, a user on the script, or create the user %s)",
				DefaultUser, DefaultUser)
			s.Username = DefaultUser
			return s, nil
		}
	}
	if uname == "" {
		s.UID, s.GID = uint32(os.Geteuid()), uint32(os.Getegid())
		if u, err := user.LookupId(strconv.Itoa(int(s.UID))); err == nil {
			s.Username = u.Username
		} else {
			s.Username = strconv.Itoa(int(s.UID))
		}
	} else {
		uid, gid, err := lookupUser(lookup, uname, gname)
		if err != nil {
			return nil, err
		}
		s.UID, s.GID, s.Username = uid, gid, uname
	}

	if needsShell(spec.Argv) {
		s.Shell = true
		return s, nil
	}
	path, err := lookPath(spec.Argv[0])
	if err != nil {
		s.Disabled = fmt.Errorf("script: %s: %w", spec.Argv[0], err)
		return s, nil
	}
	s.Path = path
	if !isExecutableFile(path) {
		// keepalived falls back to system() for files libmagic does not call
		// executable (no "#!", not ELF).
		s.Shell = true
	}
	if err := accessExec(path, s.UID, s.GID); err != nil {
		s.Disabled = fmt.Errorf("script: %s: not executable by %s: %w", path, s.Username, err)
		return s, nil
	}
	if s.UID == 0 || s.GID == 0 || setIDRoot(path) {
		if why := insecurePath(path); why != "" {
			s.Insecure = fmt.Sprintf("Unsafe permissions found for script '%s': %s", path, why)
			if p.EnableSecurity {
				s.Disabled = fmt.Errorf("script: %s (disabled by enable_script_security)", s.Insecure)
			}
		}
	}
	return s, nil
}

func lookupUser(lookup func(string) (*user.User, error), uname, gname string) (uint32, uint32, error) {
	u, err := lookup(uname)
	if err != nil {
		if _, nerr := strconv.Atoi(uname); nerr == nil {
			u, err = user.LookupId(uname)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("script: unknown user %q: %w", uname, err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if gname != "" {
		g, err := user.LookupGroup(strings.TrimPrefix(gname, ":"))
		if err != nil {
			return 0, 0, fmt.Errorf("script: unknown group %q: %w", gname, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uint32(uid), uint32(gid), nil
}

// needsShell reports whether the command line only makes sense to a shell:
// a "<" redirection test (keepalived's SC_SYSTEM case) or shell operators
// between words. keepalived 2.x would execve the first word with the
// operators as its arguments; what the configs mean (and what keepalived
// 1.x did) is a shell command, so ulvs runs it as one.
func needsShell(argv []string) bool {
	if strings.HasPrefix(argv[0], "<") {
		return true
	}
	for _, a := range argv {
		switch a {
		case "&&", "||", "|", ";", ">", ">>", "<", "2>&1", "&":
			return true
		}
		if strings.ContainsAny(a, "`") || strings.Contains(a, "$(") {
			return true
		}
	}
	return false
}

func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return "", err
		}
		return name, nil
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in PATH")
}

func isExecutableFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [4]byte
	n, _ := io.ReadFull(f, hdr[:])
	b := hdr[:n]
	return bytes.HasPrefix(b, []byte("#!")) || bytes.HasPrefix(b, []byte("\x7fELF"))
}

// accessExec checks that uid/gid may execute path (the classic permission
// bits; root may execute anything with at least one x bit).
func accessExec(path string, uid, gid uint32) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := st.Mode().Perm()
	switch {
	case uid == 0:
		if mode&0o111 != 0 {
			return nil
		}
	case sys.Uid == uid:
		if mode&0o100 != 0 {
			return nil
		}
	case sys.Gid == gid:
		if mode&0o010 != 0 {
			return nil
		}
	default:
		if mode&0o001 != 0 {
			return nil
		}
	}
	return fmt.Errorf("permission bits %v", mode)
}

func setIDRoot(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return (st.Mode()&os.ModeSetuid != 0 && sys.Uid == 0) || (st.Mode()&os.ModeSetgid != 0 && sys.Gid == 0)
}

// insecurePath applies keepalived's rule for scripts run as root: every
// component of the path (following symlinks) must be owned by root, and
// neither a regular file nor a directory without the sticky bit may be
// writable by a non-root group or by others. It returns why not, or "".
func insecurePath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err.Error()
	}
	seen := map[string]bool{}
	var check func(p string, depth int) string
	check = func(p string, depth int) string {
		if depth > 40 {
			return "too many symbolic links"
		}
		p = filepath.Clean(p)
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur := "/"
		for i := -1; i < len(parts); i++ {
			if i >= 0 {
				if parts[i] == "" {
					continue
				}
				cur = filepath.Join(cur, parts[i])
			}
			if seen[cur] {
				continue
			}
			seen[cur] = true
			lst, err := os.Lstat(cur)
			if err != nil {
				return err.Error()
			}
			if lst.Mode()&os.ModeSymlink != 0 {
				target, err := os.Readlink(cur)
				if err != nil {
					return err.Error()
				}
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(cur), target)
				}
				rest := filepath.Join(append([]string{target}, parts[i+1:]...)...)
				return check(rest, depth+1)
			}
			sys, ok := lst.Sys().(*syscall.Stat_t)
			if !ok {
				continue
			}
			if sys.Uid != 0 {
				return fmt.Sprintf("%s is owned by uid %d, not root", cur, sys.Uid)
			}
			mode := lst.Mode()
			if mode.IsDir() && mode&os.ModeSticky != 0 {
				continue
			}
			if mode.Perm()&0o002 != 0 {
				return fmt.Sprintf("%s is writable by others", cur)
			}
			if mode.Perm()&0o020 != 0 && sys.Gid != 0 {
				return fmt.Sprintf("%s is writable by group %d", cur, sys.Gid)
			}
		}
		return ""
	}
	return check(abs, 0)
}

// Result is the outcome of one run.
type Result struct {
	// ExitCode is the exit status (-1 when killed by a signal or not run).
	ExitCode int
	// TimedOut is set when the script outlived its timeout and was killed.
	TimedOut bool
	// Err is set when the script could not be started or was disabled.
	Err error
	// Output is the tail of what the script wrote (at most 4 KiB).
	Output []byte
	// Duration is how long it ran.
	Duration time.Duration
}

// OK reports whether the script ran and exited with status 0.
func (r Result) OK() bool { return r.Err == nil && !r.TimedOut && r.ExitCode == 0 }

// Run runs the script with extra arguments appended (keepalived's generic
// notify gets "INSTANCE name STATE prio" this way) and waits for it. A
// timeout of 0 means none; cancelling ctx kills the script's process group.
func (s *Script) Run(ctx context.Context, timeout time.Duration, extra ...string) Result {
	if s.Disabled != nil {
		return Result{ExitCode: -1, Err: s.Disabled}
	}
	out := &tailBuffer{max: 4096}
	start := time.Now()
	cmd, err := s.start(ctx, out, extra)
	if err != nil {
		return Result{ExitCode: -1, Err: fmt.Errorf("script: %s: %w", s, err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	res := Result{}
	select {
	case err = <-done:
	case <-timer:
		res.TimedOut = true
		err = s.kill(cmd, done)
	case <-ctx.Done():
		err = s.kill(cmd, done)
		res.Err = ctx.Err()
	}
	res.Duration = time.Since(start)
	res.Output = out.Bytes()
	res.ExitCode = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && res.Err == nil {
		res.Err = err
	}
	return res
}

// start starts the script. A start that fails with ETXTBSY is tried again
// for a moment: the file was open for writing, most often because it was
// just written and a process forked meanwhile still holds the descriptor
// until it execs (golang.org/issue/22315) — an editor or a deployment
// rewriting a check script meets the same.
func (s *Script) start(ctx context.Context, out *tailBuffer, extra []string) (*exec.Cmd, error) {
	for wait := 2 * time.Millisecond; ; wait *= 2 {
		var cmd *exec.Cmd
		if s.Shell {
			cmd = exec.Command("/bin/sh", "-c", shellJoin(s.Argv, extra))
		} else {
			cmd = exec.Command(s.Path, append(append([]string(nil), s.Argv[1:]...), extra...)...)
			cmd.Args[0] = s.Argv[0]
		}
		cmd.Env = cleanEnv(os.Environ())
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = sysProcAttr()
		if s.UID != uint32(os.Geteuid()) || s.GID != uint32(os.Getegid()) {
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.UID, Gid: s.GID, NoSetGroups: true}
		}
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || wait > 256*time.Millisecond {
			return cmd, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, err
		}
	}
}

func (s *Script) kill(cmd *exec.Cmd, done <-chan error) error {
	pgid := -cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(s.grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		return <-done
	}
}

// shellJoin joins argv for /bin/sh -c. Words come back as the user wrote
// them (conf removed the quotes), so words holding blanks are quoted again;
// shell operators are left bare.
func shellJoin(argv, extra []string) string {
	var b strings.Builder
	for i, a := range append(append([]string(nil), argv...), extra...) {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i >= len(argv) || strings.ContainsAny(a, " \t\n") {
			b.WriteString(Quote(a))
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// Quote returns s as one word for /bin/sh: single-quoted, each single
// quote in it ending the quoting, escaped, and opening it again.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cleanEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "IFS", "LD_PRELOAD", "LD_LIBRARY_PATH":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.b...)
}
