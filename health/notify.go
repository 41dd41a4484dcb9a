package health

import (
	"github.com/ulvs/ulvs/internal/script"
)

// Notifier receives the runner's notifications: notify_up/notify_down and
// quorum_up/quorum_down scripts, LVS notify_fifo lines and smtp_alert
// mails. Notify is called from the runner's goroutine and must not block;
// Dispatcher is the implementation ulvsd uses.
type Notifier interface {
	Notify(n Notification)
}

// Notification is one thing to tell the outside world. Exactly one of
// Script, FIFO and Mail is set.
type Notification struct {
	// Script is run with its configured arguments only (keepalived gives
	// RS and quorum notify scripts no extra arguments).
	Script *script.Script
	// Shutdown marks a script run while stopping (omega): keepalived waits
	// for it at most one second.
	Shutdown bool
	// FIFO is an LVS notify_fifo line, ending in a newline:
	// "RS [IP]:PORT <service> UP|DOWN\n" or "VS <service> UP|DOWN\n".
	FIFO string
	// Mail is an smtp_alert.
	Mail *Mail
}

// Mail is an smtp_alert message.
type Mail struct {
	Subject, Body string
}

// nopNotifier drops everything.
type nopNotifier struct{}

func (nopNotifier) Notify(Notification) {}
