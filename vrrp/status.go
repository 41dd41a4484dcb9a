package vrrp

import "slices"

// Status returns a snapshot of every instance and sync group, for the
// USR1/USR2/JSON dumps and the control socket.
func (n *Node) Status() Status {
	var s Status
	n.do(func() { s = n.status() })
	return s
}

func (n *Node) status() Status {
	var s Status
	if n.eng == nil {
		// Not started: report the configuration in INIT.
		ps, _, err := resolveAll(n.cfg)
		if err != nil {
			return s
		}
		for i, in := range n.cfg.Instances {
			p := ps[i]
			s.Instances = append(s.Instances, InstanceStatus{Name: in.Name, Interface: in.Interface, VRID: int(p.vrid),
				Version: int(p.version), State: StateInit, WantState: StateInit,
				BasePriority: int(p.basePrio), EffectivePriority: int(p.basePrio), AdverInt: p.adverInt,
				MasterAdverInt: p.adverInt, VIPs: slices.Clone(p.vips)})
		}
		for _, g := range n.cfg.Groups {
			s.Groups = append(s.Groups, GroupStatus{Name: g.Name, State: StateInit,
				Members: slices.Clone(g.Members)})
		}
		return s
	}
	for _, in := range n.insts {
		m := in.m
		st := InstanceStatus{Name: in.cfg.Name, Interface: in.cfg.Interface, VRID: int(in.p.vrid),
			Version: int(in.p.version), State: m.state, WantState: m.want,
			BasePriority: int(in.p.basePrio), EffectivePriority: int(m.prio), AdverInt: in.p.adverInt,
			MasterAdverInt: m.masterAdvInt, MasterAddr: m.masterAddr, MasterPriority: int(m.masterPrio),
			SourceAddr: in.src, VIPs: slices.Clone(in.p.vips), VIPsSet: m.vipsSet,
			LastTransition: m.lastTransition, Trackers: slices.Clone(in.track.status), Stats: m.stats}
		if in.p.group >= 0 && in.p.group < len(n.groups) {
			st.Group = n.groups[in.p.group].cfg.Name
		}
		s.Instances = append(s.Instances, st)
	}
	for i, g := range n.groups {
		gs := n.eng.groups[i]
		s.Groups = append(s.Groups, GroupStatus{Name: g.cfg.Name, State: gs.state,
			Members: slices.Clone(g.cfg.Members)})
	}
	s.UnknownVRID = n.counters.unknownVRID
	s.Malformed = n.counters.malformed
	return s
}
