package health

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/notify"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Logger receives script failures and dropped notifications.
	Logger *zap.Logger
	// FIFOs are notify_fifo and lvs_notify_fifo; each is created (mode
	// 0600, then given its owner) if missing.
	FIFOs []notify.FIFOSpec
	// Mail, when set, sends smtp_alert mails.
	Mail *MailConfig
	// MaxScripts bounds the scripts running at once (default 16).
	MaxScripts int
	// Queue bounds the notifications waiting (default 1024); beyond it
	// they are dropped with an error logged.
	Queue int
}

// MailConfig is global_defs smtp_server, smtp_helo_name,
// smtp_connect_timeout, notification_email_from and notification_email;
// what is left empty gets keepalived's default.
type MailConfig = notify.Mail

// Dispatcher is the Notifier ulvsd uses: it runs scripts (at most
// MaxScripts at once; shutdown scripts get one second, as keepalived
// gives them), writes FIFO lines in order, and sends mails one at a time.
type Dispatcher struct {
	log    *zap.Logger
	queue  chan Notification
	mails  chan *Mail
	sem    chan struct{}
	fifos  []*notify.FIFO
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
	d := &Dispatcher{log: cfg.Logger}
	if cfg.Mail != nil {
		m := cfg.Mail.WithDefaults()
		d.mail = &m
	}
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
		f, err := notify.OpenFIFO(p)
		if err != nil {
			d.closeFIFOs()
			return nil, fmt.Errorf("health: %w", err)
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
		if err := f.Write(b); err != nil {
			d.log.Warn("notify fifo write failed", zap.String("fifo", f.Path()), zap.Error(err))
		}
	}
}

func (d *Dispatcher) mailer() {
	defer d.wg.Done()
	for m := range d.mails {
		if err := notify.Send(d.ctx, *d.mail, m.Subject, m.Body); err != nil {
			d.log.Warn("smtp_alert not sent", zap.String("subject", m.Subject), zap.Error(err))
		}
	}
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
		_ = f.Close()
	}
	d.fifos = nil
}
