package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/script"
)

// Node runs every VRRP instance and sync group of a Config. One goroutine
// (Run's) owns all state; Apply and Status hand it operations.
type Node struct {
	log *zap.Logger
	net Network
	sys System
	// prepare turns a script line into a runner (internal/script by
	// default; tests replace it). A script that may run but is insecure
	// comes with a warning.
	prepare func(pol script.Policy, argv []string, user, group string) (r runner, warning string, err error)
	// filePoll is how often track files are read.
	filePoll time.Duration
	// procRoot is the proc file system process tracking reads; procPoll
	// how often it is scanned where process events are not available
	// (procPollOnly: never use them, for tests).
	procRoot     string
	procPoll     time.Duration
	procPollOnly bool

	ops    chan func()
	events *eventQueue
	// stopping is set (on the Run goroutine) once Run is shutting down.
	stopping bool

	mu      sync.Mutex
	running bool
	ran     bool

	// Owned by the loop while running.
	cfg      *Config
	eng      *engine
	insts    []*instance
	groups   []*groupRT
	trans    map[TransportConfig]*transport
	ts       trackState
	rx       chan rxMsg
	trk      chan trackMsg
	nt       *notifier
	counters struct{ unknownVRID, malformed uint64 }
	// rejects rate-limits the log lines of refused adverts, per instance
	// and kind.
	rejects  map[string]*rxLimiter
	ctx      context.Context // Run's, for trackers and notify scripts
	rxWG     sync.WaitGroup
	trackWG  sync.WaitGroup
	stopLink context.CancelFunc
	stopAddr context.CancelFunc
	pw       *procWatcher
	fw       fwState
	// promoted lists the interfaces whose promote_secondaries ulvs set.
	promoted []string
}

// instance is an instance's runtime: its config, resolved parameters,
// machine and the system state it owns.
type instance struct {
	cfg Instance
	// blocking is set while the no_accept firewall drops traffic to its
	// VIPs (from becoming master until its VIPs are removed).
	blocking bool
	// notifyPrio is notify_priority_changes (own, sync group's or global).
	notifyPrio bool
	p          *params
	m          *machine
	dev        string // where VIPs without "dev" go: the VMAC, or the interface
	txIf       string // where adverts go out
	tr         *transport
	src        netip.Addr
	ipID       uint16
	ns         *notifyScripts
	track      trackResult
	alert      bool
}

type groupRT struct {
	cfg   SyncGroup
	ns    *notifyScripts
	alert bool
}

type transport struct {
	key   TransportConfig
	t     Transport
	insts []*instance
}

type rxMsg struct {
	tr  *transport
	pkt *Packet
}

// Event is a state change of an instance or a sync group, for the daemon:
// forwarding follows the VIPs of instances in MASTER.
type Event struct {
	Time time.Time
	// Group is set for a sync group's event.
	Group bool
	Name  string
	State State
	Prev  State
	// Priority is the effective priority (0 for groups).
	Priority int
	// Interface, VRID and VIPs (virtual_ipaddress and
	// virtual_ipaddress_excluded) describe an instance.
	Interface string
	VRID      int
	VIPs      []netip.Prefix
}

// New checks cfg and returns a Node ready to Run. A nil cfg is an error:
// VRRP without instances has nothing to do.
func New(cfg *Config) (*Node, error) {
	if cfg == nil {
		return nil, errors.New("vrrp: nil config")
	}
	if _, _, err := resolveAll(cfg); err != nil {
		return nil, err
	}
	n := &Node{
		log:      cfg.Logger,
		net:      cfg.Network,
		sys:      cfg.System,
		prepare:  prepareScript,
		filePoll: 500 * time.Millisecond,
		procRoot: "/proc",
		procPoll: 250 * time.Millisecond,
		ops:      make(chan func()),
		events:   newEventQueue(),
		cfg:      cfg,
	}
	if n.log == nil {
		n.log = zap.NewNop()
	}
	if n.net == nil || n.sys == nil {
		nw, sys, err := systemDefaults(n.log)
		if err != nil {
			return nil, err
		}
		if n.net == nil {
			n.net = nw
		}
		if n.sys == nil {
			n.sys = sys
		}
	}
	return n, nil
}

func prepareScript(pol script.Policy, argv []string, user, group string) (runner, string, error) {
	s, err := pol.Prepare(script.Spec{Argv: argv, User: user, Group: group})
	if err != nil {
		return nil, "", err
	}
	if s.Disabled != nil {
		return nil, "", s.Disabled
	}
	// keepalived logs "Unsafe permissions found for script" and runs it
	// anyway unless enable_script_security.
	return s, s.Insecure, nil
}

