package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	selfA = netip.MustParseAddr("198.18.0.11")
	peerB = netip.MustParseAddr("198.18.0.12") // higher than selfA
	peerL = netip.MustParseAddr("198.18.0.5")  // lower than selfA
	vip   = netip.MustParseAddr("198.18.0.100")
)

// testEngine builds an engine over the given instances (self address
// selfA) and sync groups.
func testEngine(t *testing.T, g Global, groups []SyncGroup, ins ...Instance) *engine {
	t.Helper()
	cfg := &Config{Global: g, Groups: groups, Instances: ins}
	ps, _, err := resolveAll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{}
	for _, gr := range groups {
		e.groups = append(e.groups, &group{name: gr.Name, state: StateInit})
	}
	for i, p := range ps {
		m := newMachine(i, p)
		m.self = selfA
		e.ms = append(e.ms, m)
		if p.group >= 0 {
			e.groups[p.group].members = append(e.groups[p.group].members, i)
		}
	}
	return e
}

func inst(name string, vrid, prio int, mods ...func(*Instance)) Instance {
	in := Instance{Name: name, Interface: "eth0", VRID: vrid, Priority: prio,
		VIPs: []VIP{{Prefix: netip.PrefixFrom(vip, 32)}}}
	for _, m := range mods {
		m(&in)
	}
	return in
}

// advert builds a valid packet from src for instance parameters p with the
// given priority (and interval in p's wire unit unless adv is set).
func advert(t *testing.T, p *params, src netip.Addr, prio uint8, adv ...uint16) *Packet {
	t.Helper()
	a := Advert{Version: p.version, Family: p.family, VRID: p.vrid, Priority: prio, AdverInt: p.advField, Addrs: p.vips}
	if len(adv) > 0 {
		a.AdverInt = adv[0]
	}
	if p.version == 2 {
		a.AuthType = p.auth
		if p.auth == AuthPass {
			a.AuthData = p.authKey
		}
	}
	dst := p.dst()
	var ph *Pseudo
	if p.version == 3 && !p.checksumAsV2 {
		ph = &Pseudo{Src: src, Dst: dst}
	}
	if err := a.SetChecksum(ph); err != nil {
		t.Fatal(err)
	}
	var b []byte
	if p.auth == AuthAH {
		b = appendAH(nil, src, 1000)
	}
	b, err := a.AppendBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	pkt := &Packet{Src: src, Dst: dst, TTL: TTL, TOS: 0xc0, ID: 1, Proto: p.proto(), Payload: b}
	if p.auth == AuthAH {
		if err := sealAH(pkt, p.authKey, p.unicast); err != nil {
			t.Fatal(err)
		}
	}
	return pkt
}

// render turns actions into short text for comparison.
func render(acts []action) string {
	var out []string
	for _, a := range acts {
		switch a.Kind {
		case actSend:
			out = append(out, fmt.Sprintf("%d:send(%d)", a.Inst, a.Priority))
		case actGARP:
			out = append(out, fmt.Sprintf("%d:garp(%d)", a.Inst, a.Repeat))
		case actNotify:
			if a.Inst < 0 {
				out = append(out, fmt.Sprintf("group%d:%v", a.Group, a.State))
			} else {
				out = append(out, fmt.Sprintf("%d:%v", a.Inst, a.State))
			}
		case actClearVIPs:
			if a.Force {
				out = append(out, fmt.Sprintf("%d:sweep", a.Inst))
			} else {
				out = append(out, fmt.Sprintf("%d:clear", a.Inst))
			}
		default:
			out = append(out, fmt.Sprintf("%d:%v", a.Inst, a.Kind))
		}
	}
	return strings.Join(out, " ")
}

