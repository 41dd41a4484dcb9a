package plan

import (
	"net/netip"
	"strconv"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/vrrp"
)

// vrrpConfig translates the VRRP half of a keepalived.conf into vrrp's
// Config (without its Logger, Network and System, which the daemon sets).
// Every address, route and rule
// that does not translate gives an error at its line.
func vrrpConfig(cfg *conf.Config) (*vrrp.Config, []error) {
	g := cfg.Global
	vc := &vrrp.Config{Global: vrrp.Global{
		RouterID:                g.RouterID,
		SMTPAlert:               g.SMTPAlertVRRP,
		McastGroup4:             g.McastGroup4,
		McastGroup6:             g.McastGroup6,
		Version:                 g.VRRPVersion,
		GARPMasterDelay:         g.Garp.MasterDelay,
		GARPMasterRepeat:        g.Garp.MasterRepeat,
		GARPMasterRefresh:       g.Garp.MasterRefresh,
		GARPMasterRefreshRepeat: g.Garp.MasterRefreshRepeat,
		GARPLowerPrioDelay:      durRef(g.Garp.LowerPrioDelay),
		GARPLowerPrioRepeat:     intRef(g.Garp.LowerPrioRepeat),
		GARPInterval:            g.GarpInterval,
		GNAInterval:             g.GnaInterval,
		MinGARP:                 g.MinGarp,
		DownTimerAdverts:        g.DownTimerAdverts,
		LowerPrioNoAdvert:       g.LowerPrioNoAdvert,
		HigherPrioSendAdvert:    g.HigherPrioSendAdvert,
		V3ChecksumAsV2:          g.V3ChecksumAsV2,
		CheckUnicastSrc:         g.CheckUnicastSrc,
		SkipCheckAdvAddr:        g.SkipCheckAdvAddr,
		StartupDelay:            g.StartupDelay,
		NotifyPriorityChanges:   g.NotifyPriorityChange,
		Firewall:                vrrpFirewall(&g),
		ScriptUser:              g.ScriptUser,
		ScriptGroup:             g.ScriptGroup,
		EnableScriptSecurity:    g.EnableScriptSecurity,
	}}
	if vc.Global.SMTPAlert == nil {
		vc.Global.SMTPAlert = g.SMTPAlert
	}
	vc.Global.Mail = mailOf(&g)
	if f := g.NotifyFifo; f != nil {
		vc.Global.NotifyFIFO = vrrp.FIFO{Path: f.Path, User: f.User, Group: f.Group}
		vc.Global.NotifyFIFOScript = notifyOf(f.Script)
	}
	if f := g.VRRPNotifyFifo; f != nil {
		vc.Global.VRRPNotifyFIFO = vrrp.FIFO{Path: f.Path, User: f.User, Group: f.Group}
		vc.Global.VRRPNotifyFIFOScript = notifyOf(f.Script)
	}
	for _, s := range cfg.Scripts {
		vc.Scripts = append(vc.Scripts, vrrp.Script{Name: s.Name, Argv: s.Script.Argv, Interval: s.Interval,
			Timeout: s.Timeout, Weight: s.Weight, Reverse: s.Reverse, Rise: s.Rise, Fall: s.Fall,
			User: s.Script.User, Group: s.Script.Group, InitFail: s.InitFail})
	}
	for _, f := range cfg.TrackFiles {
		tf := vrrp.TrackFile{Name: f.Name, Path: f.File, Weight: f.Weight, WeightSet: true, Reverse: f.Reverse}
		if f.InitFile != nil {
			v := f.InitFile.Value
			tf.InitFile, tf.InitOverwrite = &v, f.InitFile.Overwrite
		}
		vc.TrackFiles = append(vc.TrackFiles, tf)
	}
	for _, tp := range cfg.TrackProcesses {
		vc.Processes = append(vc.Processes, trackProcess(tp))
	}
	for _, sg := range cfg.SyncGroups {
		vc.Groups = append(vc.Groups, vrrp.SyncGroup{
			Name: sg.Name, Members: sg.Group,
			NotifyMaster: notifyOf(sg.Notify.Master), NotifyBackup: notifyOf(sg.Notify.Backup),
			NotifyFault: notifyOf(sg.Notify.Fault), NotifyStop: notifyOf(sg.Notify.Stop),
			Notify:          notifyOf(sg.Notify.Generic),
			TrackInterfaces: trackRefs(sg.TrackInterfaces), TrackScripts: trackRefs(sg.TrackScripts),
			TrackFiles: trackRefs(sg.TrackFiles), TrackProcesses: trackRefs(sg.TrackProcesses),
			TrackingWeight: sg.SyncGroupTrackingWeight, SMTPAlert: sg.SMTPAlert,
			NotifyPriorityChanges: sg.NotifyPriorityChanges,
		})
	}
	var errs []error
	vc.Static, errs = staticConfig(cfg)
	for _, in := range cfg.Instances {
		vi, ierrs := vrrpInstance(in)
		errs = append(errs, ierrs...)
		vc.Instances = append(vc.Instances, vi)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return vc, nil
}

func vrrpInstance(in *conf.Instance) (vrrp.Instance, []error) {
	vi := vrrp.Instance{
		Name: in.Name, State: vrrp.StateBackup, Interface: in.Interface, VRID: in.VRID, Priority: in.Priority,
		AdvertInt: in.AdvertInt, Version: in.Version, Nopreempt: !in.Preempt, PreemptDelay: in.PreemptDelay,
		TrackInterfaces: trackRefs(in.TrackInterfaces), TrackScripts: trackRefs(in.TrackScripts),
		TrackFiles: trackRefs(in.TrackFiles), TrackProcesses: trackRefs(in.TrackProcesses),
		DontTrackPrimary: in.DontTrackPrimary,
		UnicastSrcIP:     in.UnicastSrcIP, McastSrcIP: in.McastSrcIP, McastDstIP: in.McastDstIP,
		UnicastFaultNoPeer: in.UnicastFaultNoPeer, PromoteSecondaries: in.PromoteSecondaries,
		// accept / no_accept; vrrp_strict has made no_accept the default
		// of an instance that is not the address owner.
		NoAccept:     in.Accept != nil && !*in.Accept,
		NotifyMaster: notifyOf(in.Notify.Master), NotifyBackup: notifyOf(in.Notify.Backup),
		NotifyFault: notifyOf(in.Notify.Fault), NotifyStop: notifyOf(in.Notify.Stop),
		Notify: notifyOf(in.Notify.Generic), NotifyMasterRxLowerPri: notifyOf(in.Notify.MasterRxLowerPrio),
		SMTPAlert:       in.SMTPAlert,
		GARPMasterDelay: durRef(in.Garp.MasterDelay), GARPMasterRepeat: intRef(in.Garp.MasterRepeat),
		GARPMasterRefresh: durRef(in.Garp.MasterRefresh), GARPMasterRefreshRepeat: intRef(in.Garp.MasterRefreshRepeat),
		GARPLowerPrioDelay: durRef(in.Garp.LowerPrioDelay), GARPLowerPrioRepeat: intRef(in.Garp.LowerPrioRepeat),
		VMACXmitBase:         in.VMACXmitBase,
		LowerPrioNoAdvert:    boolRef(in.LowerPrioNoAdvert),
		HigherPrioSendAdvert: boolRef(in.HigherPrioSendAdvert),
		SkipCheckAdvAddr:     boolRef(in.SkipCheckAdvAddr),
		V3ChecksumAsV2:       boolRef(in.V3ChecksumAsV2),
		DownTimerAdverts:     in.DownTimerAdverts,
	}
	if in.State == "MASTER" {
		vi.State = vrrp.StateMaster
	}
	if in.UnicastTTL != 255 {
		vi.UnicastTTL = intRef(in.UnicastTTL)
	}
	if in.NotifyPriorityChange {
		vi.NotifyPriorityChanges = boolRef(true)
	}
	if d := in.Notify.Deleted; d != nil {
		vi.NotifyDeleted = true
		if len(d.Argv) > 0 {
			vi.NotifyDeletedScript = notifyOf(d)
		}
	}
	if in.Auth != nil {
		vi.AuthPass = in.Auth.Pass
		switch in.Auth.Type {
		case "PASS":
			vi.AuthType = vrrp.AuthPass
		case "AH":
			vi.AuthType = vrrp.AuthAH
		}
	}
	if in.UseVMAC != nil {
		vi.UseVMAC, vi.VMACName = true, in.UseVMAC.Name
	}
	for _, p := range in.UnicastPeers {
		vi.UnicastPeers = append(vi.UnicastPeers, vrrp.Peer{Addr: p.Addr, MinTTL: p.MinTTL, MaxTTL: p.MaxTTL})
	}
	var errs []error
	for _, a := range in.VIPs {
		v, err := vrrpVIP(a)
		if err != nil {
			errs = append(errs, err)
		}
		vi.VIPs = append(vi.VIPs, v)
	}
	for _, a := range in.ExcludedVIPs {
		v, err := vrrpVIP(a)
		if err != nil {
			errs = append(errs, err)
		}
		vi.ExcludedVIPs = append(vi.ExcludedVIPs, v)
	}
	for _, r := range in.Routes {
		vr, err := vrrpRoute(r)
		if err != nil {
			errs = append(errs, err)
		}
		vi.Routes = append(vi.Routes, vr)
	}
	for _, r := range in.Rules {
		vr, err := vrrpRule(r)
		if err != nil {
			errs = append(errs, err)
		}
		vi.Rules = append(vi.Rules, vr)
	}
	return vi, errs
}

func vrrpVIP(a *conf.IPAddress) (vrrp.VIP, error) {
	v := vrrp.VIP{Prefix: a.Prefix, Dev: a.Dev, Scope: a.Scope, Label: a.Label, Peer: a.Peer, Home: a.Home,
		NoDAD: a.NoDAD, NoPrefixRoute: a.NoPrefixRoute}
	switch a.Broadcast {
	case "", "-":
	case "+":
		v.BroadcastAuto = true
	default:
		b, err := netip.ParseAddr(a.Broadcast)
		if err != nil {
			return v, errAt(a.Pos, "broadcast %q: %w", a.Broadcast, err)
		}
		v.Broadcast = b
	}
	return v, nil
}

func vrrpRoute(r *conf.Route) (vrrp.Route, error) {
	t, err := tableNumber(r.Pos, r.Table)
	if err != nil {
		return vrrp.Route{}, err
	}
	vr := vrrp.Route{Dst: r.Dst, Src: r.Src, Gateway: r.Via, Dev: r.Dev, Scope: r.Scope, Table: t, Metric: r.Metric}
	if r.Type != "unicast" {
		vr.Type = r.Type
	}
	return vr, nil
}

func vrrpRule(r *conf.Rule) (vrrp.Rule, error) {
	t, err := tableNumber(r.Pos, r.Table)
	if err != nil {
		return vrrp.Rule{}, err
	}
	vr := vrrp.Rule{From: r.From, To: r.To, Table: t, Priority: r.Priority, Iif: r.IIf, Oif: r.OIf}
	if r.Fwmark != "" {
		mark, mask, hasMask := cutMark(r.Fwmark)
		m, err := strconv.ParseUint(mark, 0, 32)
		if err != nil {
			return vr, errAt(r.Pos, "fwmark %q: %w", r.Fwmark, err)
		}
		vr.Mark = uint32(m)
		if hasMask {
			mk, err := strconv.ParseUint(mask, 0, 32)
			if err != nil {
				return vr, errAt(r.Pos, "fwmark mask %q: %w", r.Fwmark, err)
			}
			mk32 := uint32(mk)
			vr.Mask = &mk32
		}
	}
	if _, ok := r.Options["not"]; ok {
		vr.Invert = true
	}
	if r.From.IsValid() && r.From.Addr().Is6() || r.To.IsValid() && r.To.Addr().Is6() {
		vr.Family = vrrp.IPv6
	} else {
		vr.Family = vrrp.IPv4
	}
	return vr, nil
}

func cutMark(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func notifyOf(s *conf.Script) *vrrp.Notify {
	if s == nil {
		return nil
	}
	return &vrrp.Notify{Argv: s.Argv, User: s.User, Group: s.Group}
}

func trackRefs(ts []conf.Track) []vrrp.TrackRef {
	var out []vrrp.TrackRef
	for _, t := range ts {
		r := vrrp.TrackRef{Name: t.Name, Weight: t.Weight}
		if t.Reverse {
			r.Reverse = boolRef(true)
		}
		out = append(out, r)
	}
	return out
}

func durRef[T any](v T) *T { return &v }

func intRef(v int) *int { return &v }

// vrrpFirewall is the no_accept firewall: keepalived's nftables table, also
// for vrrp_iptables (keepalived uses nftables where iptables is
// nftables-based or missing, as on current Debian; the chains named are
// then not used).
func vrrpFirewall(g *conf.GlobalDefs) vrrp.Firewall {
	fw := vrrp.Firewall{Priority: g.NftablesPriority, Counters: g.NftablesCounters}
	if f := g.Firewall; f != nil && f.Kind == "nftables" && len(f.Names) > 0 {
		fw.Table = f.Names[0]
	}
	return fw
}

func trackProcess(tp *conf.TrackProcess) vrrp.TrackProcess {
	out := vrrp.TrackProcess{Name: tp.Name, ParamMatch: tp.ParamMatch, FullCommand: tp.FullCommand,
		Weight: tp.Weight, Reverse: tp.Reverse, Quorum: tp.Quorum, QuorumMax: tp.QuorumMax,
		ForkDelay: tp.ForkDelay, TerminateDelay: tp.TerminateDelay}
	if len(tp.Process) > 0 {
		out.Process, out.Params = tp.Process[0], tp.Process[1:]
	}
	// "delay" sets both delays; the specific keywords override it.
	if tp.Delay > 0 {
		if tp.ForkDelay == 0 {
			out.ForkDelay = tp.Delay
		}
		if tp.TerminateDelay == 0 {
			out.TerminateDelay = tp.Delay
		}
	}
	return out
}

// staticConfig translates static_ipaddress, static_routes, static_rules
// and the track_group blocks. An address without dev goes on
// default_interface, as keepalived puts it.
func staticConfig(cfg *conf.Config) (vrrp.Static, []error) {
	var st vrrp.Static
	var errs []error
	dflt := cfg.Global.DefaultInterface
	if dflt == "" {
		dflt = "eth0"
	}
	for _, a := range cfg.StaticAddresses {
		v, err := vrrpVIP(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v.Dev == "" {
			v.Dev = dflt
		}
		st.Addresses = append(st.Addresses, vrrp.StaticAddress{VIP: v, TrackGroup: a.TrackGroup, NoTrack: a.NoTrack})
	}
	for _, r := range cfg.StaticRoutes {
		vr, err := vrrpRoute(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.Routes = append(st.Routes, vrrp.StaticRoute{Route: vr, TrackGroup: r.TrackGroup, NoTrack: r.NoTrack})
	}
	for _, r := range cfg.StaticRules {
		vr, err := vrrpRule(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.Rules = append(st.Rules, vrrp.StaticRule{Rule: vr, TrackGroup: r.TrackGroup, NoTrack: r.NoTrack})
	}
	for _, g := range cfg.TrackGroups {
		st.TrackGroups = append(st.TrackGroups, vrrp.TrackGroup{Name: g.Name, Instances: g.Group})
	}
	return st, errs
}
