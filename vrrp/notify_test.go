package vrrp

import (
	"bufio"
	"context"
	"net"
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
)

// eventually polls cond every 10 ms for up to timeout.
func eventually(t *testing.T, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
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
	master := writeScript(t, dir, "master.sh", `echo "master $*" >> `+out)
	stop := writeScript(t, dir, "stop.sh", `echo "stop $*" >> `+out)
	generic := writeScript(t, dir, "notify.sh", `echo "notify $*" >> `+out)
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
	eventually(t, 5*time.Second, "notify scripts did not run", func() bool {
		return strings.Contains(readFile(out), "notify INSTANCE VI_1 MASTER 255")
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
	hang := writeScript(t, dir, "hang.sh", "echo $$ > "+pidf+"\nexec sleep 60")
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
	b, err := os.ReadFile(pidf)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the hung script is still alive", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}

// TestSMTPAlert checks the mail keepalived's smtp_alert sends, against a
// scripted SMTP server on a pipe.
func TestSMTPAlert(t *testing.T) {
	t.Parallel()
	m := newMailer(&Global{SMTPServer: "192.0.2.1", NotificationEmail: []string{"ops@example.com", "root@localhost"},
		NotificationEmailFrom: "keepalived@lb1", RouterID: "LVS_DEVEL", SMTPHeloName: "lb1"}, zaptest.NewLogger(t))
	if m.server != "192.0.2.1:25" {
		t.Errorf("server %q, want port 25 added", m.server)
	}
	var got []string
	m.dial = func(ctx context.Context, addr string) (net.Conn, error) {
		c, s := net.Pipe()
		go fakeSMTP(s, &got)
		return c, nil
	}
	if err := m.send(context.Background(), "[LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state",
		"=> VRRP Instance is now owning VRRP VIPs <="); err != nil {
		t.Fatal(err)
	}
	want := []string{"EHLO lb1", "MAIL FROM:<keepalived@lb1>", "RCPT TO:<ops@example.com>", "RCPT TO:<root@localhost>", "DATA",
		"From: keepalived@lb1", "Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state", "X-Mailer: Keepalived",
		"To: ops@example.com, root@localhost", "", "=> VRRP Instance is now owning VRRP VIPs <=", ".", "QUIT"}
	// Drop the Date header, whose value changes.
	var filtered []string
	for _, l := range got {
		if !strings.HasPrefix(l, "Date: ") {
			filtered = append(filtered, l)
		}
	}
	if diff := cmp.Diff(want, filtered); diff != "" {
		t.Errorf("SMTP session (-want +got):\n%s", diff)
	}
	if what, body := mailText("INSTANCE", StateBackup); what != "VRRP Instance" || body != "=> VRRP Instance is nolonger owning VRRP VIPs <=" {
		t.Errorf("backup mail %q %q", what, body)
	}
}

// fakeSMTP answers one SMTP session and records the client's lines.
func fakeSMTP(c net.Conn, lines *[]string) {
	defer c.Close()
	w := bufio.NewWriter(c)
	r := bufio.NewReader(c)
	say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	say("220 fake ESMTP")
	data := false
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimRight(l, "\r\n")
		*lines = append(*lines, l)
		switch {
		case data && l == ".":
			data = false
			say("250 queued")
		case data:
		case strings.HasPrefix(l, "EHLO"), strings.HasPrefix(l, "MAIL"), strings.HasPrefix(l, "RCPT"):
			say("250 ok")
		case l == "DATA":
			data = true
			say("354 go on")
		case l == "QUIT":
			say("221 bye")
			return
		default:
			say("500 what")
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
			fail := writeScript(t, dir, "fail.sh", "exit 1")
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