func TestTimers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         Instance
		skew, down time.Duration
	}{
		// RFC 3768: skew (256-P)/256 s whatever the interval.
		{"v2 prio 100", inst("a", 1, 100), 609375 * time.Microsecond, 3*time.Second + 609375*time.Microsecond},
		{"v2 prio 254 adv 3", inst("a", 1, 254, func(i *Instance) { i.AdvertInt = 3 * time.Second }),
			7812 * time.Microsecond, 9*time.Second + 7812*time.Microsecond},
		// RFC 5798: skew (256-P)*Master_Adver_Interval/256.
		{"v3 prio 100 adv 1s", inst("a", 1, 100, func(i *Instance) { i.Version = 3 }),
			609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v3 prio 200 adv 0.1s", inst("a", 1, 200, func(i *Instance) { i.Version = 3; i.AdvertInt = 100 * time.Millisecond }),
			21875 * time.Microsecond, 321875 * time.Microsecond},
		{"down_timer_adverts 5", inst("a", 1, 100, func(i *Instance) { i.DownTimerAdverts = 5 }),
			609375 * time.Microsecond, 5609375 * time.Microsecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := testEngine(t, Global{}, nil, tc.in)
			m := e.ms[0]
			if got := m.skew(); got != tc.skew {
				t.Errorf("skew = %v, want %v", got, tc.skew)
			}
			if got := m.downInterval(); got != tc.down {
				t.Errorf("master down interval = %v, want %v", got, tc.down)
			}
			// And the engine arms exactly that at start-up.
			e.Step(t0, evStart{})
			if got := e.deadline().Sub(t0); got != tc.down {
				t.Errorf("start-up deadline in %v, want %v", got, tc.down)
			}
		})
	}
}

// step is one event of a scenario and what must come out of it.
type step struct {
	at   time.Duration // since t0
	ev   func(e *engine) input
	want string
	// state, when set, is the expected state of instance 0 afterwards.
	state State
	// deadline, when set, is the expected next deadline (since t0).
	deadline time.Duration
}

func runSteps(t *testing.T, e *engine, steps []step) {
	t.Helper()
	for i, s := range steps {
		acts := e.Step(t0.Add(s.at), s.ev(e))
		if got := render(acts); got != s.want {
			t.Errorf("step %d at %v: actions\n got %q\nwant %q", i, s.at, got, s.want)
		}
		if s.state != 0 && e.ms[0].state != s.state {
			t.Errorf("step %d at %v: state %v, want %v", i, s.at, e.ms[0].state, s.state)
		}
		if s.deadline != 0 {
			if got := e.deadline().Sub(t0); got != s.deadline {
				t.Errorf("step %d at %v: deadline %v, want %v", i, s.at, got, s.deadline)
			}
		}
	}
}

func start(*engine) input { return evStart{} }
func tick(*engine) input  { return evTimer{} }
func stop(*engine) input  { return evStop{} }
func rx(t *testing.T, inst int, src netip.Addr, prio uint8, adv ...uint16) func(*engine) input {
	return func(e *engine) input {
		return evPacket{Inst: inst, Packet: advert(t, e.ms[inst].p, src, prio, adv...)}
	}
}
func trk(inst int, prio uint8, fault bool) func(*engine) input {
	return func(*engine) input { return evTrack{Inst: inst, Priority: prio, Fault: fault} }
}

const down100 = 3609375 * time.Microsecond // 3 × 1 s + (256-100)/256 s

func TestEngineScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		g      Global
		groups []SyncGroup
		ins    []Instance
		steps  []step
	}{
		{
			name: "backup becomes master after 3 × advert + skew, then advertises every interval",
			ins:  []Instance{inst("VI_1", 51, 100)},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP", state: StateBackup, deadline: down100},
				{at: down100 - 1, ev: tick, want: "", state: StateBackup},
				{at: down100, ev: tick, want: "0:send(100) 0:set-vips 0:garp(5) 0:MASTER", state: StateMaster,
					deadline: down100 + time.Second},
				{at: down100 + time.Second, ev: tick, want: "0:send(100)", deadline: down100 + 2*time.Second},
				// garp_master_delay 5 s: the second burst of garp_master_repeat.
				{at: down100 + 5*time.Second, ev: tick, want: "0:send(100) 0:garp(5)"},
			},
		},
		{
			name: "priority 255 owner configured MASTER takes over at once",
			ins:  []Instance{inst("VI_1", 51, 0, func(i *Instance) { i.State = StateMaster })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:send(255) 0:set-vips 0:garp(5) 0:MASTER", state: StateMaster,
					deadline: time.Second},
			},
		},
		{
			name: "state MASTER with priority 100 still waits as BACKUP",
			ins:  []Instance{inst("VI_1", 51, 100, func(i *Instance) { i.State = StateMaster })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP", state: StateBackup, deadline: down100},
			},
		},
		{
			name: "adverts from a higher priority master keep a backup down",
			ins:  []Instance{inst("VI_1", 51, 100)},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP"},
				{at: 3 * time.Second, ev: rx(t, 0, peerL, 150), want: "", deadline: 3*time.Second + down100},
				{at: 6 * time.Second, ev: rx(t, 0, peerL, 150), want: "", deadline: 6*time.Second + down100},
				{at: 6*time.Second + down100, ev: tick, want: "0:send(100) 0:set-vips 0:garp(5) 0:MASTER"},
			},
		},
		{
			name: "priority 0 from the master: the backup takes over after skew only",
			ins:  []Instance{inst("VI_1", 51, 100)},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP"},
				{at: time.Second, ev: rx(t, 0, peerB, 150), want: ""},
				{at: 2 * time.Second, ev: rx(t, 0, peerB, 0), want: "", deadline: 2*time.Second + 609375*time.Microsecond},
				{at: 2*time.Second + 609375*time.Microsecond, ev: tick, want: "0:send(100) 0:set-vips 0:garp(5) 0:MASTER"},
			},
		},
		{
			name: "preempt: a lower priority master's adverts are discarded",
			ins:  []Instance{inst("VI_1", 51, 150)},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP", deadline: 3*time.Second + 414062*time.Microsecond},
				{at: time.Second, ev: rx(t, 0, peerB, 100), want: "", deadline: 3*time.Second + 414062*time.Microsecond},
				{at: 3*time.Second + 414062*time.Microsecond, ev: tick, want: "0:send(150) 0:set-vips 0:garp(5) 0:MASTER"},
			},
		},
		{
			name: "nopreempt: a lower priority master is accepted",
			ins:  []Instance{inst("VI_1", 51, 150, func(i *Instance) { i.Nopreempt = true })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP"},
				{at: time.Second, ev: rx(t, 0, peerB, 100), want: "", deadline: time.Second + 3*time.Second + 414062*time.Microsecond},
			},
		},
		{
			name: "preempt_delay: lower priority accepted until the delay runs out",
			ins:  []Instance{inst("VI_1", 51, 150, func(i *Instance) { i.PreemptDelay = 5 * time.Second })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP"},
				{at: time.Second, ev: rx(t, 0, peerB, 100), want: ""}, // starts the delay: until 6 s
				{at: 5 * time.Second, ev: rx(t, 0, peerB, 100), want: "", deadline: 5*time.Second + 3414062*time.Microsecond},
				{at: 7 * time.Second, ev: rx(t, 0, peerB, 100), want: "", deadline: 5*time.Second + 3414062*time.Microsecond},
				{at: 5*time.Second + 3414062*time.Microsecond, ev: tick, want: "0:send(150) 0:set-vips 0:garp(5) 0:MASTER"},
			},
		},
		{
			name: "master yields to a higher priority",
			ins:  []Instance{inst("VI_1", 51, 0, func(i *Instance) { i.State = StateMaster; i.Priority = 100 })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP"},
				{at: down100, ev: tick, want: "0:send(100) 0:set-vips 0:garp(5) 0:MASTER"},
				{at: 5 * time.Second, ev: rx(t, 0, peerL, 200), want: "0:clear 0:BACKUP", state: StateBackup,
					deadline: 5*time.Second + 3*time.Second + 609375*time.Microsecond},
			},
		},
		{
			name: "equal priority: the higher primary address wins",
			ins:  []Instance{inst("VI_1", 51, 100)},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP"},
				{at: down100, ev: tick, want: "0:send(100) 0:set-vips 0:garp(5) 0:MASTER"},
				// From a lower address: we stay and force an election.
				{at: 4 * time.Second, ev: rx(t, 0, peerL, 100), want: "0:send(100) 0:garp(5) 0:rx-lower-prio", state: StateMaster},
				// From a higher address: we yield.
				{at: 4500 * time.Millisecond, ev: rx(t, 0, peerB, 100), want: "0:clear 0:BACKUP", state: StateBackup},
			},
		},
		{
			name: "lower priority advert to a master: election forced unless lower_prio_no_advert",
			g:    Global{LowerPrioNoAdvert: true, GARPLowerPrioRepeat: new(int)},
			ins:  []Instance{inst("VI_1", 51, 255, func(i *Instance) { i.State = StateMaster })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:send(255) 0:set-vips 0:garp(5) 0:MASTER"},
				{at: 500 * time.Millisecond, ev: rx(t, 0, peerB, 100), want: "0:rx-lower-prio"},
				{at: 600 * time.Millisecond, ev: rx(t, 0, peerB, 0), want: "0:send(255)"},
			},
		},
		{
			name: "v3 backup adopts the master's advert interval",
			ins:  []Instance{inst("VI_1", 51, 100, func(i *Instance) { i.Version = 3 })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP", deadline: down100},
				// 10 cs from the master: down = 3 × 100 ms + ⌊156 × 10 × 625/16⌋ µs.
				{at: time.Second, ev: rx(t, 0, peerB, 200, 10), want: "", deadline: time.Second + 360937*time.Microsecond},
			},
		},
		{
			name: "v2 advert interval mismatch is dropped",
			ins:  []Instance{inst("VI_1", 51, 100)},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP", deadline: down100},
				{at: time.Second, ev: rx(t, 0, peerB, 200, 2), want: "", deadline: down100},
			},
		},
		{
			name: "graceful stop: priority 0, VIPs removed, STOP",
			ins:  []Instance{inst("VI_1", 51, 255, func(i *Instance) { i.State = StateMaster }), inst("VI_2", 52, 100)},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 1:sweep 0:send(255) 0:set-vips 0:garp(5) 0:MASTER 1:BACKUP"},
				{at: time.Second, ev: stop, want: "0:send(0) 0:clear 0:STOP 1:STOP", state: StateStop},
				{at: 2 * time.Second, ev: tick, want: ""},
			},
		},
		{
			name: "tracking: a weight lowers the priority, an unweighted failure is a FAULT",
			ins:  []Instance{inst("VI_1", 51, 255, func(i *Instance) { i.State = StateMaster; i.Priority = 200 })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 0:BACKUP"},
				{at: 4 * time.Second, ev: tick, want: "0:send(200) 0:set-vips 0:garp(5) 0:MASTER"},
				{at: 4500 * time.Millisecond, ev: trk(0, 185, false), want: ""},
				{at: 5 * time.Second, ev: tick, want: "0:send(185)"},
				{at: 5500 * time.Millisecond, ev: trk(0, 185, true), want: "0:send(0) 0:clear 0:FAULT", state: StateFault},
				{at: 6 * time.Second, ev: tick, want: ""},
				{at: 7 * time.Second, ev: trk(0, 200, false), want: "0:BACKUP", state: StateBackup,
					deadline: 7*time.Second + 3*time.Second + 218750*time.Microsecond},
			},
		},
		{
			name: "scripts not reported yet: FAULT quietly, then BACKUP",
			ins:  []Instance{inst("VI_1", 51, 100)},
			steps: []step{
				{at: 0, ev: func(*engine) input { return evTrack{Inst: 0, Priority: 100, Init: true} }, want: ""},
				{at: 0, ev: start, want: "0:sweep", state: StateFault},
				{at: time.Second, ev: trk(0, 100, false), want: "0:BACKUP", state: StateBackup},
			},
		},
		{
			name:   "sync group: members go master together",
			groups: []SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}},
			ins: []Instance{inst("VI_1", 51, 100),
				inst("VI_2", 52, 100, func(i *Instance) { i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/32")}} })},
			steps: []step{
				{at: 0, ev: start, want: "0:sweep 1:sweep 0:BACKUP 1:BACKUP group0:BACKUP"},
				// VI_2 hears a master, VI_1 does not: VI_1 must wait for VI_2.
				{at: 2 * time.Second, ev: rx(t, 1, peerB, 150), want: ""},
				{at: down100, ev: tick, want: "", state: StateBackup},
				// VI_2's timer runs out: both go.
				{at: 2*time.Second + down100, ev: tick,
					want:  "1:send(100) 1:set-vips 1:garp(5) 1:MASTER 0:send(100) 0:set-vips 0:garp(5) 0:MASTER group0:MASTER",
					state: StateMaster},
				// A higher priority on VI_2: both back down.
				{at: 7 * time.Second, ev: rx(t, 1, peerB, 200), want: "1:clear 1:BACKUP 0:clear 0:BACKUP group0:BACKUP"},
				// A FAULT on VI_1 takes the group to FAULT.
				{at: 8 * time.Second, ev: trk(0, 100, true), want: "0:FAULT 1:FAULT group0:FAULT", state: StateFault},
				{at: 9 * time.Second, ev: trk(0, 100, false), want: "0:BACKUP 1:BACKUP group0:BACKUP", state: StateBackup},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := testEngine(t, tc.g, tc.groups, tc.ins...)
			for i := range e.ms {
				e.Step(t0, evTrack{Inst: i, Priority: e.ms[i].p.basePrio})
			}
			runSteps(t, e, tc.steps)
		})
	}
}

