package notify

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeSMTP answers one SMTP session on c and records the client's lines.
func fakeSMTP(c net.Conn, lines chan<- []string, refuseRcpt string) {
	defer c.Close()
	var got []string
	defer func() { lines <- got }()
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
		got = append(got, l)
		switch {
		case data && l == ".":
			data = false
			say("250 queued")
		case data:
		case refuseRcpt != "" && l == "RCPT TO:<"+refuseRcpt+">":
			say("550 no such user")
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

func pipeDial(lines chan<- []string, refuseRcpt string, addr *string) func(context.Context, string) (net.Conn, error) {
	return func(_ context.Context, a string) (net.Conn, error) {
		*addr = a
		c, s := net.Pipe()
		go fakeSMTP(s, lines, refuseRcpt)
		return c, nil
	}
}

// TestSend checks keepalived's smtp.c session: EHLO with smtp_helo_name,
// MAIL, one RCPT per address, DATA with From, Subject, X-Mailer and To,
// then QUIT; and that a refused recipient is an error naming it.
func TestSend(t *testing.T) {
	lines := make(chan []string, 1)
	var addr string
	m := Mail{Server: "192.0.2.1", Helo: "lb1", From: "keepalived@lb1", To: []string{"ops@example.com", "root@localhost"},
		Dial: pipeDial(lines, "", &addr)}.WithDefaults()
	if err := Send(context.Background(), m, "[LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state",
		"=> VRRP Instance is now owning VRRP VIPs <="); err != nil {
		t.Fatal(err)
	}
	if addr != "192.0.2.1:25" {
		t.Errorf("dialled %q, want port 25 added", addr)
	}
	want := []string{"EHLO lb1", "MAIL FROM:<keepalived@lb1>", "RCPT TO:<ops@example.com>", "RCPT TO:<root@localhost>", "DATA",
		"From: keepalived@lb1", "Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state", "X-Mailer: Keepalived",
		"To: ops@example.com, root@localhost", "", "=> VRRP Instance is now owning VRRP VIPs <=", ".", "QUIT"}
	var filtered []string
	for _, l := range <-lines {
		if !strings.HasPrefix(l, "Date: ") { // its value changes
			filtered = append(filtered, l)
		}
	}
	if diff := cmp.Diff(want, filtered); diff != "" {
		t.Errorf("SMTP session (-want +got):\n%s", diff)
	}

	m.Dial = pipeDial(lines, "root@localhost", &addr)
	err := Send(context.Background(), m, "s", "b")
	if err == nil || !strings.Contains(err.Error(), "RCPT TO root@localhost") {
		t.Errorf("refused recipient: %v, want an error naming it", err)
	}
	<-lines
}

// TestMailDefaults: keepalived's defaults for what global_defs leaves out.
func TestMailDefaults(t *testing.T) {
	host, _ := os.Hostname()
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct{ in, server string }{
		{"192.0.2.1", "192.0.2.1:25"},
		{"192.0.2.1:2525", "192.0.2.1:2525"},
		{"2001:db8::1", "[2001:db8::1]:25"},
		{"[2001:db8::1]:587", "[2001:db8::1]:587"},
		{"mail.example.com", "mail.example.com:25"},
	} {
		m := Mail{Server: tc.in}.WithDefaults()
		if m.Server != tc.server {
			t.Errorf("server %q became %q, want %q", tc.in, m.Server, tc.server)
		}
		if m.Helo != host || m.From != u.Username+"@"+host || m.Timeout != 30*time.Second {
			t.Errorf("defaults %+v, want HELO %s, from %s@%s, 30s", m, host, u.Username, host)
		}
	}
}

func isFIFO(t *testing.T, path string) os.FileInfo {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s is %v, want a FIFO with mode 0600", path, st.Mode())
	}
	return st
}

// TestFIFO: a missing FIFO is created (and removed on Close), an existing
// one is used and kept, anything else is refused; writes never wait for a
// reader, and a full FIFO loses the line rather than blocking.
func TestFIFO(t *testing.T) {
	dir := t.TempDir()

	created := filepath.Join(dir, "created")
	w, err := OpenFIFO(FIFOSpec{Path: created})
	if err != nil {
		t.Fatal(err)
	}
	isFIFO(t, created)
	if err := w.Write([]byte("INSTANCE \"VI_1\" MASTER 100\n")); err != nil {
		t.Errorf("write without a reader: %v", err)
	}
	r, err := os.OpenFile(created, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Fill it: the write that does not fit fails at once with EAGAIN.
	line := []byte(strings.Repeat("x", 511) + "\n")
	var full error
	for i := 0; i < 1<<12 && full == nil; i++ {
		full = w.Write(line)
	}
	if !errors.Is(full, syscall.EAGAIN) {
		t.Errorf("a full FIFO: %v, want EAGAIN", full)
	}
	b := make([]byte, 64)
	if n, _ := r.Read(b); !strings.HasPrefix(string(b[:n]), "INSTANCE \"VI_1\" MASTER 100\n") {
		t.Errorf("reader got %q first", b[:n])
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Lstat(created); !os.IsNotExist(err) {
		t.Errorf("the FIFO OpenFIFO created is still there: %v", err)
	}
	if err := w.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after close: %v, want os.ErrClosed", err)
	}

	existing := filepath.Join(dir, "existing")
	if err := syscall.Mkfifo(existing, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err = OpenFIFO(FIFOSpec{Path: existing, User: "no-such-user-ulvs"}) // the owner is for a FIFO it creates
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	isFIFO(t, existing)

	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFIFO(FIFOSpec{Path: plain}); err == nil || !strings.Contains(err.Error(), plain+": not a FIFO") {
		t.Errorf("a plain file: %v, want 'not a FIFO' naming it", err)
	}
	if _, err := OpenFIFO(FIFOSpec{Path: filepath.Join(dir, "no", "dir")}); err == nil {
		t.Error("a FIFO in a missing directory opened")
	}
	bad := filepath.Join(dir, "bad-owner")
	if _, err := OpenFIFO(FIFOSpec{Path: bad, User: "no-such-user-ulvs"}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("an unknown owner: %v, want an error naming the FIFO", err)
	}
	if _, err := os.Lstat(bad); !os.IsNotExist(err) {
		t.Errorf("a FIFO whose owner could not be set was left behind: %v", err)
	}
}

// TestFIFOOwner: notify_fifo PATH USER GROUP chowns the FIFO it creates.
func TestFIFOOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	g, err := user.LookupGroupId("0")
	if err != nil {
		t.Skip(err)
	}
	path := filepath.Join(t.TempDir(), "owned")
	w, err := OpenFIFO(FIFOSpec{Path: path, User: "nobody", Group: g.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	st := isFIFO(t, path).Sys().(*syscall.Stat_t)
	if strconv.FormatUint(uint64(st.Uid), 10) != u.Uid || st.Gid != 0 {
		t.Errorf("owner %d:%d, want %s:0", st.Uid, st.Gid, u.Uid)
	}
}
