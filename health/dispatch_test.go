package health

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ulvs/ulvs/internal/notify"
	"github.com/ulvs/ulvs/internal/script"
)

// mailSink is a minimal SMTP server that keeps the DATA it receives.
func mailSink(t *testing.T) (string, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				c.Write([]byte("220 sink ESMTP\r\n"))
				var log strings.Builder
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimSpace(line))
					switch {
					case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
						log.WriteString(line)
						c.Write([]byte("250 sink\r\n"))
					case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
						log.WriteString(line)
						c.Write([]byte("250 ok\r\n"))
					case cmd == "DATA":
						c.Write([]byte("354 go\r\n"))
						for {
							l, err := br.ReadString('\n')
							if err != nil {
								return
							}
							if l == ".\r\n" {
								break
							}
							log.WriteString(l)
						}
						c.Write([]byte("250 queued\r\n"))
					case cmd == "QUIT":
						c.Write([]byte("221 bye\r\n"))
						got <- log.String()
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String(), got
}

func TestDispatcher(t *testing.T) {
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(d, "lvs.fifo")
	// A reader that keeps the FIFO open.
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	server, mails := mailSink(t)
	disp, err := NewDispatcher(DispatcherConfig{
		Logger: zaptest.NewLogger(t),
		FIFOs:  []notify.FIFOSpec{{Path: fifo}},
		Mail:   &MailConfig{Server: server, Helo: "lb1", From: "lb@example.com", To: []string{"ops@example.com", "noc@example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(d, "out")
	sc := filepath.Join(d, "notify.sh")
	if err := os.WriteFile(sc, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := script.Policy{}.Prepare(script.Spec{Argv: []string{sc, "down", "rs 1"}})
	if err != nil {
		t.Fatal(err)
	}
	disp.Notify(Notification{FIFO: "RS [198.18.0.11]:80 [198.18.0.10]:tcp:80 DOWN\n"})
	disp.Notify(Notification{Script: s})
	disp.Notify(Notification{FIFO: "VS [198.18.0.10]:tcp:80 DOWN\n"})
	disp.Notify(Notification{Mail: &Mail{Subject: "[lb1] Realserver [198.18.0.11]:80 of virtual server [198.18.0.10]:tcp:80 - DOWN", Body: "=> TCP CHECK failed on service <="}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mail string
	select {
	case mail = <-mails:
	case <-ctx.Done():
		t.Fatal("no mail")
	}
	if err := disp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	disp.Notify(Notification{FIFO: "after close\n"}) // dropped, no panic

	b, _ := io.ReadAll(rd)
	want := "RS [198.18.0.11]:80 [198.18.0.10]:tcp:80 DOWN\n\x00VS [198.18.0.10]:tcp:80 DOWN\n\x00"
	if string(b) != want {
		t.Errorf("fifo got %q, want %q", b, want)
	}
	if o, _ := os.ReadFile(out); string(o) != "down rs 1\n" {
		t.Errorf("script wrote %q, want its configured arguments only", o)
	}
	for _, w := range []string{"MAIL FROM:<lb@example.com>", "RCPT TO:<ops@example.com>", "RCPT TO:<noc@example.com>",
		"Subject: [lb1] Realserver [198.18.0.11]:80 of virtual server [198.18.0.10]:tcp:80 - DOWN\r\n",
		"X-Mailer: Keepalived\r\n", "To: ops@example.com, noc@example.com\r\n", "\r\n\r\n=> TCP CHECK failed on service <=\r\n"} {
		if !strings.Contains(mail, w) {
			t.Errorf("mail lacks %q:\n%s", w, mail)
		}
	}
}

// TestDispatcherShutdownScriptBound: a shutdown script gets one second.
func TestDispatcherShutdownScriptBound(t *testing.T) {
	t.Parallel()
	disp, err := NewDispatcher(DispatcherConfig{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := script.Policy{KillGrace: 100 * time.Millisecond}.Prepare(script.Spec{Argv: []string{writeScript(t, "sleep 30")}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	disp.Notify(Notification{Script: s, Shutdown: true})
	if err := disp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 1 s timeout plus the kill grace, with room for a loaded machine.
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("shutdown script held Close for %v, want about 1 s", el)
	}
}
