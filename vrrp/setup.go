package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/internal/notify"
	"github.com/ulvs/ulvs/internal/script"
)

// policy returns the script policy of global_defs.
func (n *Node) policy() script.Policy {
	g := &n.cfg.Global
	return script.Policy{User: g.ScriptUser, Group: g.ScriptGroup, EnableSecurity: g.EnableScriptSecurity}
}

// prepareNotify prepares a notify script; a script that cannot run is
// logged and left out, as keepalived disables it.
func (n *Node) prepareNotify(what, owner string, s *Notify) runner {
	if s == nil || len(s.Argv) == 0 {
		return nil
	}
	r, warn, err := n.prepare(n.policy(), s.Argv, s.User, s.Group)
	if err != nil {
		n.log.Warn("disabling notify script", zap.String("script", what), zap.String("owner", owner), zap.Error(err))
		return nil
	}
	if warn != "" {
		n.log.Warn(warn, zap.String("script", what), zap.String("owner", owner))
	}
	return r
}

func (n *Node) notifyScripts(owner string, master, backup, fault, stop, generic, lower *Notify) *notifyScripts {
	ns := &notifyScripts{
		master:      n.prepareNotify("notify_master", owner, master),
		backup:      n.prepareNotify("notify_backup", owner, backup),
		fault:       n.prepareNotify("notify_fault", owner, fault),
		stop:        n.prepareNotify("notify_stop", owner, stop),
		generic:     n.prepareNotify("notify", owner, generic),
		rxLowerPrio: n.prepareNotify("notify_master_rx_lower_pri", owner, lower),
	}
	return ns
}

// buildInstance makes an instance's runtime (not its transport).
func (n *Node) buildInstance(idx int, in Instance, p *params) (*instance, error) {
	rt := &instance{cfg: in, p: p, m: newMachine(idx, p), dev: in.Interface, txIf: in.Interface}
	if in.UseVMAC {
		name := in.VMACName
		if name == "" {
			name = fmt.Sprintf("vrrp.%d", p.vrid)
		}
		rt.dev = name
		if !in.VMACXmitBase {
			rt.txIf = name
		}
	}
	n.instanceNotify(rt, in, p)
	return rt, nil
}

// instanceNotify prepares an instance's notify scripts and settings.
func (n *Node) instanceNotify(rt *instance, in Instance, p *params) {
	rt.ns = n.notifyScripts(in.Name, in.NotifyMaster, in.NotifyBackup, in.NotifyFault, in.NotifyStop, in.Notify, in.NotifyMasterRxLowerPri)
	rt.ns.notifyDeleted = in.NotifyDeleted
	rt.ns.deleted = n.prepareNotify("notify_deleted", in.Name, in.NotifyDeletedScript)
	rt.alert = boolOr(in.SMTPAlert, boolOr(n.cfg.Global.SMTPAlert, false))
	grp := false
	if p.group >= 0 && p.group < len(n.cfg.Groups) {
		grp = n.cfg.Groups[p.group].NotifyPriorityChanges
	}
	rt.notifyPrio = boolOr(in.NotifyPriorityChanges, grp || n.cfg.Global.NotifyPriorityChanges)
}

// attach opens (or shares) the instance's transport and creates its VMAC.
func (n *Node) attach(in *instance) error {
	if in.cfg.UseVMAC {
		if err := n.sys.AddVMAC(in.dev, in.cfg.Interface, VMAC(in.p.family, in.p.vrid)); err != nil {
			return fmt.Errorf("vrrp: instance %s: use_vmac: %w", in.cfg.Name, err)
		}
	}
	key := TransportConfig{Interface: in.txIf, Family: in.p.family, Proto: in.p.proto()}
	if !in.p.unicast {
		key.Group = in.p.dst()
	}
	tr, ok := n.trans[key]
	if !ok {
		t, err := n.net.Listen(key)
		if err != nil {
			return fmt.Errorf("vrrp: instance %s: %w", in.cfg.Name, err)
		}
		tr = &transport{key: key, t: t}
		n.trans[key] = tr
		n.rxWG.Add(1)
		go n.readLoop(tr)
	}
	tr.insts = append(tr.insts, in)
	in.tr = tr
	n.refreshSource(in)
	return nil
}

