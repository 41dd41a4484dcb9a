package vrrp

import (
	"time"
)

// actionKind says what an action asks for.
type actionKind uint8

// Actions the engine asks its driver to carry out.
const (
	// actSend: send an advert with Priority (and AH sequence number Seq).
	actSend actionKind = iota + 1
	// actSetVIPs: add the instance's VIPs, excluded VIPs, routes and rules.
	actSetVIPs
	// actClearVIPs: remove them; Force also removes what this run did not
	// add (stale addresses a crash left behind).
	actClearVIPs
	// actGARP: send Repeat rounds of gratuitous ARP / unsolicited NA for
	// every VIP.
	actGARP
	// actNotify: an instance (Inst >= 0) or a sync group (Group >= 0)
	// changed state from Prev to State.
	actNotify
	// actRxLowerPrio: a master saw an advert of lower priority
	// (notify_master_rx_lower_pri, FIFO MASTER_RX_LOWER_PRI).
	actRxLowerPrio
)

var actionNames = [...]string{actSend: "send", actSetVIPs: "set-vips", actClearVIPs: "clear-vips",
	actGARP: "garp", actNotify: "notify", actRxLowerPrio: "rx-lower-prio"}

// String names the kind.
func (k actionKind) String() string {
	if int(k) < len(actionNames) && actionNames[k] != "" {
		return actionNames[k]
	}
	return "action?"
}

// action is one thing the engine wants done.
type action struct {
	Kind     actionKind
	Inst     int // instance index, -1 for a group notification
	Group    int // the sync group index when Inst is -1
	Priority uint8
	Seq      uint32
	Repeat   int
	State    State
	Prev     State
	Force    bool
}

// input is an event for the engine: evStart, evPacket, evTimer, evTrack or
// evStop.
type input interface{ input() }

// evStart starts every instance (keepalived vrrp_init_state).
type evStart struct{}

// evPacket is a packet received for instance Inst.
type evPacket struct {
	Inst   int
	Packet *Packet
}

// evTimer says the engine's deadline has passed.
type evTimer struct{}

// evTrack is instance Inst's tracking result: its effective priority and
// whether it must be in FAULT (Fault), or waits for its scripts' first
// result (Init).
type evTrack struct {
	Inst        int
	Priority    uint8
	Fault, Init bool
}

// evStop is a graceful shutdown.
type evStop struct{}

func (evStart) input()  {}
func (evPacket) input() {}
func (evTimer) input()  {}
func (evTrack) input()  {}
func (evStop) input()   {}

// group is a sync group's state.
type group struct {
	name    string
	members []int
	state   State
}

// engine holds every instance's machine and the sync groups. It is a pure
// function of (state, event, now): Step returns what to do and changes
// only the engine's own fields. One goroutine owns it.
type engine struct {
	ms      []*machine
	groups  []*group
	started bool
	stopped bool
}

