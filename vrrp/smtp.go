package vrrp

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/notify"
)

// mailer sends smtp_alert mail through global_defs' smtp_server, in
// keepalived's format (core/smtp.c): subject "[router_id] VRRP Instance
// NAME - Entering STATE state".
type mailer struct {
	log    *zap.Logger
	mail   notify.Mail
	router string
	// send sends one mail (notify.Send by default; tests record).
	send func(ctx context.Context, m notify.Mail, subject, body string) error
}

func newMailer(g *Global, log *zap.Logger) *mailer {
	if g.Mail == nil || len(g.Mail.To) == 0 {
		return nil
	}
	m := &mailer{log: log, router: g.RouterID, send: notify.Send, mail: g.Mail.WithDefaults()}
	if m.router == "" {
		m.router, _ = os.Hostname()
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
		if err := m.send(ctx, m.mail, subject, body); err != nil {
			m.log.Warn("smtp alert failed", zap.String("subject", subject), zap.Error(err))
		}
	}()
}