// resolveAll resolves every instance and checks the sync groups: an
// instance may be in one group only and groups name existing instances.
func resolveAll(cfg *Config) ([]*params, []int, error) {
	gidx := map[string]int{}
	for gi, g := range cfg.Groups {
		for _, name := range g.Members {
			if prev, ok := gidx[name]; ok && prev != gi {
				return nil, nil, fmt.Errorf("vrrp: instance %s is in sync groups %s and %s", name, cfg.Groups[prev].Name, g.Name)
			}
			gidx[name] = gi
		}
	}
	names := map[string]bool{}
	vrids := map[string]string{}
	ps := make([]*params, len(cfg.Instances))
	for i := range cfg.Instances {
		in := &cfg.Instances[i]
		if names[in.Name] {
			return nil, nil, fmt.Errorf("vrrp: instance %s defined twice", in.Name)
		}
		names[in.Name] = true
		gi, ok := gidx[in.Name]
		if !ok {
			gi = -1
		}
		p, err := resolve(&cfg.Global, in, gi)
		if err != nil {
			return nil, nil, err
		}
		// Instances may share a VRID on an interface when their multicast
		// groups differ (mcast_dst_ip).
		key := fmt.Sprintf("%s/%v/%d/%v", in.Interface, p.family, p.vrid, p.unicast)
		if !p.unicast {
			key += "/" + p.dst().String()
		}
		if other, dup := vrids[key]; dup {
			return nil, nil, fmt.Errorf("vrrp: instances %s and %s share VRID %d on %s", other, in.Name, p.vrid, in.Interface)
		}
		vrids[key] = in.Name
		ps[i] = p
	}
	for _, g := range cfg.Groups {
		for _, name := range g.Members {
			if !names[name] {
				return nil, nil, fmt.Errorf("vrrp: sync group %s: no instance %s", g.Name, name)
			}
		}
	}
	gi := make([]int, len(cfg.Instances))
	for i, p := range ps {
		gi[i] = p.group
	}
	return ps, gi, nil
}

// Events returns the stream of state changes; call it before Run to see
// them all. It is closed when Run returns, and must then be drained.
// Nothing is dropped: the queue grows while the reader is slow.
func (n *Node) Events() <-chan Event { return n.events.subscribe() }

// Run runs VRRP until ctx ends, then stops gracefully: masters send
// priority 0, VIPs, routes and rules are removed and notify_stop runs.
// Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.ran {
		n.mu.Unlock()
		return errors.New("vrrp: Run called twice")
	}
	n.ran, n.running = true, true
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.running = false
		n.mu.Unlock()
		n.events.close()
	}()

	parent := ctx
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	n.ctx = ctx
	if err := n.setup(ctx); err != nil {
		cancel()
		n.teardown()
		return err
	}
	if d := n.cfg.Global.StartupDelay; d > 0 {
		n.log.Info("delaying startup", zap.Duration("vrrp_startup_delay", d))
		t := time.NewTimer(d)
	wait:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				break wait
			case <-t.C:
				break wait
			case op := <-n.ops: // Status and Apply still answer
				op()
			}
		}
	}
	if ctx.Err() == nil {
		for _, in := range n.insts {
			n.retrack(in, true)
		}
		n.exec(n.eng.Step(time.Now(), evStart{}))
		n.loop(ctx)
	}
	n.stopping = true
	n.exec(n.eng.Step(time.Now(), evStop{}))
	// keepalived stop_vrrp: after the instances, the static rules, routes
	// and addresses go.
	n.removeStatic(&n.cfg.Static)
	cancel()
	n.teardown()
	return nil
}

func (n *Node) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var tc <-chan time.Time
		if d := n.eng.deadline(); !d.IsZero() {
			timer.Reset(time.Until(d))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case m := <-n.rx:
			n.handleRx(m)
		case t := <-n.trk:
			n.handleTrack(t)
		case <-tc:
			n.exec(n.eng.Step(time.Now(), evTimer{}))
		case op := <-n.ops:
			op()
		}
		timer.Stop()
	}
}

// do runs op on the loop, or directly when the loop is not running.
func (n *Node) do(op func()) {
	n.mu.Lock()
	if !n.running {
		defer n.mu.Unlock()
		op()
		return
	}
	n.mu.Unlock()
	done := make(chan struct{})
	select {
	case n.ops <- func() { op(); close(done) }:
		<-done
	case <-n.events.done:
		// Run ended while we waited; its state is final.
		n.mu.Lock()
		defer n.mu.Unlock()
		op()
	}
}

