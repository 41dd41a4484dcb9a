package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Logger receives script failures and dropped notifications.
	Logger *zap.Logger
	// FIFOs are the notify_fifo and lvs_notify_fifo paths; each is created
	// (mode 0600) if missing.
	FIFOs []string
	// Mail, when set, sends smtp_alert mails.
	Mail *MailConfig
	// MaxScripts bounds the scripts running at once (default 16).
	MaxScripts int
	// Queue bounds the notifications waiting (default 1024); beyond it
	// they are dropped with an error logged.
	Queue int
}

// MailConfig is global_defs smtp_server, smtp_helo_name,
// smtp_connect_timeout, notification_email_from and notification_email.
type MailConfig struct {
	// Server is "host:port".
	Server string
	Helo   string
	From   string
	To     []string
	// Timeout bounds one mail (default 30 s).
	Timeout time.Duration
}

// Dispatcher is the Notifier ulvsd uses: it runs scripts (at most
// MaxScripts at once; shutdown scripts get one second, as keepalived
// gives them), writes FIFO lines in order, and sends mails one at a time.
type Dispatcher struct {
	log    *zap.Logger
	queue  chan Notification
	mails  chan *Mail
	sem    chan struct{}
	fifos  []*os.File
	mail   *MailConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

var _ Notifier = (*Dispatcher)(nil)

// NewDispatcher opens the FIFOs and starts the dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	d := &Dispatcher{log: cfg.Logger, mail: cfg.Mail}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if cfg.MaxScripts <= 0 {
		cfg.MaxScripts = 16
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	for _, p := range cfg.FIFOs {
		f, err := openFIFO(p)
		if err != nil {
			d.closeFIFOs()
			return nil, err
		}
		d.fifos = append(d.fifos, f)
	}
	d.queue = make(chan Notification, cfg.Queue)
	d.mails = make(chan *Mail, 64)
	d.sem = make(chan struct{}, cfg.MaxScripts)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(2)
	go d.run()
	go d.mailer()
	return d, nil
}

// openFIFO opens (creating if needed) a FIFO for writing without waiting
// for a reader, as keepalived does (O_RDWR | O_NONBLOCK).
func openFIFO(path string) (*os.File, error) {
	if err := syscall.Mkfifo(path, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("health: notify fifo %s: %w", path, err)
	}
	st, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("health: notify fifo %s: %w", path, err)
	}
	if st.Mode()&os.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("health: notify fifo %s: not a FIFO", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("health: notify fifo %s: %w", path, err)
	}
	return f, nil
}

// Notify queues n; it never blocks.
func (d *Dispatcher) Notify(n Notification) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	select {
	case d.queue <- n:
	default:
		d.log.Error("notification queue full, dropping", zap.String("fifo", strings.TrimSpace(n.FIFO)),
			zap.Bool("script", n.Script != nil), zap.Bool("mail", n.Mail != nil))
	}
}

func (d *Dispatcher) run() {
	defer d.wg.Done()
	for n := range d.queue {
		switch {
		case n.FIFO != "":
			d.writeFIFO(n.FIFO)
		case n.Mail != nil:
			if d.mail == nil {
				continue
			}
			select {
			case d.mails <- n.Mail:
			default:
				d.log.Error("mail queue full, dropping smtp_alert", zap.String("subject", n.Mail.Subject))
			}
		case n.Script != nil:
			d.sem <- struct{}{}
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				defer func() { <-d.sem }()
				timeout := time.Duration(0)
				if n.Shutdown {
					timeout = time.Second
				}
				res := n.Script.Run(d.ctx, timeout)
				if !res.OK() {
					d.log.Warn("notify script failed", zap.String("script", n.Script.String()),
						zap.Int("exit_code", res.ExitCode), zap.Bool("timed_out", res.TimedOut), zap.Error(res.Err))
				}
			}()
		}
	}
	close(d.mails)
}

// writeFIFO writes the line followed by a NUL byte: keepalived writes its
// LVS FIFO records with their terminating NUL, and readers expect it.
func (d *Dispatcher) writeFIFO(line string) {
	b := append([]byte(line), 0)
	for _, f := range d.fifos {
		if _, err := f.Write(b); err != nil {
			d.log.Warn("notify fifo write failed", zap.String("fifo", f.Name()), zap.Error(err))
		}
	}
}

func (d *Dispatcher) mailer() {
	defer d.wg.Done()
	for m := range d.mails {
		if err := sendMail(d.ctx, d.mail, m); err != nil {
			d.log.Warn("smtp_alert not sent", zap.String("subject", m.Subject), zap.Error(err))
		}
	}
}

// sendMail sends one alert the way keepalived's smtp.c does: HELO, MAIL,
// RCPT for each address, DATA with Date, From, Subject, X-Mailer and To.
func sendMail(ctx context.Context, mc *MailConfig, m *Mail) error {
	timeout := mc.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", mc.Server)
	if err != nil {
		return fmt.Errorf("health: smtp_alert: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(mc.Server)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("health: smtp_alert: %w", err)
	}
	defer c.Close()
	helo := mc.Helo
	if helo == "" {
		helo, _ = os.Hostname()
	}
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("health: smtp_alert: HELO: %w", err)
	}
	if err := c.Mail(mc.From); err != nil {
		return fmt.Errorf("health: smtp_alert: MAIL: %w", err)
	}
	for _, to := range mc.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("health: smtp_alert: RCPT %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("health: smtp_alert: DATA: %w", err)
	}
	fmt.Fprintf(w, "Date: %s\r\nFrom: %s\r\nSubject: %s\r\nX-Mailer: Keepalived\r\nTo: %s\r\n\r\n%s\r\n",
		time.Now().Format(time.RFC1123Z), mc.From, m.Subject, strings.Join(mc.To, ", "), m.Body)
	if err := w.Close(); err != nil {
		return fmt.Errorf("health: smtp_alert: end of DATA: %w", err)
	}
	return c.Quit()
}

// Close stops taking notifications, lets the queued ones run and waits
// for them until ctx ends, then kills the scripts still running.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.queue)
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		d.cancel()
		<-done
	}
	d.cancel()
	d.closeFIFOs()
	return err
}

func (d *Dispatcher) closeFIFOs() {
	for _, f := range d.fifos {
		f.Close()
	}
	d.fifos = nil
}
