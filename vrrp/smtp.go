package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"os/user"
	"strings"
	"time"

	"go.uber.org/zap"
)

// mailer sends smtp_alert mail through global_defs' smtp_server, in
// keepalived's format (core/smtp.c): subject "[router_id] VRRP Instance
// NAME - Entering STATE state", headers From, Subject, X-Mailer:
// Keepalived, To.
type mailer struct {
	log     *zap.Logger
	server  string
	helo    string
	from    string
	to      []string
	router  string
	timeout time.Duration
	// sent, when set, is called after each attempt (tests).
	sent func(subject string, err error)
	// dial connects to the server (a net.Dialer by default; tests use a
	// pipe).
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

func newMailer(g *Global, log *zap.Logger) *mailer {
	if g.SMTPServer == "" || len(g.NotificationEmail) == 0 {
		return nil
	}
	host, _ := os.Hostname()
	m := &mailer{log: log, server: g.SMTPServer, helo: g.SMTPHeloName, from: g.NotificationEmailFrom,
		to: g.NotificationEmail, router: g.RouterID, timeout: g.SMTPConnectTimeout}
	if _, _, err := net.SplitHostPort(m.server); err != nil {
		m.server = net.JoinHostPort(strings.Trim(m.server, "[]"), "25")
	}
	if m.helo == "" {
		m.helo = host
	}
	if m.router == "" {
		m.router = host
	}
	if m.from == "" {
		// keepalived: "<running user>@<local name>".
		u := "root"
		if cu, err := user.Current(); err == nil {
			u = cu.Username
		}
		m.from = u + "@" + host
	}
	if m.timeout == 0 {
		m.timeout = 30 * time.Second
	}
	return m
}

func mailText(kind string, s State) (what, body string) {
	if kind == "GROUP" {
		return "VRRP Group", fmt.Sprintf("=> All VRRP group instances are now in %s state <=", s)
	}
	if s == StateMaster {
		return "VRRP Instance", "=> VRRP Instance is now owning VRRP VIPs <="
	}
	return "VRRP Instance", "=> VRRP Instance is nolonger owning VRRP VIPs <="
}

// alert sends one mail in the background.
func (m *mailer) alert(ctx context.Context, kind, name string, s State) {
	what, body := mailText(kind, s)
	subject := fmt.Sprintf("[%s] %s %s - Entering %s state", m.router, what, name, s)
	go func() {
		err := m.send(ctx, subject, body)
		if err != nil {
			m.log.Warn("smtp alert failed", zap.String("server", m.server), zap.Error(err))
		}
		if m.sent != nil {
			m.sent(subject, err)
		}
	}()
}

func (m *mailer) send(ctx context.Context, subject, body string) error {
	dial := m.dial
	if dial == nil {
		d := net.Dialer{Timeout: m.timeout}
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	conn, err := dial(ctx, m.server)
	if err != nil {
		return fmt.Errorf("vrrp: smtp: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(m.timeout))
	host, _, _ := net.SplitHostPort(m.server)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("vrrp: smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello(m.helo); err != nil {
		return fmt.Errorf("vrrp: smtp: helo: %w", err)
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("vrrp: smtp: mail from: %w", err)
	}
	for _, to := range m.to {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("vrrp: smtp: rcpt to %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("vrrp: smtp: data: %w", err)
	}
	msg := fmt.Sprintf("Date: %s\r\nFrom: %s\r\nSubject: %s\r\nX-Mailer: Keepalived\r\nTo: %s\r\n\r\n%s\r\n",
		time.Now().Format(time.RFC1123Z), m.from, subject, strings.Join(m.to, ", "), body)
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("vrrp: smtp: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("vrrp: smtp: %w", err)
	}
	return c.Quit()
}
