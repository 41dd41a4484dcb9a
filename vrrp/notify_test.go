package vrrp

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/internal/notify"
	"github.com/ulvs/ulvs/internal/testkit"
)

// eventually is testkit.Eventually at 10 ms, the interval vrrp's tests
// poll at.
func eventually(t *testing.T, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, 10*time.Millisecond, msg, cond)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestNotifyRealScripts runs notify scripts through internal/script (real
// processes), writes the notify FIFO and checks keepalived's formats:
// notify_* get their own arguments, the generic notify gets INSTANCE NAME
// STATE PRIORITY, the FIFO gets `INSTANCE "NAME" STATE PRIORITY`.
func TestNotifyRealScripts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	master := testkit.WriteScript(t, dir, "master.sh", `echo "master $*" >> `+out)
	stop := testkit.WriteScript(t, dir, "stop.sh", `echo "stop $*" >> `+out)
	generic := testkit.WriteScript(t, dir, "notify.sh", `echo "notify $*" >> `+out)
	fifo := filepath.Join(dir, "fifo")

	lan := NewMemLAN()
	h := lan.Host("a", hostA)
	cfg := &Config{
		Global: Global{NotifyFIFO: FIFO{Path: fifo}},
		Instances: []Instance{inst("VI_1", 51, 255, func(i *Instance) {
			i.State = StateMaster
			i.NotifyMaster = &Notify{Argv: []string{master, "arg one"}}
			i.NotifyStop = &Notify{Argv: []string{stop}}
			i.Notify = &Notify{Argv: []string{generic}}
		})},
		Logger: zaptest.NewLogger(t), Network: h, System: h,
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	// Read the FIFO ulvs creates.
	eventually(t, 5*time.Second, "fifo not created", func() bool {
		st, err := os.Stat(fifo)
		return err == nil && st.Mode()&os.ModeNamedPipe != 0
	})
	f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var mu sync.Mutex
	go func() {
		r := bufio.NewReader(f)
		for {
			l, err := r.ReadString('\n')
			if l != "" {
				mu.Lock()
				lines = append(lines, strings.TrimSuffix(l, "\n"))
				mu.Unlock()
			}
			if err != nil {
				if ctx.Err() != nil && n.Status().Instances[0].State == StateStop {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	// Both MASTER scripts run concurrently: wait for each before stopping,
	// or the stop would kill the slower one.
	eventually(t, 5*time.Second, "notify scripts did not run", func() bool {
		o := readFile(out)
		return strings.Contains(o, "notify INSTANCE VI_1 MASTER 255") && strings.Contains(o, "master arg one")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(readFile(out)), "\n")
	// The master scripts run concurrently; stop runs (and is waited for)
	// at shutdown.
	for _, want := range []string{"master arg one", "notify INSTANCE VI_1 MASTER 255", "stop ", "notify INSTANCE VI_1 STOP 255"} {
		found := false
		for _, g := range got {
			if g == want || g == strings.TrimSpace(want) {
				found = true
			}
		}
		if !found {
			t.Errorf("script output %q lacks %q", got, want)
		}
	}
	eventually(t, 5*time.Second, "fifo lines", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lines) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{`INSTANCE "VI_1" MASTER 255`, `INSTANCE "VI_1" STOP 255`}, lines); diff != "" {
		t.Errorf("fifo (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(fifo); !os.IsNotExist(err) {
		t.Errorf("the FIFO ulvs created is still there: %v", err)
	}
}

// TestTrackScriptTimeoutKills runs a real vrrp_script that hangs: it is
// killed at its timeout, counts as a failure, and the instance (weight 0)
// goes to FAULT.
func TestTrackScriptTimeoutKills(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pidf := filepath.Join(dir, "pid")
	hang := testkit.WriteScript(t, dir, "hang.sh", "echo $$ > "+pidf+"\nexec sleep 60")
	h := NewMemLAN().Host("a", hostA)
	cfg := &Config{
		Scripts:   []Script{{Name: "hang", Argv: []string{hang}, Interval: 300 * time.Millisecond, Timeout: 200 * time.Millisecond}},
		Instances: []Instance{inst("VI_1", 51, 100, func(i *Instance) { i.TrackScripts = []TrackRef{{Name: "hang"}} })},
		Logger:    zaptest.NewLogger(t), Network: h, System: h,
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 10*time.Second, "instance not in FAULT", func() bool {
		s := n.Status().Instances[0]
		return s.State == StateFault && len(s.Trackers) == 1 && s.Trackers[0].Status == "FAILED"
	})
	// A run in progress may be rewriting the file: read until it parses.
	var pid int
	eventually(t, 5*time.Second, "no pid in the script's file", func() bool {
		b, _ := os.ReadFile(pidf)
		p, err := strconv.Atoi(strings.TrimSpace(string(b)))
		pid = p
		return err == nil && p > 0
	})
	eventually(t, 5*time.Second, "the hung script is still alive", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}

// TestSMTPAlert checks the mails smtp_alert sends for VRRP (the SMTP
// session itself is internal/notify's): keepalived's subject and body, the
// server with port 25 added, the sender and router name from global_defs.
func TestSMTPAlert(t *testing.T) {
	t.Parallel()
	m := newMailer(&Global{Mail: &notify.Mail{Server: "192.0.2.1", To: []string{"ops@example.com", "root@localhost"},
		From: "keepalived@lb1", Helo: "lb1"}, RouterID: "LVS_DEVEL"}, zaptest.NewLogger(t))
	if m.mail.Server != "192.0.2.1:25" || m.mail.From != "keepalived@lb1" || m.mail.Helo != "lb1" {
		t.Errorf("mail settings %+v, want port 25 added and the configured sender and HELO", m.mail)
	}
	type sent struct{ subject, body string }
	got := make(chan sent, 4)
	m.send = func(_ context.Context, _ notify.Mail, subject, body string) error {
		got <- sent{subject, body}
		return nil
	}
	for _, tc := range []struct {
		kind, name string
		s          State
		want       sent
	}{
		{"INSTANCE", "VI_1", StateMaster, sent{"[LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="}},
		{"INSTANCE", "VI_1", StateBackup, sent{"[LVS_DEVEL] VRRP Instance VI_1 - Entering BACKUP state", "=> VRRP Instance is nolonger owning VRRP VIPs <="}},
		{"GROUP", "VG_1", StateFault, sent{"[LVS_DEVEL] VRRP Group VG_1 - Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="}},
	} {
		m.alert(context.Background(), tc.kind, tc.name, tc.s)
		select {
		case g := <-got:
			if g != tc.want {
				t.Errorf("%s %s %v: mail %+v, want %+v", tc.kind, tc.name, tc.s, g, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %s %v: no mail", tc.kind, tc.name, tc.s)
		}
	}
}

// TestInsecureScriptDisabled: with enable_script_security, a track script
// running as root from a directory anyone may write to is disabled
// ("Disabling track script") and so not tracked: its failures do not put
// the instance in FAULT. Without it the script runs (and fails here).
func TestInsecureScriptDisabled(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the path rules apply to scripts run as root")
	}
	for _, secure := range []bool{true, false} {
		t.Run(map[bool]string{true: "enable_script_security", false: "no script security"}[secure], func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o777); err != nil { // world-writable, no sticky bit
				t.Fatal(err)
			}
			fail := testkit.WriteScript(t, dir, "fail.sh", "exit 1")
			h := NewMemLAN().Host("a", hostA)
			cfg := &Config{
				Global:    Global{EnableScriptSecurity: secure, ScriptUser: "root"},
				Scripts:   []Script{{Name: "chk", Argv: []string{fail}, Interval: 100 * time.Millisecond}},
				Instances: []Instance{inst("VI_1", 51, 255, func(i *Instance) { i.State = StateMaster; i.TrackScripts = []TrackRef{{Name: "chk"}} })},
				Logger:    zaptest.NewLogger(t), Network: h, System: h,
			}
			n, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx) }()
			defer func() { cancel(); <-done }()
			want := StateFault
			if secure {
				want = StateMaster
			}
			eventually(t, 5*time.Second, "state "+want.String(), func() bool {
				s := n.Status().Instances[0]
				return s.State == want && (len(s.Trackers) == 0) == secure
			})
		})
	}
}
