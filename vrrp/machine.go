package vrrp

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// machine is one instance's state: the RFC 5798 state machine with
// keepalived's extensions. It does no I/O and reads no clock: every method
// takes now and appends what must happen to an action list. The engine
// (engine.go) owns the machines and applies sync group rules.
type machine struct {
	idx  int
	p    *params
	self netip.Addr // our primary address: the tie-break on equal priority

	state State
	// want is keepalived's wantstate: the state the instance would be in
	// without its sync group.
	want State
	// prio is the effective priority (base + tracking weights).
	prio uint8
	// fault is set while tracking says FAULT; initTrack while a tracked
	// script has not reported yet (keepalived's num_script_init).
	fault, initTrack bool
	// faultNotified tells whether FAULT was announced (an instance waiting
	// for its scripts' first result is in FAULT quietly).
	faultNotified bool

	masterAdvInt time.Duration
	masterAddr   netip.Addr
	masterPrio   uint8

	// Deadlines; the zero time means disarmed.
	downAt, advertAt, preemptAt    time.Time
	garpAt, refreshAt, lowerGarpAt time.Time
	lastTransition                 time.Time
	vipsSet                        bool
	// dropped is why the last packet was dropped, for the driver's debug
	// log (nil when it was accepted).
	dropped error
	// ahSeq is keepalived's ipsecah_counter: the last AH sequence number
	// sent or accepted; one counter serves both directions.
	ahSeq uint32
	stats Stats
}

func newMachine(idx int, p *params) *machine {
	return &machine{idx: idx, p: p, state: StateInit, want: StateBackup, prio: p.basePrio, masterAdvInt: p.adverInt}
}

// skewP is the priority the skew time is computed with: keepalived uses 255
// for an owner and the effective priority otherwise.
func (m *machine) skewP() int {
	if m.p.basePrio == PrioOwner {
		return PrioOwner
	}
	return int(m.prio)
}

// skew returns Skew_Time.
//
// RFC 5798 §6.1: "Skew_Time: Time to skew Master_Down_Interval in
// centiseconds. Calculated as: (((256 - priority) * Master_Adver_Interval)
// / 256)". RFC 3768 §6.1 (v2): "Calculated as: ( (256 - Priority) / 256 )"
// seconds, independent of the interval. Both in keepalived's integer
// microseconds (include/vrrp.h VRRP_TIMER_SKEW).
func (m *machine) skew() time.Duration {
	n := int64(256 - m.skewP())
	if m.p.version == 3 {
		cs := int64(m.masterAdvInt / (10 * time.Millisecond))
		return time.Duration(n*cs*625/16) * time.Microsecond
	}
	return time.Duration(n*1000000/256) * time.Microsecond
}

// downInterval returns Master_Down_Interval.
//
// RFC 5798 §6.1: "Master_Down_Interval: Time interval for Backup to
// declare Master down (centiseconds). Calculated as: (3 *
// Master_Adver_Interval) + Skew_time". keepalived makes the 3
// configurable (down_timer_adverts).
func (m *machine) downInterval() time.Duration {
	return time.Duration(m.p.downAdv)*m.masterAdvInt + m.skew()
}