func (n *Node) handleRx(msg rxMsg) {
	pkt := msg.pkt
	if msg.tr.key.Group.IsValid() != pkt.Dst.IsMulticast() {
		// A raw socket gets every VRRP packet to this host: unicast ones
		// on a multicast instance's socket (and the reverse) belong to the
		// other socket.
		return
	}
	off := 0
	if msg.tr.key.Proto == ProtoAH {
		off = ahLen
	}
	if len(pkt.Payload) < off+headerLen {
		n.counters.malformed++
		return
	}
	vrid := pkt.Payload[off+1]
	for _, in := range msg.tr.insts {
		if in.p.vrid != vrid {
			continue
		}
		if in.p.unicast == pkt.Dst.IsMulticast() || (!in.p.unicast && pkt.Dst != in.p.dst()) {
			continue
		}
		now := time.Now()
		n.exec(n.eng.Step(now, evPacket{Inst: in.m.idx, Packet: pkt}))
		if err := in.m.dropped; err != nil && err != errDiscard {
			n.logRejected(now, in.cfg.Name, pkt, err)
		}
		return
	}
	n.counters.unknownVRID++
	if ce := n.log.Check(zap.DebugLevel, "advert for an unknown VRID"); ce != nil {
		ce.Write(zap.Int("vrid", int(vrid)), zap.Stringer("src", pkt.Src), zap.String("interface", msg.tr.key.Interface))
	}
}

// logRejected logs a refused advert in keepalived's words, rate-limited
// per instance (rxlog.go).
func (n *Node) logRejected(now time.Time, name string, pkt *Packet, err error) {
	if n.rejects == nil {
		n.rejects = map[string]*rxLimiter{}
	}
	// One bucket per instance and kind of refusal: a flood of one kind
	// does not hide another.
	key := name
	if r, ok := err.(*rejection); ok {
		key += "\x00" + r.kind
	}
	l := n.rejects[key]
	if l == nil {
		if len(n.rejects) > 4096 {
			clear(n.rejects)
		}
		l = &rxLimiter{}
		n.rejects[key] = l
	}
	ok, suppressed := l.allow(now)
	if !ok {
		return
	}
	if ce := n.log.Check(zap.InfoLevel, err.Error()); ce != nil {
		fields := []zap.Field{zap.String("instance", name), zap.Stringer("src", pkt.Src)}
		if suppressed > 0 {
			fields = append(fields, zap.Uint64("suppressed", suppressed))
		}
		ce.Write(fields...)
	}
}

func (n *Node) handleTrack(t trackMsg) {
	switch t.kind {
	case "script":
		st, ok := n.ts.scripts[t.name]
		if !ok || st != t.st {
			return // a script a reload replaced
		}
		wasInit := st.status == trackInit
		if st.update(t.ok) || wasInit {
			what := "succeeded"
			if st.status == trackFailed {
				what = "failed"
				if t.res.TimedOut {
					what = "timed_out"
				}
			}
			n.log.Info("VRRP_Script("+t.name+") "+what, zap.Int("exit_code", t.res.ExitCode))
		}
	case "file":
		ft, ok := n.ts.files[t.name]
		if !ok || ft != t.ft {
			return
		}
		ft.value = t.value
		n.log.Info("track file changed", zap.String("track_file", t.name), zap.Int("value", t.value))
	case "link":
		n.ts.links[t.name] = t.ok
		n.log.Info("link state changed", zap.String("interface", t.name), zap.Bool("up", t.ok))
		if t.ok {
			n.reinstateStatic(t.name)
		}
	case "process":
		if t.pw != n.pw {
			return // a watcher a reload replaced
		}
		for _, st := range t.procs {
			pt, ok := n.ts.procs[st.name]
			if !ok {
				continue
			}
			if pt.up != st.up {
				what := "lost quorum"
				if st.up {
					what = "gained quorum"
				}
				n.log.Info("VRRP_Process("+st.name+") "+what, zap.Int("running", st.count))
			}
			pt.up, pt.count = st.up, st.count
		}
	case "addr":
		n.staticAddrRemoved(t.name, t.prefix)
		return
	}
	for _, in := range n.insts {
		n.retrack(in, false)
	}
}