// deadline returns when Step must next be called with evTimer, or the zero
// time when nothing is armed.
func (e *engine) deadline() time.Time {
	var d time.Time
	for _, m := range e.ms {
		if t := m.deadline(); !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// Step applies one event at time now and returns the actions, in order.
func (e *engine) Step(now time.Time, ev input) []action {
	var acts []action
	switch ev := ev.(type) {
	case evStart:
		acts = e.start(now)
	case evPacket:
		if e.started && !e.stopped && ev.Inst >= 0 && ev.Inst < len(e.ms) {
			acts = e.receive(now, e.ms[ev.Inst], ev.Packet)
		}
	case evTimer:
		if e.started && !e.stopped {
			for _, m := range e.ms {
				acts = e.fire(acts, now, m)
			}
		}
	case evTrack:
		if ev.Inst >= 0 && ev.Inst < len(e.ms) {
			acts = e.track(now, e.ms[ev.Inst], ev)
		}
	case evStop:
		acts = e.stop(now)
	}
	return acts
}

func (e *engine) groupOf(m *machine) *group {
	if m.p.group < 0 || m.p.group >= len(e.groups) {
		return nil
	}
	return e.groups[m.p.group]
}

func (e *engine) setGroupState(acts []action, g *group, s State, quiet bool) []action {
	if g.state == s {
		return acts
	}
	prev := g.state
	g.state = s
	if quiet {
		return acts
	}
	return append(acts, action{Kind: actNotify, Inst: -1, Group: e.groupIndex(g), State: s, Prev: prev})
}

func (e *engine) groupIndex(g *group) int {
	for i, x := range e.groups {
		if x == g {
			return i
		}
	}
	return -1
}

// start is keepalived's vrrp_init_state: stale VIPs are removed, an owner
// configured MASTER takes over at once, any other instance enters BACKUP
// with a full Master_Down_Timer, and an instance whose tracking fails (or
// whose scripts have not reported yet) waits in FAULT.
func (e *engine) start(now time.Time) []action {
	if e.started {
		return nil
	}
	e.started = true
	var acts []action
	for _, m := range e.ms {
		acts = append(acts, action{Kind: actClearVIPs, Inst: m.idx, Force: true})
	}
	for _, m := range e.ms {
		if m.state != StateInit {
			continue // already moved by its sync group
		}
		acts = e.startOne(acts, now, m)
	}
	for _, g := range e.groups {
		// keepalived announces groups in FAULT or BACKUP at start.
		s, quiet := StateBackup, false
		for _, i := range g.members {
			m := e.ms[i]
			if m.state == StateFault {
				s, quiet = StateFault, !m.faultNotified
				break
			}
			if m.state == StateMaster {
				s = StateMaster
			}
		}
		if s != g.state {
			g.state = StateInit
			acts = e.setGroupState(acts, g, s, quiet)
		}
	}
	return acts
}

func (e *engine) startOne(acts []action, now time.Time, m *machine) []action {
	switch {
	case m.fault || m.initTrack:
		return e.toFault(acts, now, m, !m.fault)
	case m.p.basePrio == PrioOwner && m.p.wantMast:
		// RFC 5798 §6.4.1: "If the Priority = 255 ... Send an
		// ADVERTISEMENT ... Transition to the {Master} state".
		// keepalived: "The simplest way to become master is to timeout
		// from the backup state very quickly (1usec)"; in a sync group
		// that timeout goes through the group's rules.
		if e.groupOf(m) == nil {
			return m.becomeMaster(acts, now)
		}
		acts = m.enterBackup(acts, now)
		m.downAt = now
		return acts
	default:
		return m.enterBackup(acts, now)
	}
}

// toMaster moves m to MASTER, with its sync group: a member goes only when
// every other member wants to too ("prefer backup state to avoid
// thrashing", keepalived vrrp_sync_can_goto_master), and then all go.
func (e *engine) toMaster(acts []action, now time.Time, m *machine) []action {
	g := e.groupOf(m)
	if g == nil {
		return m.becomeMaster(acts, now)
	}
	for _, i := range g.members {
		o := e.ms[i]
		if o != m && o.state != StateMaster && o.want != StateMaster {
			m.want = StateMaster
			m.downAt = now.Add(m.downInterval())
			return acts
		}
	}
	acts = m.becomeMaster(acts, now)
	for _, i := range g.members {
		if o := e.ms[i]; o != m && o.state != StateMaster {
			acts = o.becomeMaster(acts, now)
		}
	}
	return e.setGroupState(acts, g, StateMaster, false)
}

// toBackup takes master m to BACKUP after a higher priority advert, with
// its sync group's other masters (keepalived vrrp_sync_backup).
func (e *engine) toBackup(acts []action, now time.Time, m *machine) []action {
	acts = m.leave(acts, now, StateBackup)
	g := e.groupOf(m)
	if g == nil {
		return acts
	}
	for _, i := range g.members {
		if o := e.ms[i]; o != m && o.state == StateMaster {
			acts = o.leave(acts, now, StateBackup)
		}
	}
	return e.setGroupState(acts, g, StateBackup, false)
}

// toFault moves m, and every member of its sync group, to FAULT.
func (e *engine) toFault(acts []action, now time.Time, m *machine, quiet bool) []action {
	acts = m.enterFault(acts, now, quiet)
	g := e.groupOf(m)
	if g == nil {
		return acts
	}
	for _, i := range g.members {
		if o := e.ms[i]; o != m && o.state != StateFault && o.state != StateInit {
			acts = o.enterFault(acts, now, quiet)
		} else if o != m && o.state == StateInit {
			o.state, o.want = StateFault, StateFault
		}
	}
	return e.setGroupState(acts, g, StateFault, quiet)
}

// leaveFault brings m back once its tracking is clear: to BACKUP with a
// full down timer, or straight to MASTER if it is the configured owner. A
// sync group leaves FAULT only when every member is clear.
func (e *engine) leaveFault(acts []action, now time.Time, m *machine) []action {
	g := e.groupOf(m)
	if g == nil {
		if m.p.basePrio == PrioOwner && m.p.wantMast {
			m.faultNotified = false
			return m.becomeMaster(acts, now)
		}
		m.faultNotified = false
		return m.enterBackup(acts, now)
	}
	for _, i := range g.members {
		if o := e.ms[i]; o.fault || o.initTrack {
			return acts
		}
	}
	for _, i := range g.members {
		o := e.ms[i]
		o.faultNotified = false
		if o.state == StateFault || o.state == StateInit {
			acts = o.enterBackup(acts, now)
		}
	}
	return e.setGroupState(acts, g, StateBackup, false)
}

func (e *engine) track(now time.Time, m *machine, ev evTrack) []action {
	m.prio = ev.Priority
	if m.p.basePrio == PrioOwner {
		m.prio = PrioOwner // weights cannot change an owner
	}
	m.fault, m.initTrack = ev.Fault, ev.Init
	if !e.started || e.stopped || m.state == StateInit || m.state == StateStop {
		return nil
	}
	var acts []action
	switch {
	case (m.fault || m.initTrack) && (m.state != StateFault || (m.fault && !m.faultNotified)):
		acts = e.toFault(acts, now, m, !m.fault)
	case !m.fault && !m.initTrack && m.state == StateFault:
		acts = e.leaveFault(acts, now, m)
	}
	return acts
}

// receive handles a packet for m.
func (e *engine) receive(now time.Time, m *machine, pkt *Packet) []action {
	a, err := m.check(pkt)
	m.dropped = err
	if err != nil {
		return nil
	}
	var acts []action
	switch m.state {
	case StateBackup:
		acts = e.backupRx(acts, now, m, pkt, a)
	case StateMaster:
		acts = e.masterRx(acts, now, m, pkt, a)
	}
	return acts
}

// backupRx is RFC 5798 §6.4.2 "If an ADVERTISEMENT is received" in
// keepalived's form (vrrp_state_backup).
func (e *engine) backupRx(acts []action, now time.Time, m *machine, pkt *Packet, a *Advert) []action {
	p := m.p
	switch {
	case a.Priority == PrioStop:
		// "If the Priority in the ADVERTISEMENT is zero, then: Set the
		// Master_Down_Timer to Skew_Time".
		m.downAt = now.Add(m.skew())
	case p.nopreempt || a.Priority >= m.prio ||
		(p.preemptDl > 0 && (m.preemptAt.IsZero() || m.preemptAt.After(now))):
		// "If Preempt_Mode is False, or if the Priority in the
		// ADVERTISEMENT is greater than or equal to the local Priority,
		// then: Set Master_Adver_Interval to Adver Interval contained in
		// the ADVERTISEMENT; Recompute the Master_Down_Interval; Reset the
		// Master_Down_Timer to Master_Down_Interval". keepalived also
		// accepts lower priorities while preempt_delay runs.
		if p.version == 3 {
			m.masterAdvInt = a.Interval()
		}
		m.downAt = now.Add(m.downInterval())
		m.masterAddr, m.masterPrio = pkt.Src, a.Priority
		m.want = StateBackup
		if p.preemptDl > 0 {
			if a.Priority >= m.prio {
				m.preemptAt = time.Time{} // "stop preempt delay"
			} else if m.preemptAt.IsZero() {
				m.preemptAt = now.Add(p.preemptDl) // "start preempt delay"
			}
		}
	default:
		// "else (preempt is True and priority was less than the local
		// priority): Discard the ADVERTISEMENT" — the down timer runs on
		// and this router preempts when it fires.
		m.masterAddr, m.masterPrio = pkt.Src, a.Priority
	}
	return acts
}

// masterRx is RFC 5798 §6.4.3 "If an ADVERTISEMENT is received" in
// keepalived's form (vrrp_state_master_rx).
func (e *engine) masterRx(acts []action, now time.Time, m *machine, pkt *Packet, a *Advert) []action {
	p := m.p
	cmp := pkt.Src.Compare(m.self)
	if a.Priority == PrioStop || (p.higherPrioSendAdvert && (a.Priority > m.prio || (a.Priority == m.prio && cmp > 0))) {
		// "If the Priority in the ADVERTISEMENT is zero, then: Send an
		// ADVERTISEMENT". (higher_prio_send_advert also answers a higher
		// priority master once before yielding.)
		acts = m.send(acts, m.prio)
		if a.Priority == PrioStop {
			return acts
		}
	}
	if a.Priority == m.prio && cmp != 0 && m.prio == PrioOwner {
		// keepalived: "CONFIGURATION ERROR: local instance and a remote
		// instance are both configured as address owner, please fix -
		// reducing local priority".
		m.prio = PrioOwner - 1
		m.p.basePrio = PrioOwner - 1
	}
	if a.Priority < m.prio || (a.Priority == m.prio && cmp < 0) {
		// RFC 5798 §6.4.3 "else: Discard ADVERTISEMENT"; keepalived (and
		// RFC 9568) answer with an advert to force a new election unless
		// lower_prio_no_advert, and refresh the neighbours' ARP caches.
		if p.auth == AuthAH {
			// keepalived: "IPSEC-AH : Syncing seq_num - Increment seq".
			if ah, err := parseAH(pkt.Payload); err == nil {
				m.ahSeq = ah.seq + 1
			}
		}
		if !p.lowerPrioNoAdvert {
			acts = m.send(acts, m.prio)
		}
		if p.garpLowerRep > 0 {
			acts = append(acts, action{Kind: actGARP, Inst: m.idx, Repeat: p.garpLowerRep})
			if p.garpLowerDelay > 0 {
				m.lowerGarpAt = now.Add(p.garpLowerDelay)
			}
		}
		return append(acts, action{Kind: actRxLowerPrio, Inst: m.idx, Priority: a.Priority})
	}
	if a.Priority > m.prio || (a.Priority == m.prio && cmp > 0) {
		// "If the Priority in the ADVERTISEMENT is greater than the local
		// Priority, or If the Priority in the ADVERTISEMENT is equal to
		// the local Priority and the primary IPvX Address of the sender is
		// greater than the local primary IPvX Address, then: Cancel
		// Adver_Timer; Set Master_Adver_Interval to Adver Interval
		// contained in the ADVERTISEMENT; Recompute the Skew_Time;
		// Recompute the Master_Down_Interval; Set Master_Down_Timer to
		// Master_Down_Interval; Transition to the {Backup} state".
		if p.version == 3 {
			m.masterAdvInt = a.Interval()
		}
		m.masterAddr, m.masterPrio = pkt.Src, a.Priority
		return e.toBackup(acts, now, m)
	}
	// Equal priority from our own address: keepalived warns and stays.
	return acts
}

// fire runs m's expired timers.
func (e *engine) fire(acts []action, now time.Time, m *machine) []action {
	expired := func(t time.Time) bool { return !t.IsZero() && !t.After(now) }
	if m.state == StateBackup && expired(m.downAt) {
		m.downAt = time.Time{}
		acts = e.toMaster(acts, now, m)
	}
	if m.state != StateMaster {
		return acts
	}
	if expired(m.advertAt) {
		// "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the
		// Adver_Timer to Advertisement_Interval".
		acts = m.send(acts, m.prio)
		m.advertAt = now.Add(m.p.adverInt)
	}
	if expired(m.garpAt) {
		m.garpAt = time.Time{}
		acts = append(acts, action{Kind: actGARP, Inst: m.idx, Repeat: m.p.garpRepeat})
	}
	if expired(m.refreshAt) {
		m.refreshAt = now.Add(m.p.garpRefresh)
		if m.p.garpRefreshRep > 0 {
			acts = append(acts, action{Kind: actGARP, Inst: m.idx, Repeat: m.p.garpRefreshRep})
		}
	}
	if expired(m.lowerGarpAt) {
		m.lowerGarpAt = time.Time{}
		acts = append(acts, action{Kind: actGARP, Inst: m.idx, Repeat: m.p.garpLowerRep})
	}
	return acts
}

// stop is the graceful shutdown: RFC 5798 §6.4.3 "If a Shutdown event is
// received, then: Cancel the Adver_Timer; Send an ADVERTISEMENT with
// Priority = 0". keepalived then removes rules, routes and VIPs and runs
// notify_stop for every instance and group.
func (e *engine) stop(now time.Time) []action {
	if e.stopped {
		return nil
	}
	e.stopped = true
	var acts []action
	for _, m := range e.ms {
		acts = m.leave(acts, now, StateStop)
	}
	for _, g := range e.groups {
		acts = e.setGroupState(acts, g, StateStop, false)
	}
	return acts
}
