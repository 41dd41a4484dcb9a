package health

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/script"
)

// This file is keepalived's check/ipwrapper.c decision logic: which real
// servers are in each service's pool and with what weight, quorum with
// hysteresis, the sorry server, and the notifications that go with them.
// All of it runs in the runner's goroutine.

// rsState is a real server (or a sorry server) as the pool sees it.
type rsState struct {
	addr netip.AddrPort
	key  string
	// iweight is the configured weight; effWeight the effective one
	// (MISC_CHECK and FILE_CHECK move it).
	iweight, effWeight int64
	// alive: the server is up; set: it is in the data path's pool.
	alive, set bool
	inhibit    bool
	numFailed  int
	sorry      bool
	reloaded   bool
	smtpAlert  bool
	notifyUp   *script.Script
	notifyDown *script.Script
	checkers   []*checker
}

// vsState is a virtual service.
type vsState struct {
	key                string
	cfg                *VirtualServer
	quorum, hysteresis int64
	quorumUp           bool
	omega              bool
	smtpAlert          bool
	sorry              *rsState
	// sorryIsRS: the sorry server is also one of the real servers
	// (keepalived's s_svr_duplicates_rs).
	sorryIsRS        bool
	reals            []*rsState
	quorumUpScript   *script.Script
	quorumDownScript *script.Script
	suspended        bool
	log              *zap.Logger
}

type destOp uint8

const (
	opAdd destOp = iota + 1
	opEdit
	opDel
)

// realWeight clamps a weight to what IPVS takes (keepalived real_weight).
func realWeight(w int64) int64 { return min(max(w, 0), math.MaxInt32) }

// ipvsCmd is keepalived's ipvs_cmd for a destination: removing an
// inhibit_on_failure server sets its weight to 0 instead, adding one that
// is still in the pool edits it, and a server added while it has failed
// checkers and inhibit set goes in at weight 0. It reports success.
func (r *Runner) ipvsCmd(vs *vsState, rs *rsState, op destOp) bool {
	w := realWeight(rs.effWeight)
	setAfter, unsetAfter := false, false
	switch {
	case op == opDel && rs.inhibit:
		if !rs.set {
			return true
		}
		op, w = opEdit, 0
	case op == opAdd && rs.set:
		op = opEdit
	case op == opAdd:
		setAfter = true
		if rs.inhibit && rs.numFailed > 0 {
			w = 0
		}
	case op == opDel:
		if !rs.set {
			return true
		}
		unsetAfter = true
	case op == opEdit && !rs.set:
		return true
	}
	d := Dest{Addr: rs.addr, Weight: w, Sorry: rs.sorry}
	var err error
	switch op {
	case opAdd:
		err = r.sink.AddDest(vs.key, d)
	case opEdit:
		err = r.sink.UpdateDest(vs.key, d)
	case opDel:
		err = r.sink.RemoveDest(vs.key, d)
	}
	if err != nil {
		vs.log.Warn("destination change failed", zap.String("real_server", rs.key), zap.Int64("weight", w), zap.Error(err))
		return false
	}
	if setAfter {
		rs.set = true
	}
	if unsetAfter {
		rs.set = false
	}
	return true
}

// weighLive is the sum of the alive real servers' weights.
func weighLive(vs *vsState) int64 {
	var sum int64
	for _, rs := range vs.reals {
		if rs.alive {
			sum += realWeight(rs.effWeight)
		}
	}
	return sum
}

func upDown(b bool) string {
	if b {
		return "UP"
	}
	return "DOWN"
}

func (r *Runner) event(e Event) {
	e.Time = time.Now()
	if r.onEvent != nil {
		r.onEvent(e)
	}
}

func (r *Runner) mail(subject, body string) {
	r.notifier.Notify(Notification{Mail: &Mail{Subject: fmt.Sprintf("[%s] %s", r.cfg.RouterID, subject), Body: body}})
}

// doVSNotifies runs quorum_up or quorum_down, writes the FIFO line and
// sends the mail (ipwrapper.c do_vs_notifies). At shutdown only with omega.
func (r *Runner) doVSNotifies(vs *vsState, init bool, threshold, sum int64, stopping bool) {
	if stopping && !vs.omega {
		return
	}
	s := vs.quorumDownScript
	if vs.quorumUp {
		s = vs.quorumUpScript
	}
	if s != nil {
		r.notifier.Notify(Notification{Script: s, Shutdown: stopping})
	}
	r.notifier.Notify(Notification{FIFO: "VS " + vs.key + " " + upDown(vs.quorumUp) + "\n"})
	if vs.smtpAlert {
		body := "=> Shutting down <="
		if !stopping {
			what := map[[2]bool]string{
				{true, true}: "Starting with quorum up", {true, false}: "Gained quorum",
				{false, true}: "Starting with quorum down", {false, false}: "Lost quorum",
			}[[2]bool{vs.quorumUp, init}]
			body = fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, vs.quorum, vs.hysteresis, threshold, sum)
		}
		r.mail("Virtualserver "+vs.key+" - "+upDown(vs.quorumUp), body)
	}
}