// detach leaves the instance's transport, closing it when unused, and
// removes its VMAC.
func (n *Node) detach(in *instance) {
	if tr := in.tr; tr != nil {
		for i, x := range tr.insts {
			if x == in {
				tr.insts = append(tr.insts[:i], tr.insts[i+1:]...)
				break
			}
		}
		if len(tr.insts) == 0 {
			_ = tr.t.Close()
			delete(n.trans, tr.key)
		}
		in.tr = nil
	}
	if in.cfg.UseVMAC {
		if err := n.sys.DelVMAC(in.dev); err != nil {
			n.log.Warn("cannot remove VMAC interface", zap.String("interface", in.dev), zap.Error(err))
		}
	}
}

func (n *Node) readLoop(tr *transport) {
	defer n.rxWG.Done()
	for {
		pkt, err := tr.t.ReadPacket()
		if err != nil {
			select {
			case <-n.ctx.Done():
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("advert receive failed", zap.String("interface", tr.key.Interface), zap.Error(err))
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		select {
		case n.rx <- rxMsg{tr: tr, pkt: pkt}:
		case <-n.ctx.Done():
			return
		}
	}
}

// setup builds everything Run needs: instances, groups, the engine,
// transports, trackers and the notifier.
func (n *Node) setup(ctx context.Context) error {
	ps, _, err := resolveAll(n.cfg)
	if err != nil {
		return err
	}
	n.trans = map[TransportConfig]*transport{}
	n.rx = make(chan rxMsg)
	n.trk = make(chan trackMsg)
	n.ts = trackState{scripts: map[string]*scriptTrack{}, files: map[string]*fileTrack{}, links: map[string]bool{},
		conds: n.ts.conds}
	n.nt = &notifier{log: n.log, ctx: ctx, mail: newMailer(&n.cfg.Global, n.log)}
	opened := map[string]bool{}
	for _, f := range []FIFO{n.cfg.Global.NotifyFIFO, n.cfg.Global.VRRPNotifyFIFO} {
		if f.Path == "" || opened[f.Path] {
			continue // keepalived: the same FIFO named twice is written once
		}
		opened[f.Path] = true
		w, err := notify.OpenFIFO(f)
		if err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
		n.nt.fifos = append(n.nt.fifos, w)
	}
	n.startFIFOScripts(ctx)

	for _, g := range n.cfg.Groups {
		n.groups = append(n.groups, &groupRT{
			cfg:   g,
			ns:    n.notifyScripts(g.Name, g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop, g.Notify, nil),
			alert: boolOr(g.SMTPAlert, boolOr(n.cfg.Global.SMTPAlert, false)),
		})
	}
	n.eng = &engine{}
	for _, g := range n.cfg.Groups {
		n.eng.groups = append(n.eng.groups, &group{name: g.Name, state: StateInit})
	}
	for i, in := range n.cfg.Instances {
		rt, err := n.buildInstance(i, in, ps[i])
		if err != nil {
			return err
		}
		n.insts = append(n.insts, rt)
		n.eng.ms = append(n.eng.ms, rt.m)
		if ps[i].group >= 0 {
			g := n.eng.groups[ps[i].group]
			g.members = append(g.members, i)
		}
	}
	for _, in := range n.insts {
		if err := n.attach(in); err != nil {
			return err
		}
	}
	n.installStatic(&n.cfg.Static)
	n.syncPromote()
	n.syncFirewall()
	return n.startTrackers(ctx)
}

// startTrackers starts the scripts, files and link watch the instances
// and groups use.
func (n *Node) startTrackers(ctx context.Context) error {
	n.syncTrackers(ctx)
	n.watchAddrs(ctx)
	lctx, cancel := context.WithCancel(ctx)
	n.stopLink = cancel
	n.trackWG.Add(1)
	go func() {
		defer n.trackWG.Done()
		err := n.sys.WatchLinks(lctx, func(name string, up bool) {
			select {
			case n.trk <- trackMsg{kind: "link", name: name, ok: up}:
			case <-lctx.Done():
			}
		})
		if err != nil && lctx.Err() == nil {
			n.log.Error("link watch failed; interface tracking is off", zap.Error(err))
		}
	}()
	return nil
}

// syncTrackers brings the running trackers in line with the
// configuration, at start-up and on reload alike: scripts and files that
// instances or groups use run (keepalived drops the ones nobody tracks),
// changed ones restart, unused ones stop; every tracked or used interface
// has a known state.
func (n *Node) syncTrackers(ctx context.Context) {
	scripts, files, links, procs := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	refs := func(s, i, f, p []TrackRef) {
		for _, r := range s {
			scripts[r.Name] = true
		}
		for _, r := range i {
			links[r.Name] = true
		}
		for _, r := range f {
			files[r.Name] = true
		}
		for _, r := range p {
			procs[r.Name] = true
		}
	}
	for _, in := range n.insts {
		refs(in.cfg.TrackScripts, in.cfg.TrackInterfaces, in.cfg.TrackFiles, in.cfg.TrackProcesses)
		links[in.txIf], links[in.dev] = true, true
	}
	for _, g := range n.cfg.Groups {
		refs(g.TrackScripts, g.TrackInterfaces, g.TrackFiles, g.TrackProcesses)
	}
	for _, dev := range n.staticDevs() {
		links[dev] = true
	}
	n.syncProcs(ctx, procs)

	wantScript := map[string]Script{}
	for _, s := range n.cfg.Scripts {
		if scripts[s.Name] {
			wantScript[s.Name] = s.withDefaults()
		}
	}
	for name, st := range n.ts.scripts {
		if s, ok := wantScript[name]; !ok || !reflect.DeepEqual(s, st.cfg) {
			st.cancel()
			delete(n.ts.scripts, name)
		}
	}
	started := false
	for _, s := range n.cfg.Scripts {
		if _, running := n.ts.scripts[s.Name]; !running && scripts[s.Name] {
			n.startScript(ctx, s)
			started = true
		}
	}
	if started && !n.cfg.Global.EnableScriptSecurity {
		n.log.Warn("SECURITY VIOLATION - scripts are being executed but script_security not enabled.")
	}

	wantFile := map[string]TrackFile{}
	for _, f := range n.cfg.TrackFiles {
		if files[f.Name] {
			wantFile[f.Name] = f
		}
	}
	for name, ft := range n.ts.files {
		if f, ok := wantFile[name]; !ok || !reflect.DeepEqual(f, ft.cfg) {
			ft.cancel()
			delete(n.ts.files, name)
		}
	}
	for _, f := range n.cfg.TrackFiles {
		if _, running := n.ts.files[f.Name]; running || !files[f.Name] {
			continue
		}
		if err := initTrackFile(f); err != nil {
			n.log.Warn("cannot initialise track file", zap.String("track_file", f.Name), zap.Error(err))
		}
		n.startFile(ctx, f)
	}

	for name := range links {
		if _, known := n.ts.links[name]; !known {
			l, err := n.sys.Link(name)
			n.ts.links[name] = err == nil && l.Up
		}
	}
}

// syncProcs runs one process watcher for the vrrp_track_process blocks
// in use, restarting it (with a fresh scan) when they change.
func (n *Node) syncProcs(ctx context.Context, used map[string]bool) {
	var want []TrackProcess
	for _, tp := range n.cfg.Processes {
		if used[tp.Name] {
			want = append(want, tp)
		}
	}
	if n.pw != nil && reflect.DeepEqual(n.pw.cfgs, want) {
		return
	}
	if n.pw != nil {
		n.pw.cancel()
		n.pw = nil
	}
	n.ts.procs = map[string]*procTrack{}
	if len(want) == 0 {
		return
	}
	// The first count is taken here, so that instances start with it.
	c := newProcCounter(n.procRoot, want)
	c.scan(time.Now())
	c.fire(time.Now())
	for i, st := range c.snapshot() {
		n.ts.procs[st.name] = &procTrack{cfg: want[i], up: st.up, count: st.count}
	}
	src, err := openProcEvents()
	if err != nil || n.procPollOnly {
		if src != nil {
			_ = src.Close()
		}
		src = nil
		n.log.Info("process tracking scans /proc (no process events here)", zap.Duration("every", n.procPoll),
			zap.NamedError("reason", err))
	}
	pctx, cancel := context.WithCancel(ctx)
	pw := &procWatcher{cfgs: want, cancel: cancel}
	n.pw = pw
	n.trackWG.Add(1)
	go func() {
		defer n.trackWG.Done()
		procWatch(pctx, c, n.procPoll, src, func(st []procState) bool {
			select {
			case n.trk <- trackMsg{kind: "process", procs: st, pw: pw}:
				return true
			case <-pctx.Done():
				return false
			}
		})
	}()
}

// startScript prepares a vrrp_script and starts its loop; an insecure or
// missing script is disabled ("Disabling track script NAME due to
// insecure") and so not tracked at all.
func (n *Node) startScript(ctx context.Context, s Script) {
	s = s.withDefaults()
	r, warn, err := n.prepare(n.policy(), s.Argv, s.User, s.Group)
	if err != nil {
		n.log.Warn("Disabling track script "+s.Name, zap.Error(err))
		return
	}
	if warn != "" {
		n.log.Warn(warn, zap.String("vrrp_script", s.Name))
	}
	st := newScriptTrack(s, r)
	sctx, cancel := context.WithCancel(ctx)
	st.cancel = cancel
	n.ts.scripts[s.Name] = st
	n.trackWG.Add(1)
	go func() {
		defer n.trackWG.Done()
		scriptLoop(sctx, s.Name, st, n.trk)
	}()
}

// startFile reads a track file and starts polling it.
func (n *Node) startFile(ctx context.Context, tf TrackFile) {
	fctx, cancel := context.WithCancel(ctx)
	ft := &fileTrack{cfg: tf, value: readTrackFile(tf.Path), cancel: cancel}
	n.ts.files[tf.Name] = ft
	n.trackWG.Add(1)
	go func() {
		defer n.trackWG.Done()
		fileLoop(fctx, ft, ft.value, n.filePoll, n.trk)
	}()
}

// startFIFOScripts runs notify_fifo_script / vrrp_notify_fifo_script with
// the FIFO's path as argument, for as long as Run runs.
func (n *Node) startFIFOScripts(ctx context.Context) {
	g := &n.cfg.Global
	for _, x := range []struct {
		fifo FIFO
		s    *Notify
	}{{g.NotifyFIFO, g.NotifyFIFOScript}, {g.VRRPNotifyFIFO, g.VRRPNotifyFIFOScript}} {
		if x.fifo.Path == "" || x.s == nil {
			continue
		}
		r := n.prepareNotify("notify_fifo_script", x.fifo.Path, x.s)
		if r == nil {
			continue
		}
		path := x.fifo.Path
		n.trackWG.Add(1)
		go func() {
			defer n.trackWG.Done()
			res := r.Run(ctx, 0, path)
			if ctx.Err() == nil {
				n.log.Warn("notify fifo script exited", zap.String("fifo", path), zap.Int("exit_code", res.ExitCode))
			}
		}()
	}
}

// teardown releases what setup took: trackers, transports, VMACs and the
// notifier.
func (n *Node) teardown() {
	for _, st := range n.ts.scripts {
		st.cancel()
	}
	for _, ft := range n.ts.files {
		ft.cancel()
	}
	if n.pw != nil {
		n.pw.cancel()
	}
	if n.stopAddr != nil {
		n.stopAddr()
	}
	if n.stopLink != nil {
		n.stopLink()
	}
	for _, tr := range n.trans {
		_ = tr.t.Close()
	}
	n.drain()
	n.clearFirewall()
	n.restorePromote(nil)
	for _, in := range n.insts {
		if in.cfg.UseVMAC {
			if err := n.sys.DelVMAC(in.dev); err != nil {
				n.log.Warn("cannot remove VMAC interface", zap.String("interface", in.dev), zap.Error(err))
			}
		}
	}
	if n.nt != nil {
		for _, f := range n.nt.fifos {
			_ = f.Close()
		}
	}
}

// drain waits for the reader and tracker goroutines, consuming what they
// still try to deliver.
func (n *Node) drain() {
	done := make(chan struct{})
	go func() {
		n.rxWG.Wait()
		n.trackWG.Wait()
		close(done)
	}()
	for {
		select {
		case <-done:
			if n.nt != nil {
				n.nt.wait()
			}
			return
		case <-n.rx:
		case <-n.trk:
		}
	}
}