// deadline returns the earliest armed deadline, or the zero time.
func (m *machine) deadline() time.Time {
	var d time.Time
	for _, t := range [...]time.Time{m.downAt, m.advertAt, m.garpAt, m.refreshAt, m.lowerGarpAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

func (m *machine) disarm() {
	m.downAt, m.advertAt, m.preemptAt = time.Time{}, time.Time{}, time.Time{}
	m.garpAt, m.refreshAt, m.lowerGarpAt = time.Time{}, time.Time{}, time.Time{}
}

func (m *machine) send(acts []action, prio uint8) []action {
	m.stats.AdvertSent++
	if prio == PrioStop {
		m.stats.PriZeroSent++
	}
	var seq uint32
	if m.p.auth == AuthAH {
		// keepalived stops counting at 0xFFFFFFFD ("cycled"), some 136
		// years of adverts at the v2 minimum of 1 s.
		if m.ahSeq <= 0xFFFFFFFD {
			m.ahSeq++
		}
		seq = m.ahSeq
	}
	return append(acts, action{Kind: actSend, Inst: m.idx, Priority: prio, Seq: seq})
}

func (m *machine) notify(acts []action, now time.Time, prev State) []action {
	m.lastTransition = now
	return append(acts, action{Kind: actNotify, Inst: m.idx, State: m.state, Prev: prev, Priority: m.prio})
}

// becomeMaster is the Backup → Master transition of RFC 5798 §6.4.2: "If
// the Master_Down_Timer fires, then: Send an ADVERTISEMENT ... Set the
// Adver_Timer to Advertisement_Interval ... Transition to the {Master}
// state". keepalived then adds the VIPs, eVIPs, routes and rules and sends
// garp_master_repeat gratuitous ARPs, again after garp_master_delay, and
// every garp_master_refresh.
func (m *machine) becomeMaster(acts []action, now time.Time) []action {
	prev := m.state
	m.state, m.want = StateMaster, StateMaster
	m.disarm()
	m.stats.BecomeMaster++
	m.masterAddr, m.masterPrio = m.self, m.prio
	acts = m.send(acts, m.prio)
	acts = append(acts, action{Kind: actSetVIPs, Inst: m.idx})
	m.vipsSet = true
	if m.p.garpRepeat > 0 {
		acts = append(acts, action{Kind: actGARP, Inst: m.idx, Repeat: m.p.garpRepeat})
	}
	if m.p.garpDelay > 0 {
		m.garpAt = now.Add(m.p.garpDelay)
	}
	if m.p.garpRefresh > 0 {
		m.refreshAt = now.Add(m.p.garpRefresh)
	}
	m.advertAt = now.Add(m.p.adverInt)
	return m.notify(acts, now, prev)
}

// leave takes the instance to BACKUP, FAULT, STOP or DELETED. A master
// releases its VIPs on the way, and into anything but BACKUP (where a
// higher priority master has taken over) it first sends priority 0
// (keepalived vrrp_state_leave_master: "Entering FAULT STATE",
// vrrp_send_adv(vrrp, VRRP_PRIO_STOP); vrrp_shutdown and a reload's
// deleted instance likewise).
func (m *machine) leave(acts []action, now time.Time, to State) []action {
	prev := m.state
	if prev == StateMaster {
		if to != StateBackup {
			acts = m.send(acts, PrioStop)
		}
		acts = append(acts, action{Kind: actClearVIPs, Inst: m.idx})
		m.vipsSet = false
		m.stats.ReleaseMaster++
	}
	m.disarm()
	m.state = to
	if to == StateBackup {
		m.want = StateBackup
		m.downAt = now.Add(m.downInterval())
	}
	return m.notify(acts, now, prev)
}

// enterBackup starts (or restarts) BACKUP with a full master down timer:
// RFC 5798 §6.4.1: "Set Master_Adver_Interval to Advertisement_Interval;
// Set the Master_Down_Timer to Master_Down_Interval; Transition to the
// {Backup} state".
func (m *machine) enterBackup(acts []action, now time.Time) []action {
	prev := m.state
	m.disarm()
	m.state, m.want = StateBackup, StateBackup
	m.masterAdvInt = m.p.adverInt
	m.downAt = now.Add(m.downInterval())
	if prev != StateBackup {
		acts = m.notify(acts, now, prev)
	}
	return acts
}

// enterFault takes the instance to FAULT; quiet is set while it only waits
// for its scripts' first result.
func (m *machine) enterFault(acts []action, now time.Time, quiet bool) []action {
	if m.state == StateMaster {
		acts = m.leave(acts, now, StateFault)
		m.want = StateFault
		m.faultNotified = true
		return acts
	}
	prev := m.state
	m.disarm()
	m.state, m.want = StateFault, StateFault
	if quiet || (prev == StateFault && m.faultNotified) {
		return acts
	}
	m.faultNotified = true
	return m.notify(acts, now, prev)
}

// rejection is why the receive checks refused an advert, in keepalived's
// words; kind (the message's format) groups refusals for the log's rate
// limit.
type rejection struct{ kind, msg string }

func (r *rejection) Error() string { return r.msg }

// errDiscard marks adverts that were valid but are dropped by the rules
// (counted where the rule says).
var errDiscard = errors.New("vrrp: advert discarded")

// check applies the receive checks of RFC 3768 §7.1 / RFC 5798 §7.1 in
// keepalived's order (vrrp_in_chk) and counts what fails. It returns the
// advert when it is valid for this instance.
func (m *machine) check(pkt *Packet) (*Advert, error) {
	p := m.p
	payload := pkt.Payload
	// Each refusal says why in keepalived's words (vrrp_in_chk), for the
	// log.
	reject := func(format string, args ...any) error {
		return &rejection{kind: format, msg: fmt.Sprintf("(%s) "+format, append([]any{p.name}, args...)...)}
	}
	if pkt.Proto != p.proto() {
		// Different sockets in keepalived; never reaches the instance.
		return nil, errDiscard
	}
	if p.auth == AuthAH {
		if len(payload) < ahLen+headerLen {
			m.stats.PacketLenErr++
			return nil, reject("vrrp header too short. %d and expect at least %d", len(payload), ahLen+headerLen)
		}
		payload = payload[ahLen:]
	} else if len(payload) < headerLen {
		m.stats.PacketLenErr++
		return nil, reject("vrrp header too short. %d and expect at least %d", len(payload), headerLen)
	}
	// "MUST verify that the IPv4 TTL or IPv6 Hop Limit is 255" (RFC 5798
	// §7.1); keepalived checks it for multicast only, unicast peers may
	// give min_ttl/max_ttl instead.
	if !p.unicast && pkt.TTL != TTL {
		m.stats.IPTTLErr++
		return nil, reject("invalid ttl. %d and expect %d", pkt.TTL, TTL)
	}
	if p.unicast {
		if pe, ok := m.peer(pkt.Src); ok && ((pe.MinTTL != 0 && int(pkt.TTL) < pe.MinTTL) || (pe.MaxTTL != 0 && int(pkt.TTL) > pe.MaxTTL)) {
			m.stats.IPTTLErr++
			return nil, reject("invalid ttl. %d and expect %d-%d from unicast peer %s", pkt.TTL, pe.MinTTL, pe.MaxTTL, pkt.Src)
		}
	}
	if p.version == 2 && payload[0]>>4 == 2 {
		// RFC 3768 §7.1: "MUST perform authentication specified by Auth
		// Type".
		at := AuthType(payload[4])
		switch {
		case at != AuthNone && at != AuthPass && at != AuthAH:
			m.stats.InvalidAuthType++
			return nil, reject("Invalid auth type: %d", at)
		case at != p.auth:
			m.stats.AuthTypeMismatch++
			return nil, reject("received a %d auth, expecting %d!", at, p.auth)
		case at == AuthPass:
			// keepalived compares the last 8 bytes of the packet.
			if len(payload) < headerLen+AuthLen || !bytes.Equal(payload[len(payload)-AuthLen:], p.authKey[:]) {
				m.stats.AuthFailure++
				return nil, reject("received an invalid passwd!")
			}
		case at == AuthAH:
			if err := m.checkAH(pkt); err != nil {
				m.stats.AuthFailure++
				return nil, reject("invalid IPSEC AH header: %v", err)
			}
		}
		// RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet
		// is the same as the locally configured for this virtual router".
		if uint16(payload[5]) != p.advField {
			m.stats.AdvertIntervalErr++
			return nil, reject("advertisement interval mismatch mine=%d sec rcved=%d sec", p.advField, payload[5])
		}
	}
	if v := payload[0] >> 4; v != p.version {
		m.stats.VersionErr++
		return nil, reject("invalid version. %d and expect %d", v, p.version)
	}
	a, err := ParseAdvert(payload, p.family)
	switch {
	case errors.Is(err, ErrType):
		m.stats.InvalidTypeRcvd++
		return nil, reject("Invalid packet type. %d and expect %d", payload[0]&0x0f, 1)
	case err != nil:
		m.stats.PacketLenErr++
		return nil, reject("Received packet length mismatch against expected: %v", err)
	}
	if len(a.Addrs) != len(p.vips) {
		m.stats.AddrListErr++
		return nil, reject("received an invalid ip number count %d, expected %d!", len(a.Addrs), len(p.vips))
	}
	// "MUST verify the VRRP checksum" — the v3 one with the pseudo-header
	// unless v3_checksum_as_v2.
	var ph *Pseudo
	if p.version == 3 && (p.family == IPv6 || !p.checksumAsV2) {
		ph = &Pseudo{Src: pkt.Src, Dst: pkt.Dst}
	}
	if !VerifyChecksum(payload, ph) {
		m.stats.ChecksumErr++
		return nil, reject("Invalid VRRPv%d checksum", p.version)
	}
	m.stats.AdvertRcvd++
	// RFC 5798 §7.1: "MAY verify that 'Count IPvX Addrs' and the list of
	// IPvX address(es) match the IPvX Address(es) configured for the
	// VRID"; keepalived does unless skip_check_adv_addr and the sender is
	// the known master.
	if !p.skipCheckAdvAddr || pkt.Src != m.masterAddr {
		for _, v := range p.vips {
			found := false
			for _, x := range a.Addrs {
				if x == v {
					found = true
					break
				}
			}
			if !found {
				m.stats.AddrListErr++
				return nil, reject("ip address associated with VRID %d not present in MASTER advert : %s", p.vrid, v)
			}
		}
	}
	if p.unicast && p.checkSrc {
		if _, ok := m.peer(pkt.Src); !ok {
			m.stats.UnicastSrcErr++
			return nil, reject("unicast source address %s not a unicast peer", pkt.Src)
		}
	}
	if a.Priority == PrioStop {
		m.stats.PriZeroRcvd++
	}
	return a, nil
}

func (m *machine) peer(src netip.Addr) (Peer, bool) {
	for _, pe := range m.p.peers {
		if pe.Addr == src {
			return pe, true
		}
	}
	return Peer{}, false
}

// checkAH verifies keepalived's AH header: the ICV, "the SPI value is
// equal to src IP", and a sequence number above the last one seen
// (anti-replay).
func (m *machine) checkAH(pkt *Packet) error {
	ah, err := parseAH(pkt.Payload)
	if err != nil {
		return err
	}
	if !verifyAH(pkt, m.p.authKey, m.p.unicast) {
		return errors.New("vrrp: ah: bad ICV")
	}
	if ah.spi != pkt.Src.Unmap().As4() {
		return errors.New("vrrp: ah: SPI is not the source address")
	}
	if ah.seq <= m.ahSeq {
		return errors.New("vrrp: ah: sequence number already seen")
	}
	m.ahSeq = ah.seq
	return nil
}