// doRSNotifies runs notify_up or notify_down and writes the FIFO line.
func (r *Runner) doRSNotifies(vs *vsState, rs *rsState, stopping bool) {
	s := rs.notifyDown
	if rs.alive {
		s = rs.notifyUp
	}
	if s != nil {
		r.notifier.Notify(Notification{Script: s, Shutdown: stopping})
	}
	r.notifier.Notify(Notification{FIFO: "RS " + rs.key + " " + vs.key + " " + upDown(rs.alive) + "\n"})
}

// updateVSNotifies reports a quorum lost by removing servers, or every
// quorum at shutdown (ipwrapper.c update_vs_notifies).
func (r *Runner) updateVSNotifies(vs *vsState, stopping bool) {
	threshold := vs.quorum - vs.hysteresis
	sum := weighLive(vs)
	if stopping || (vs.quorumUp && (sum == 0 || sum < threshold)) {
		vs.quorumUp = false
		r.doVSNotifies(vs, false, threshold, sum, stopping)
		if !stopping {
			r.event(Event{Kind: QuorumDown, Service: vs.key, Weight: sum, Reason: "real servers removed"})
		}
	}
}

// clearServiceRS takes a real server out for good, inhibit or not
// (removed by a reload, or at shutdown).
func (r *Runner) clearServiceRS(vs *vsState, rs *rsState, stopping bool) {
	if !rs.set {
		return
	}
	what := "removing"
	if stopping {
		what = "shutting down"
	}
	vs.log.Info(what+" service", zap.String("real_server", rs.key))
	sav := rs.inhibit
	rs.inhibit = false
	r.ipvsCmd(vs, rs, opDel)
	rs.inhibit = sav
	if !rs.alive {
		return
	}
	rs.alive = false
	if !stopping {
		r.event(Event{Kind: RealServerDown, Service: vs.key, Real: rs.addr, Weight: rs.effWeight, Reason: "removed from the configuration"})
	}
	if !vs.omega && stopping {
		return
	}
	r.doRSNotifies(vs, rs, stopping)
	if rs.smtpAlert {
		body := "=> Removing <="
		if stopping {
			body = "=> Shutting down <="
		}
		r.mail("Realserver "+rs.key+" of virtual server "+vs.key+" - DOWN", body)
	}
}

// clearServiceVS takes a whole service down (reload or shutdown).
func (r *Runner) clearServiceVS(vs *vsState, stopping bool) {
	if s := vs.sorry; s != nil && s.set {
		if vs.sorryIsRS {
			s.set = false
		} else {
			sav := s.inhibit
			s.inhibit = false
			r.ipvsCmd(vs, s, opDel)
			s.inhibit = sav
		}
		s.alive = false
	}
	for _, rs := range vs.reals {
		r.clearServiceRS(vs, rs, stopping)
	}
	r.updateVSNotifies(vs, stopping)
}

// initServiceRS puts the new real servers of a service into the pool:
// those with no failed checker (not alpha) alive, and inhibit ones at
// weight 0 (ipwrapper.c init_service_rs).
func (r *Runner) initServiceRS(vs *vsState) {
	for _, rs := range vs.reals {
		if rs.reloaded {
			continue
		}
		if (rs.numFailed == 0 && !rs.alive) || (rs.inhibit && !rs.set) {
			r.ipvsCmd(vs, rs, opAdd)
			if rs.numFailed == 0 {
				rs.alive = true
				r.event(Event{Kind: RealServerUp, Service: vs.key, Real: rs.addr, Weight: rs.effWeight, Reason: "starting up"})
				if r.cfg.RSInitNotifies {
					r.doRSNotifies(vs, rs, false)
				}
			}
		}
	}
}

// initServiceVS sets a service up after start or reload.
func (r *Runner) initServiceVS(vs *vsState) {
	r.initServiceRS(vs)
	r.updateQuorumState(vs, true)
	if s := vs.sorry; s != nil && s.inhibit && !s.set {
		if vs.sorryIsRS {
			s.set = true
		} else {
			// keepalived's trick to add it at weight 0.
			s.numFailed = 1
			r.ipvsCmd(vs, s, opAdd)
			s.numFailed = 0
		}
	}
}

// performQuorumState adds or removes all alive real servers.
func (r *Runner) performQuorumState(vs *vsState, add bool) {
	op := opDel
	if add {
		op = opAdd
	}
	for _, rs := range vs.reals {
		if rs.alive {
			r.ipvsCmd(vs, rs, op)
		}
	}
}

