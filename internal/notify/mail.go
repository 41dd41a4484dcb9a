package notify

import (
	"context"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// Mail is global_defs' smtp_server, smtp_helo_name, smtp_connect_timeout,
// notification_email_from and notification_email.
type Mail struct {
	// Server is "host", "host:port" or "[v6]:port"; without a port 25.
	Server string
	Helo   string
	From   string
	To     []string
	// Timeout bounds one session (default 30 s).
	Timeout time.Duration
	// Dial connects to Server (a net.Dialer by default; tests use a pipe).
	Dial func(ctx context.Context, addr string) (net.Conn, error) `json:"-"`
}

// WithDefaults fills in what keepalived fills in: port 25, this host's
// name as HELO, "<running user>@<host name>" as sender, 30 s.
func (m Mail) WithDefaults() Mail {
	if _, _, err := net.SplitHostPort(m.Server); err != nil {
		m.Server = net.JoinHostPort(strings.Trim(m.Server, "[]"), strconv.Itoa(25))
	}
	host, _ := os.Hostname()
	if m.Helo == "" {
		m.Helo = host
	}
	if m.From == "" {
		u := "root"
		if cu, err := user.Current(); err == nil {
			u = cu.Username
		}
		m.From = u + "@" + host
	}
	if m.Timeout <= 0 {
		m.Timeout = 30 * time.Second
	}
	return m
}

// Send sends one alert the way keepalived's smtp.c does: HELO, MAIL, RCPT
// for each address, DATA with Date, From, Subject, X-Mailer: Keepalived
// and To, then QUIT. m should have its defaults (WithDefaults).
func Send(ctx context.Context, m Mail, subject, body string) error {
	ctx, cancel := context.WithTimeout(ctx, m.Timeout)
	defer cancel()
	dial := m.Dial
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	conn, err := dial(ctx, m.Server)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.Server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(m.Server)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.Server, err)
	}
	defer c.Close()
	if err := c.Hello(m.Helo); err != nil {
		return fmt.Errorf("smtp %s: HELO: %w", m.Server, err)
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", m.Server, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", m.Server, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.Server, err)
	}
	if _, err := fmt.Fprintf(w, "Date: %s\r\nFrom: %s\r\nSubject: %s\r\nX-Mailer: Keepalived\r\nTo: %s\r\n\r\n%s\r\n",
		time.Now().Format(time.RFC1123Z), m.From, subject, strings.Join(m.To, ", "), body); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.Server, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: end of DATA: %w", m.Server, err)
	}
	return c.Quit()
}
