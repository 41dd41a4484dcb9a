package vrrp

import (
	"reflect"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Apply replaces the configuration of a running Node with cfg (a SIGHUP
// reload), applying only the difference: an instance whose identity
// (name, interface, VRID, family, version, authentication protocol,
// unicast or multicast, VMAC) is unchanged keeps its state and its VIPs,
// with its other settings updated in place; a removed instance leaves
// (priority 0 if it was master, VIPs removed, notify as FAULT, keepalived's
// "deleted"); a new one starts as at start-up. Scripts and track files
// whose settings did not change keep running with their state. A cfg that
// does not check out changes nothing and is returned as an error.
// Logger, Network and System keep their values when cfg leaves them nil.
func (n *Node) Apply(cfg *Config) error {
	if _, _, err := resolveAll(cfg); err != nil {
		return err
	}
	c := *cfg
	var err error
	n.do(func() {
		if c.Logger == nil {
			c.Logger = n.cfg.Logger
		}
		if c.Network == nil {
			c.Network = n.cfg.Network
		}
		if c.System == nil {
			c.System = n.cfg.System
		}
		if n.eng == nil {
			n.cfg = &c
			return
		}
		err = n.apply(&c)
	})
	return err
}

// identity is what must not change for an instance to keep its state.
type identity struct {
	iface, vmac string
	vrid        uint8
	family      Family
	version     uint8
	proto       uint8
	unicast     bool
	xmitBase    bool
}

func identityOf(in *Instance, p *params) identity {
	id := identity{iface: in.Interface, vrid: p.vrid, family: p.family, version: p.version, proto: p.proto(),
		unicast: p.unicast, xmitBase: in.VMACXmitBase}
	if in.UseVMAC {
		id.vmac = in.VMACName
		if id.vmac == "" {
			id.vmac = "vrrp"
		}
	}
	return id
}

func (n *Node) apply(cfg *Config) error {
	ps, _, err := resolveAll(cfg)
	if err != nil {
		return err
	}
	now := time.Now()
	old := map[string]*instance{}
	for _, in := range n.insts {
		old[in.cfg.Name] = in
	}
	oldGroups := map[string]State{}
	for i, g := range n.groups {
		oldGroups[g.cfg.Name] = n.eng.groups[i].state
	}

	// Instances that go away first, while the old indices hold.
	keep := map[string]bool{}
	for i := range cfg.Instances {
		in := &cfg.Instances[i]
		if o, ok := old[in.Name]; ok && identityOf(&o.cfg, o.p) == identityOf(in, ps[i]) {
			keep[in.Name] = true
		}
	}
	for _, o := range n.insts {
		if !keep[o.cfg.Name] {
			n.removeInstance(o, now)
		}
	}

	oldStatic := n.cfg.Static
	n.cfg = cfg
	n.applyStatic(&oldStatic, &cfg.Static)
	eng := &engine{started: n.eng.started, stopped: n.eng.stopped}
	n.groups = nil
	for _, g := range cfg.Groups {
		n.groups = append(n.groups, &groupRT{
			cfg:   g,
			ns:    n.notifyScripts(g.Name, g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop, g.Notify, nil),
			alert: boolOr(g.SMTPAlert, boolOr(cfg.Global.SMTPAlert, false)),
		})
		st, ok := oldGroups[g.Name]
		if !ok {
			st = StateInit
		}
		eng.groups = append(eng.groups, &group{name: g.Name, state: st})
	}
	var insts, added []*instance
	for i, in := range cfg.Instances {
		p := ps[i]
		if o, ok := old[in.Name]; ok && keep[in.Name] {
			n.updateInstance(o, i, in, p)
			insts = append(insts, o)
		} else {
			rt, err := n.buildInstance(i, in, p)
			if err != nil {
				return err
			}
			insts = append(insts, rt)
			added = append(added, rt)
		}
		if p.group >= 0 {
			eng.groups[p.group].members = append(eng.groups[p.group].members, i)
		}
		eng.ms = append(eng.ms, insts[i].m)
	}
	n.insts, n.eng = insts, eng
	for _, in := range added {
		if err := n.attach(in); err != nil {
			n.log.Error("reload: cannot start instance", zap.String("instance", in.cfg.Name), zap.Error(err))
		}
	}
	n.syncTrackers(n.ctx)
	n.watchAddrs(n.ctx)
	n.syncPromote()
	n.syncFirewall()
	for _, in := range n.insts {
		n.retrack(in, true)
	}
	for _, in := range added {
		if eng.started && in.m.state == StateInit {
			n.exec(eng.startOne(nil, now, in.m))
		}
	}
	for i, g := range eng.groups {
		if g.state == StateInit && eng.started {
			s := StateBackup
			for _, mi := range g.members {
				if eng.ms[mi].state == StateFault {
					s = StateFault
				}
			}
			n.exec(eng.setGroupState(nil, eng.groups[i], s, false))
		}
	}
	n.log.Info("configuration reloaded", zap.Int("instances", len(n.insts)), zap.Int("added", len(added)))
	return nil
}

// removeInstance is keepalived's handling of an instance a reload deleted.
func (n *Node) removeInstance(o *instance, now time.Time) {
	n.exec(o.m.leave(nil, now, StateDeleted))
	n.detach(o)
	n.log.Info("instance removed by reload", zap.String("instance", o.cfg.Name))
}

// updateInstance updates a kept instance in place.
func (n *Node) updateInstance(o *instance, idx int, in Instance, p *params) {
	if o.m.vipsSet {
		// Remove what the new configuration no longer has; add the rest
		// (adding what exists is a no-op).
		newVIPs := append(append([]VIP(nil), in.VIPs...), in.ExcludedVIPs...)
		for _, v := range o.allVIPs() {
			if !slices.ContainsFunc(newVIPs, func(x VIP) bool { return x.Prefix == v.Prefix && o.devOf(x) == o.devOf(v) }) {
				if err := n.sys.DelAddress(o.devOf(v), v); err != nil {
					n.log.Warn("reload: cannot remove address", zap.Stringer("address", v.Prefix), zap.Error(err))
				}
			}
		}
		for _, r := range o.cfg.Routes {
			if !slices.ContainsFunc(in.Routes, func(x Route) bool { return reflect.DeepEqual(x, r) }) {
				_ = n.sys.DelRoute(r)
			}
		}
		for _, r := range o.cfg.Rules {
			if !slices.ContainsFunc(in.Rules, func(x Rule) bool { return reflect.DeepEqual(x, r) }) {
				_ = n.sys.DelRule(r)
			}
		}
	}
	o.cfg, o.p = in, p
	o.m.p, o.m.idx = p, idx
	n.instanceNotify(o, in, p)
	n.refreshSource(o)
	if o.m.vipsSet {
		n.setVIPs(o)
	}
}