// updateQuorumState is ipwrapper.c update_quorum_state: with hysteresis,
// quorum is gained at sum ≥ quorum+hysteresis and lost at sum <
// quorum−hysteresis (or sum 0). Losing it puts the sorry server in place
// of the alive real servers; gaining it puts them back.
func (r *Runner) updateQuorumState(vs *vsState, init bool) {
	sum := weighLive(vs)
	threshold := vs.quorum + vs.hysteresis
	if vs.quorumUp {
		threshold = vs.quorum - vs.hysteresis
	}
	if !vs.quorumUp && sum >= threshold {
		vs.quorumUp = true
		vs.log.Info("gained quorum", zap.Int64("quorum", vs.quorum), zap.Int64("hysteresis", vs.hysteresis),
			zap.Int64("threshold", threshold), zap.Int64("weight_sum", sum))
		if s := vs.sorry; s != nil && s.alive {
			vs.log.Info("removing sorry server", zap.String("sorry_server", s.key))
			r.ipvsCmd(vs, s, opDel)
			s.alive = false
			r.performQuorumState(vs, true)
		}
		r.doVSNotifies(vs, init, threshold, sum, false)
		r.event(Event{Kind: QuorumUp, Service: vs.key, Weight: sum, Reason: fmt.Sprintf("alive weight %d >= %d", sum, threshold)})
		return
	}
	if (vs.quorumUp && (sum == 0 || sum < threshold)) || (init && !vs.quorumUp && vs.sorry != nil && !vs.sorry.alive) {
		vs.quorumUp = false
		vs.log.Info("lost quorum", zap.Int64("quorum", vs.quorum), zap.Int64("hysteresis", vs.hysteresis),
			zap.Int64("threshold", threshold), zap.Int64("weight_sum", sum), zap.Bool("starting", init))
		if s := vs.sorry; s != nil && !s.alive {
			vs.log.Info("adding sorry server", zap.String("sorry_server", s.key))
			r.performQuorumState(vs, false)
			r.ipvsCmd(vs, s, opAdd)
			s.alive = true
		}
		r.doVSNotifies(vs, init, threshold, sum, false)
		r.event(Event{Kind: QuorumDown, Service: vs.key, Weight: sum, Reason: fmt.Sprintf("alive weight %d < %d", sum, threshold)})
	}
}

// performSvrState puts a real server in or out of the pool, unless the
// sorry server holds the service, and runs its notifiers.
func (r *Runner) performSvrState(alive bool, vs *vsState, rs *rsState, reason string) bool {
	if rs.alive == alive {
		return true
	}
	verb := map[[2]bool]string{{true, false}: "adding", {false, false}: "removing", {true, true}: "enabling", {false, true}: "disabling"}[[2]bool{alive, rs.inhibit}]
	vs.log.Info(verb+" service", zap.String("real_server", rs.key), zap.String("reason", reason))
	if vs.quorumUp || vs.sorry == nil || !vs.sorry.alive {
		op := opDel
		if alive {
			op = opAdd
		}
		if !r.ipvsCmd(vs, rs, op) {
			return false
		}
	}
	rs.alive = alive
	kind := RealServerDown
	if alive {
		kind = RealServerUp
	}
	r.event(Event{Kind: kind, Service: vs.key, Real: rs.addr, Weight: rs.effWeight, Reason: reason})
	r.doRSNotifies(vs, rs, false)
	r.updateQuorumState(vs, false)
	return true
}

// updateSvrWgt sets a real server's effective weight and, when it is in
// the pool and the pool is in use, the data path's.
func (r *Runner) updateSvrWgt(weight int64, vs *vsState, rs *rsState, updateQuorum bool, reason string) {
	oldW, newW := realWeight(rs.effWeight), realWeight(weight)
	rs.effWeight = weight
	if newW == oldW {
		return
	}
	vs.log.Info("changing weight", zap.String("real_server", rs.key), zap.Int64("from", oldW), zap.Int64("to", newW), zap.Bool("alive", rs.alive))
	r.event(Event{Kind: WeightChanged, Service: vs.key, Real: rs.addr, Weight: newW, Reason: reason})
	if rs.set && rs.alive && (vs.quorumUp || vs.sorry == nil || !vs.sorry.alive) {
		r.ipvsCmd(vs, rs, opEdit)
	}
	if updateQuorum {
		r.updateQuorumState(vs, false)
	}
}

// setCheckerState records a checker's state in its real server's count of
// failed checkers.
func setCheckerState(c *checker, up bool) {
	if c.st.up == up {
		return
	}
	c.st.up = up
	if !up {
		c.rs.numFailed++
	} else if c.rs.numFailed > 0 {
		c.rs.numFailed--
	}
}

// updateSvrCheckerState is keepalived's update_svr_checker_state: a
// checker going up brings its server up when it was the last failed one;
// a checker going down takes it down when it was the first.
func (r *Runner) updateSvrCheckerState(alive bool, c *checker, reason string) {
	if c.st.up == alive {
		if !c.st.hasRun {
			if c.alpha || !alive {
				r.doRSNotifies(c.vs, c.rs, false)
			}
			c.st.hasRun = true
		}
		return
	}
	c.st.hasRun = true
	if alive {
		if c.rs.numFailed <= 1 && !r.performSvrState(true, c.vs, c.rs, reason) {
			return
		}
	} else if c.rs.numFailed == 0 && !r.performSvrState(false, c.vs, c.rs, reason) {
		return
	}
	setCheckerState(c, alive)
}
