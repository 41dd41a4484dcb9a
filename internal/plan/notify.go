package plan

import (
	"net"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/notify"
)

// dispatcherConfig is the checkers' notify FIFOs and mail (without a
// Logger).
func dispatcherConfig(cfg *conf.Config) health.DispatcherConfig {
	g := cfg.Global
	var dc health.DispatcherConfig
	for i, f := range []*conf.Fifo{g.NotifyFifo, g.LVSNotifyFifo} {
		if f == nil || f.Path == "" || i == 1 && g.NotifyFifo != nil && g.NotifyFifo.Path == f.Path {
			continue // keepalived: the same FIFO named twice is written once
		}
		dc.FIFOs = append(dc.FIFOs, notify.FIFOSpec{Path: f.Path, User: f.User, Group: f.Group})
	}
	dc.Mail = mailOf(&g)
	return dc
}

// mailOf is global_defs' smtp_alert mail settings, for VRRP and the
// checkers alike; nil without smtp_server or notification_email.
func mailOf(g *conf.GlobalDefs) *notify.Mail {
	if g.SMTPServer == "" || len(g.NotificationEmail) == 0 {
		return nil
	}
	return &notify.Mail{Server: net.JoinHostPort(strings.Trim(g.SMTPServer, "[]"), strconv.Itoa(int(g.SMTPPort))),
		Helo: g.SMTPHeloName, From: g.NotificationEmailFrom, To: g.NotificationEmail, Timeout: g.SMTPConnectTimeout}
}