// retrack re-evaluates an instance's tracking and tells the engine when
// it changed (always when force).
func (n *Node) retrack(in *instance, force bool) {
	var grp *SyncGroup
	if in.p.group >= 0 {
		grp = &n.groups[in.p.group].cfg
	}
	var ifaces []string
	if !in.cfg.DontTrackPrimary {
		ifaces = append(ifaces, in.txIf)
		if in.dev != in.txIf {
			ifaces = append(ifaces, in.dev)
		}
	}
	ifaces = append(ifaces, n.staticIfaces(in.cfg.Name)...)
	r := n.ts.eval(&in.cfg, in.p.basePrio, grp, ifaces)
	if in.p.faultNoPeer {
		// unicast_fault_no_peer: unicast settings without a peer.
		r.fault = true
		r.status = append(r.status, TrackStatus{Kind: "unicast_peer", Status: "NONE"})
	}
	prev := in.m.prio
	changed := r.prio != in.track.prio || r.fault != in.track.fault || r.init != in.track.init
	in.track = r
	if changed || force {
		if r.prio != in.m.prio && in.m.state != StateInit {
			n.log.Info("effective priority changed", zap.String("instance", in.cfg.Name),
				zap.Int("from", int(in.m.prio)), zap.Int("to", int(r.prio)))
		}
		n.exec(n.eng.Step(time.Now(), evTrack{Inst: in.m.idx, Priority: r.prio, Fault: r.fault, Init: r.init}))
		if in.m.prio != prev && in.notifyPrio && in.m.state != StateInit && in.m.state != StateStop {
			n.nt.priorityChange(in.cfg.Name, in.m.state, int(in.m.prio))
		}
	}
}

// exec carries out the engine's actions.
func (n *Node) exec(acts []action) {
	for _, a := range acts {
		switch a.Kind {
		case actSend:
			n.sendAdvert(n.insts[a.Inst], a.Priority, a.Seq)
		case actSetVIPs:
			n.setVIPs(n.insts[a.Inst])
		case actClearVIPs:
			if n.stopping && n.cfg.KeepAddresses {
				n.log.Info("leaving VIPs, routes and rules in place (dont-release-vrrp)",
					zap.String("instance", n.insts[a.Inst].cfg.Name))
				continue
			}
			n.clearVIPs(n.insts[a.Inst], a.Force)
		case actGARP:
			n.garp(n.insts[a.Inst], a.Repeat)
		case actNotify:
			n.releaseStray(a)
			n.notifyChange(a)
		case actRxLowerPrio:
			in := n.insts[a.Inst]
			n.log.Info("received lower priority advert, forcing new election", zap.String("instance", in.cfg.Name),
				zap.Int("priority", int(a.Priority)))
			n.nt.rxLowerPrio(in.cfg.Name, in.ns, int(in.m.prio))
		}
	}
}

// releaseStray carries out Config.ReleaseVIPs: an instance entering
// BACKUP, FAULT or STOP from anything but MASTER (leaving MASTER already
// removed its addresses) removes them anyway, as keepalived -X does.
func (n *Node) releaseStray(a action) {
	if !n.cfg.ReleaseVIPs || a.Inst < 0 || a.Prev == StateMaster {
		return
	}
	switch a.State {
	case StateBackup, StateFault:
	case StateStop:
		if n.cfg.KeepAddresses {
			return
		}
	default:
		return
	}
	in := n.insts[a.Inst]
	if in.m.vipsSet {
		return
	}
	n.clearVIPs(in, true)
}

// vipHook tells Config.VIPHook that the instance's addresses are about to
// be held (setVIPs), or are no longer (clearVIPs).
func (n *Node) vipHook(in *instance, held bool) {
	if n.cfg.VIPHook == nil {
		return
	}
	vips := in.allVIPs()
	ps := make([]netip.Prefix, len(vips))
	for i, v := range vips {
		ps[i] = v.Prefix
	}
	n.cfg.VIPHook(in.cfg.Name, ps, held)
}

func (n *Node) notifyChange(a action) {
	now := time.Now()
	if a.Inst >= 0 {
		in := n.insts[a.Inst]
		n.log.Info("Entering "+a.State.String()+" STATE", zap.String("instance", in.cfg.Name),
			zap.Stringer("from", a.Prev), zap.Int("priority", int(a.Priority)))
		ev := Event{Time: now, Name: in.cfg.Name, State: a.State, Prev: a.Prev, Priority: int(a.Priority),
			Interface: in.cfg.Interface, VRID: int(in.p.vrid)}
		for _, v := range in.cfg.VIPs {
			ev.VIPs = append(ev.VIPs, v.Prefix)
		}
		for _, v := range in.cfg.ExcludedVIPs {
			ev.VIPs = append(ev.VIPs, v.Prefix)
		}
		n.events.push(ev)
		n.nt.notify("INSTANCE", in.cfg.Name, in.ns, a.State, int(a.Priority), in.alert)
		return
	}
	g := n.groups[a.Group]
	n.log.Info("VRRP_Group("+g.cfg.Name+") "+a.State.String(), zap.Stringer("from", a.Prev))
	n.events.push(Event{Time: now, Group: true, Name: g.cfg.Name, State: a.State, Prev: a.Prev})
	n.nt.notify("GROUP", g.cfg.Name, g.ns, a.State, 0, g.alert)
}