// TestHostilePackets sends a backup packets that must be ignored and
// counted, and checks that none of them resets its down timer.
func TestHostilePackets(t *testing.T) {
	t.Parallel()
	type mod func(t *testing.T, p *params, pkt *Packet)
	reseal := func(t *testing.T, p *params, pkt *Packet) {
		var ph *Pseudo
		if p.version == 3 {
			ph = &Pseudo{Src: pkt.Src, Dst: pkt.Dst}
		}
		pkt.Payload[6], pkt.Payload[7] = 0, 0
		c := Checksum(pkt.Payload, ph)
		pkt.Payload[6], pkt.Payload[7] = byte(c>>8), byte(c)
	}
	tests := []struct {
		name string
		in   Instance
		mod  mod
		want Stats
	}{
		{"ttl 254", inst("a", 51, 100), func(_ *testing.T, _ *params, p *Packet) { p.TTL = 254 }, Stats{IPTTLErr: 1}},
		{"bad checksum", inst("a", 51, 100), func(_ *testing.T, _ *params, p *Packet) { p.Payload[6] ^= 0xff }, Stats{ChecksumErr: 1}},
		{"v3 checksum without pseudo-header", inst("a", 51, 100, func(i *Instance) { i.Version = 3 }),
			func(t *testing.T, p *params, pkt *Packet) {
				pkt.Payload[6], pkt.Payload[7] = 0, 0
				c := Checksum(pkt.Payload, nil)
				pkt.Payload[6], pkt.Payload[7] = byte(c>>8), byte(c)
			}, Stats{ChecksumErr: 1}},
		{"wrong password", inst("a", 51, 100, func(i *Instance) { i.AuthType = AuthPass; i.AuthPass = "1111" }),
			func(t *testing.T, p *params, pkt *Packet) {
				copy(pkt.Payload[len(pkt.Payload)-8:], "2222")
				reseal(t, p, pkt)
			}, Stats{AuthFailure: 1}},
		{"auth type mismatch", inst("a", 51, 100, func(i *Instance) { i.AuthType = AuthPass; i.AuthPass = "1111" }),
			func(t *testing.T, p *params, pkt *Packet) { pkt.Payload[4] = 0; reseal(t, p, pkt) }, Stats{AuthTypeMismatch: 1}},
		{"invalid auth type", inst("a", 51, 100), func(t *testing.T, p *params, pkt *Packet) { pkt.Payload[4] = 7; reseal(t, p, pkt) },
			Stats{InvalidAuthType: 1}},
		{"version 3 to a v2 instance", inst("a", 51, 100), func(t *testing.T, p *params, pkt *Packet) {
			pkt.Payload[0] = 0x31
			reseal(t, p, pkt)
		}, Stats{VersionErr: 1}},
		{"address count", inst("a", 51, 100), func(t *testing.T, p *params, pkt *Packet) {
			pkt.Payload[3] = 0
			pkt.Payload = append(pkt.Payload[:8], pkt.Payload[12:]...)
			reseal(t, p, pkt)
		}, Stats{AddrListErr: 1}},
		{"wrong address", inst("a", 51, 100), func(t *testing.T, p *params, pkt *Packet) {
			pkt.Payload[11]++
			reseal(t, p, pkt)
		}, Stats{AdvertRcvd: 1, AddrListErr: 1}},
		{"truncated", inst("a", 51, 100), func(_ *testing.T, _ *params, p *Packet) { p.Payload = p.Payload[:6] }, Stats{PacketLenErr: 1}},
		{"bad AH ICV", inst("a", 51, 100, func(i *Instance) { i.AuthType = AuthAH; i.AuthPass = "secret" }),
			func(_ *testing.T, _ *params, p *Packet) { p.Payload[len(p.Payload)-1] ^= 1 }, Stats{AuthFailure: 1}},
		{"AH with the wrong key", inst("a", 51, 100, func(i *Instance) { i.AuthType = AuthAH; i.AuthPass = "secret" }),
			func(t *testing.T, p *params, pkt *Packet) {
				if err := sealAH(pkt, ahKey{'x'}, false); err != nil {
					t.Fatal(err)
				}
			}, Stats{AuthFailure: 1}},
		{"unicast source not a peer", inst("a", 51, 100, func(i *Instance) {
			i.UnicastPeers = []Peer{{Addr: peerL}}
			i.UnicastSrcIP = selfA
		}), func(_ *testing.T, _ *params, p *Packet) {}, Stats{AdvertRcvd: 1, UnicastSrcErr: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := Global{CheckUnicastSrc: true}
			e := testEngine(t, g, nil, tc.in)
			e.Step(t0, evTrack{Inst: 0, Priority: e.ms[0].p.basePrio})
			e.Step(t0, evStart{})
			before := e.deadline()
			pkt := advert(t, e.ms[0].p, peerB, 200)
			if e.ms[0].p.unicast {
				pkt.Dst = selfA
			}
			tc.mod(t, e.ms[0].p, pkt)
			if acts := e.Step(t0.Add(time.Second), evPacket{Inst: 0, Packet: pkt}); len(acts) != 0 {
				t.Errorf("actions %s", render(acts))
			}
			if got := e.deadline(); !got.Equal(before) {
				t.Errorf("down timer moved from %v to %v", before.Sub(t0), got.Sub(t0))
			}
			if diff := cmp.Diff(tc.want, e.ms[0].stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidAdvertsCounted checks the positive path of each check: the same
// packets unmodified are accepted and reset the timer.
func TestValidAdvertsCounted(t *testing.T) {
	t.Parallel()
	for _, in := range []Instance{
		inst("pass", 51, 100, func(i *Instance) { i.AuthType = AuthPass; i.AuthPass = "longer-than-8" }),
		inst("ah", 51, 100, func(i *Instance) { i.AuthType = AuthAH; i.AuthPass = "secret" }),
		inst("v3", 51, 100, func(i *Instance) { i.Version = 3 }),
		inst("v3 as v2", 51, 100, func(i *Instance) { i.Version = 3; i.V3ChecksumAsV2 = new(bool); *i.V3ChecksumAsV2 = true }),
		inst("v6", 51, 100, func(i *Instance) { i.VIPs = []VIP{{Prefix: netip.MustParsePrefix("fe80::100/64")}} }),
	} {
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			e := testEngine(t, Global{}, nil, in)
			e.Step(t0, evTrack{Inst: 0, Priority: 100})
			e.Step(t0, evStart{})
			src := peerB
			if e.ms[0].p.family == IPv6 {
				src = netip.MustParseAddr("fe80::12")
			}
			e.Step(t0.Add(time.Second), evPacket{Inst: 0, Packet: advert(t, e.ms[0].p, src, 200)})
			if got := e.ms[0].stats; got.AdvertRcvd != 1 || got.Invalid() != 0 {
				t.Errorf("stats %+v, want one valid advert", got)
			}
			if got, want := e.deadline(), t0.Add(time.Second+e.ms[0].downInterval()); !got.Equal(want) {
				t.Errorf("deadline %v, want %v", got.Sub(t0), want.Sub(t0))
			}
		})
	}
}

func TestAHReplayRejected(t *testing.T) {
	t.Parallel()
	e := testEngine(t, Global{}, nil, inst("ah", 51, 100, func(i *Instance) { i.AuthType = AuthAH; i.AuthPass = "secret" }))
	e.Step(t0, evTrack{Inst: 0, Priority: 100})
	e.Step(t0, evStart{})
	pkt := advert(t, e.ms[0].p, peerB, 200)
	e.Step(t0.Add(time.Second), evPacket{Inst: 0, Packet: clonePacket(pkt)})
	e.Step(t0.Add(2*time.Second), evPacket{Inst: 0, Packet: clonePacket(pkt)}) // same sequence number
	if got := e.ms[0].stats; got.AdvertRcvd != 1 || got.AuthFailure != 1 {
		t.Errorf("stats %+v, want 1 accepted and 1 replay", got)
	}
}

// FuzzEngineReceive feeds arbitrary packets to instances of every
// authentication kind: no panic, and nothing but a valid advert is counted
// as received.
func FuzzEngineReceive(f *testing.F) {
	f.Add([]byte{0x21, 51, 200, 1, 1, 1, 0, 0, 198, 18, 0, 100, '1', '1', '1', '1', 0, 0, 0, 0}, uint8(255), false)
	f.Add(make([]byte, ahLen+20), uint8(255), true)
	f.Fuzz(func(t *testing.T, payload []byte, ttl uint8, ah bool) {
		in := inst("a", 51, 100, func(i *Instance) { i.AuthType, i.AuthPass = AuthPass, "1111" })
		proto := uint8(ProtoVRRP)
		if ah {
			in.AuthType, proto = AuthAH, ProtoAH
		}
		e := testEngine(t, Global{}, nil, in, inst("b", 52, 100, func(i *Instance) { i.Version = 3 }))
		e.Step(t0, evTrack{Inst: 0, Priority: 100})
		e.Step(t0, evTrack{Inst: 1, Priority: 100})
		e.Step(t0, evStart{})
		for i := range e.ms {
			pkt := &Packet{Src: peerB, Dst: Group4, TTL: ttl, Proto: proto, Payload: payload}
			e.Step(t0.Add(time.Second), evPacket{Inst: i, Packet: pkt})
			st := e.ms[i].stats
			if st.AdvertRcvd > 0 {
				if _, err := ParseAdvert(payload[min(len(payload), map[bool]int{true: ahLen}[ah && i == 0]):], IPv4); err != nil {
					t.Fatalf("instance %d counted an advert that does not parse: %v", i, err)
				}
			}
		}
	})
}
