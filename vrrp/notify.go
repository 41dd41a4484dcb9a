package vrrp

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/notify"
	"github.com/ulvs/ulvs/internal/script"
)

// notifyScripts are the prepared notify scripts of an instance or group.
type notifyScripts struct {
	master, backup, fault, stop, generic, rxLowerPrio runner
	// notifyDeleted is notify_deleted: a deleted instance is DELETED, and
	// its deleted script (if any) runs instead of notify_fault.
	notifyDeleted bool
	deleted       runner
}

func (ns *notifyScripts) forState(s State) runner {
	switch s {
	case StateMaster:
		return ns.master
	case StateBackup:
		return ns.backup
	case StateFault:
		return ns.fault
	case StateDeleted:
		if ns.notifyDeleted {
			return ns.deleted
		}
		return ns.fault
	case StateStop:
		return ns.stop
	}
	return nil
}

// notifier runs notify scripts, writes the notify FIFOs and sends
// smtp_alert mail, in keepalived's order: the state's own notify_* script
// (configured arguments only), then the generic notify script (with
// "INSTANCE"|"GROUP", name, state, priority appended), then the FIFOs,
// then mail (keepalived vrrp_notify.c send_instance_notifies). Scripts and
// mail never block the caller.
type notifier struct {
	log   *zap.Logger
	fifos []*notify.FIFO
	mail  *mailer
	ctx   context.Context
	wg    sync.WaitGroup
}

// stateName is the state as notify scripts and FIFOs name it; an instance a
// reload deleted is reported as FAULT unless notify_deleted (keepalived).
func stateName(s State, ns *notifyScripts) string {
	if s == StateDeleted && (ns == nil || !ns.notifyDeleted) {
		return "FAULT"
	}
	return s.String()
}

// notify reports a state change of an instance (group false) or a sync
// group. prio is the effective priority (0 for groups). alert says whether
// smtp_alert is on for it.
func (n *notifier) notify(kind, name string, ns *notifyScripts, s State, prio int, alert bool) {
	st := stateName(s, ns)
	if ns != nil {
		if r := ns.forState(s); r != nil {
			if s == StateStop {
				// keepalived waits for notify_stop with a 1 s timeout
				// (system_call_script(..., TIMER_HZ, ...)).
				n.runWait(r, time.Second, "notify_stop", name)
			} else {
				n.runAsync(r, "notify_"+lower(st), name)
			}
		}
		if ns.generic != nil {
			args := []string{kind, name, st, strconv.Itoa(prio)}
			if s == StateStop {
				n.runWait(ns.generic, time.Second, "notify", name, args...)
			} else {
				n.runAsync(ns.generic, "notify", name, args...)
			}
		}
	}
	n.writeFIFOs(fmt.Sprintf("%s \"%s\" %s %d\n", kind, name, st, prio))
	if alert && n.mail != nil && (s == StateMaster || s == StateBackup || s == StateFault) {
		n.mail.alert(n.ctx, kind, name, s)
	}
}

// priorityChange reports an instance's new effective priority on the
// notify FIFOs (notify_priority_changes; keepalived
// send_instance_priority_notifies): MASTER_PRIORITY for a master,
// BACKUP_PRIORITY otherwise.
func (n *notifier) priorityChange(name string, s State, prio int) {
	what := "BACKUP_PRIORITY"
	if s == StateMaster {
		what = "MASTER_PRIORITY"
	}
	n.writeFIFOs(fmt.Sprintf("INSTANCE \"%s\" %s %d\n", name, what, prio))
}

// rxLowerPrio reports a master that saw a lower priority advert.
func (n *notifier) rxLowerPrio(name string, ns *notifyScripts, prio int) {
	if ns != nil && ns.rxLowerPrio != nil {
		n.runAsync(ns.rxLowerPrio, "notify_master_rx_lower_pri", name)
	}
	n.writeFIFOs(fmt.Sprintf("INSTANCE \"%s\" MASTER_RX_LOWER_PRI %d\n", name, prio))
}

// writeFIFOs writes a line to each notify FIFO; a FIFO without room (no
// reader draining it) loses the line, as keepalived's does.
func (n *notifier) writeFIFOs(line string) {
	for _, f := range n.fifos {
		if err := f.Write([]byte(line)); err != nil {
			n.log.Warn("notify fifo write failed", zap.String("fifo", f.Path()), zap.Error(err))
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (n *notifier) runAsync(r runner, what, name string, args ...string) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.report(r.Run(n.ctx, 0, args...), what, name)
	}()
}

func (n *notifier) runWait(r runner, timeout time.Duration, what, name string, args ...string) {
	n.report(r.Run(context.Background(), timeout, args...), what, name)
}

func (n *notifier) report(res script.Result, what, name string) {
	switch {
	case res.Err != nil:
		n.log.Warn("notify script failed", zap.String("script", what), zap.String("name", name), zap.Error(res.Err))
	case res.TimedOut:
		n.log.Warn("notify script timed out", zap.String("script", what), zap.String("name", name))
	case res.ExitCode != 0:
		n.log.Info("notify script exited non-zero", zap.String("script", what), zap.String("name", name),
			zap.Int("exit_code", res.ExitCode))
	}
}

// wait waits for running notify scripts (they end when ctx ends).
func (n *notifier) wait() { n.wg.Wait() }
