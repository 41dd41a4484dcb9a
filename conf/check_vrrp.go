package conf

import (
	"math"
	"time"
)

// The VRRP half of the checks keepalived makes once the file is read
// (vrrp.c vrrp_complete_instance, vrrp_complete_init, check_vrid_conflicts;
// vrrp_parser.c): each message says which keepalived message it mirrors.
// keepalived reports these without a line; ulvs reports them at the
// instance, group or script they are about. keepalived stops its VRRP
// process on some of them (an instance with no VRID, no interface, ...):
// those are errors here, with keepalived's class, and ulvs does not start.

func (b *builder) instances() {
	cfg := b.cfg
	g := &cfg.Global
	type vridKey struct {
		iface string
		vrid  int
		v6    bool
	}
	byVRID := map[vridKey]*Instance{}
	for _, in := range cfg.Instances {
		if in.LVSSyncDaemonInterface != "" && g.LVSSyncDaemon == nil {
			// The deprecated keyword means lvs_sync_daemon IFACE INSTANCE.
			g.LVSSyncDaemon = newLVSSyncDaemon(in.Pos, in.LVSSyncDaemonInterface)
			g.LVSSyncDaemon.Instance = in.Name
		}
		// chk_min_cfg: "(%s) the virtual router id must be set".
		if in.VRID == 0 {
			b.d.refusef(in.Pos, ClassGeneral, "(%s) the virtual router id must be set", in.Name)
		}
		// chk_min_cfg: "(%s) Unknown interface!" (keepalived's
		// default_interface is for VIPs, not for the instance).
		if in.Interface == "" {
			if len(in.UnicastPeers) == 0 {
				b.d.refusef(in.Pos, ClassGeneral, "(%s) Unknown interface! (no interface and no unicast_peer)", in.Name)
			} else if !in.UnicastSrcIP.IsValid() {
				// "(%s): Unicast instances must have unicast_src_ip or
				// interface".
				b.d.refusef(in.Pos, ClassGeneral, "(%s): unicast instances must have unicast_src_ip or interface", in.Name)
			}
		}
		// Family: from the addresses (vrrp_parser.c refuses a VIP of
		// another family: "address family must match VRRP instance").
		v6 := false
		fam := 0
		kept := in.VIPs[:0]
		for _, a := range in.VIPs {
			f := 4
			if a.Prefix.Addr().Is6() && !a.Prefix.Addr().Is4In6() {
				f = 6
			}
			if fam == 0 {
				fam = f
			} else if f != fam {
				b.d.kaf(a.Pos, ClassGeneral, "(%s): address family must match VRRP instance [%s] - ignoring "+
					"(put other families in virtual_ipaddress_excluded)", in.Name, a.Prefix)
				continue
			}
			kept = append(kept, a)
		}
		in.VIPs = kept
		if fam == 6 || (fam == 0 && in.UnicastSrcIP.Is6()) {
			v6 = true
		}
		if !b.isSet(in, "strict") {
			in.Strict = g.Strict
		}
		// Version and advert_int resolution.
		if in.Version == 0 {
			in.Version = g.VRRPVersion
		}
		if v6 && in.Version == 2 {
			if in.Strict {
				// "(%s) cannot use IPv6 with VRRP version 2; setting version 3".
				b.d.kaf(in.Pos, ClassGeneral, "(%s) cannot use IPv6 with VRRP version 2; setting version 3", in.Name)
			}
			in.Version = 3
		}
		if len(in.VIPs) == 0 && !in.NoVirtualIPAddress {
			if in.Version == 3 || in.Strict {
				// "(%s) No VIP specified; at least one is required".
				b.d.refusef(in.Pos, ClassGeneral, "(%s) No VIP specified; at least one is required", in.Name)
			} else {
				// "(%s) No VIP specified; at least one is sensible".
				b.d.kaf(in.Pos, ClassGeneral, "(%s) No VIP specified; at least one is sensible", in.Name)
			}
		}
		if in.VRID != 0 && in.Interface != "" {
			k := vridKey{in.Interface, in.VRID, v6}
			if other, dup := byVRID[k]; dup && len(in.UnicastPeers) == 0 && len(other.UnicastPeers) == 0 {
				// check_vrid_conflicts: "(%s) duplicate VRID conflict with
				// %s VRID %d".
				b.d.refusef(in.Pos, ClassGeneral, "(%s) duplicate VRID conflict with %s VRID %d (%s)",
					in.Name, other.Name, in.VRID, other.Pos)
			} else if !dup {
				byVRID[k] = in
			}
		}
		b.advertInt(in)
		b.authentication(in)
		if in.Strict {
			b.strictInstance(in)
		}
		b.unicast(in)
		b.preemption(in)
		// Per-instance settings default to the global ones.
		if !b.isSet(in, "lower_prio_no_advert") {
			in.LowerPrioNoAdvert = g.LowerPrioNoAdvert || in.Strict
		}
		if !b.isSet(in, "higher_prio_send_advert") {
			in.HigherPrioSendAdvert = g.HigherPrioSendAdvert && !in.Strict
		}
		if !b.isSet(in, "v3_checksum_as_v2") {
			in.V3ChecksumAsV2 = g.V3ChecksumAsV2
		}
		if !in.SkipCheckAdvAddr {
			in.SkipCheckAdvAddr = g.SkipCheckAdvAddr
		}
		if !in.CheckUnicastSrc {
			in.CheckUnicastSrc = g.CheckUnicastSrc
		}
		if in.DownTimerAdverts == 0 {
			in.DownTimerAdverts = g.DownTimerAdverts
		}
		garp := in.Garp
		in.Garp = g.Garp
		for key, apply := range map[string]func(){
			"garp_master_delay":          func() { in.Garp.MasterDelay = garp.MasterDelay },
			"garp_master_repeat":         func() { in.Garp.MasterRepeat = garp.MasterRepeat },
			"garp_master_refresh":        func() { in.Garp.MasterRefresh = garp.MasterRefresh },
			"garp_master_refresh_repeat": func() { in.Garp.MasterRefreshRepeat = garp.MasterRefreshRepeat },
			"garp_lower_prio_delay":      func() { in.Garp.LowerPrioDelay = garp.LowerPrioDelay },
			"garp_lower_prio_repeat":     func() { in.Garp.LowerPrioRepeat = garp.LowerPrioRepeat },
		} {
			if b.isSet(in, key) {
				apply()
			}
		}
		if in.Strict {
			in.Garp.LowerPrioRepeat = 0
			if in.Accept == nil {
				in.Accept = boolPtr(in.Priority == 255)
			}
		}
	}
}

// advertInt rounds advert_int as vrrp_complete_instance does.
func (b *builder) advertInt(in *Instance) {
	if in.Version == 2 {
		if in.AdvertInt >= 256*time.Second {
			// "(%s) VRRPv2 advertisement interval %.2fs is out of range".
			b.d.kaf(in.Pos, ClassGeneral, "(%s) VRRPv2 advertisement interval %.2fs is out of range. Must be less than 256s. Setting to 255s",
				in.Name, in.AdvertInt.Seconds())
			in.AdvertInt = 255 * time.Second
		} else if in.AdvertInt%time.Second != 0 {
			// "(%s) VRRPv2 advertisement interval %fs must be an integer.
			// rounding".
			secs := math.Round(in.AdvertInt.Seconds())
			if secs < 1 {
				secs = 1
			}
			b.d.kaf(in.Pos, ClassGeneral, "(%s) VRRPv2 advertisement interval %gs must be an integer. rounding to %gs",
				in.Name, in.AdvertInt.Seconds(), secs)
			in.AdvertInt = time.Duration(secs) * time.Second
		}
		return
	}
	const centi = 10 * time.Millisecond
	if in.AdvertInt >= 4096*centi {
		// "(%s) VRRPv3 advertisement interval %.2fs is out of range".
		b.d.kaf(in.Pos, ClassGeneral, "(%s) VRRPv3 advertisement interval %.2fs is out of range. Must be less than 40.96s. Setting to 40.95s",
			in.Name, in.AdvertInt.Seconds())
		in.AdvertInt = 4095 * centi
	} else if in.AdvertInt%centi != 0 {
		// "(%s) VRRPv3 advertisement interval %fs must be in units of 10ms
		// - rounding".
		cs := math.Round(float64(in.AdvertInt) / float64(centi))
		if cs < 1 {
			cs = 1
		}
		b.d.kaf(in.Pos, ClassGeneral, "(%s) VRRPv3 advertisement interval %gs must be in units of 10ms - rounding",
			in.Name, in.AdvertInt.Seconds())
		in.AdvertInt = time.Duration(cs) * centi
	}
}

// authentication applies vrrp_complete_instance's rules to the
// authentication block.
func (b *builder) authentication(in *Instance) {
	a := in.Auth
	if a == nil {
		return
	}
	switch {
	case in.Strict:
		// "(%s) Strict mode does not support authentication. Ignoring."
		b.d.kaf(a.Pos, ClassGeneral, "(%s) strict mode does not support authentication - ignoring it (vrrp_strict removes authentication)", in.Name)
		in.Auth = nil
	case in.Version == 3:
		// "(%s) VRRP version 3 does not support authentication. Ignoring."
		b.d.kaf(a.Pos, ClassGeneral, "(%s) VRRP version 3 does not support authentication - ignoring it", in.Name)
		in.Auth = nil
	case a.Pass == "":
		// "(%s) Authentication specified but no password given. Ignoring".
		b.d.kaf(a.Pos, ClassGeneral, "(%s) authentication specified but no password given - ignoring it", in.Name)
		in.Auth = nil
	case a.Type == "AH" && in.Priority != 255 && in.State == "MASTER":
		// "(%s) Initial state master is incompatible with AH
		// authentication - clearing".
		b.d.kaf(in.StatePos, ClassGeneral, "(%s) initial state MASTER is incompatible with AH authentication - using BACKUP", in.Name)
		in.State = "BACKUP"
	}
}

// strictInstance applies vrrp_strict's rules (vrrp_complete_instance).
func (b *builder) strictInstance(in *Instance) {
	if len(in.UnicastPeers) > 0 {
		// "(%s) Unicast peers are not supported in strict mode".
		b.d.refusef(in.Pos, ClassGeneral, "(%s) unicast peers are not supported in strict mode (vrrp_strict does not allow unicast_peer)", in.Name)
	}
	if (in.State == "MASTER") != (in.Priority == 255) && in.StatePos.IsValid() {
		// "(%s) State MASTER must match being address owner".
		b.d.kaf(in.StatePos, ClassGeneral, "(%s) vrrp_strict: state MASTER must match being address owner (priority 255)", in.Name)
		in.State = "BACKUP"
		if in.Priority == 255 {
			in.State = "MASTER"
		}
	}
	if in.PreemptDelay > 0 {
		// "(%s) preempt_delay is incompatible with strict mode - resetting".
		b.d.kaf(in.Pos, ClassGeneral, "(%s) preempt_delay is incompatible with strict mode - resetting", in.Name)
		in.PreemptDelay = 0
	}
	if b.isSet(in, "lower_prio_no_advert") && !in.LowerPrioNoAdvert {
		// "(%s) Strict mode requires no lower priority advert. resetting".
		b.d.kaf(in.Pos, ClassGeneral, "(%s) strict mode requires no lower priority advert - resetting", in.Name)
	}
	if b.isSet(in, "higher_prio_send_advert") && in.HigherPrioSendAdvert {
		// "(%s) strict mode requires higher_prio_send_advert to be clear.
		// resetting".
		b.d.kaf(in.Pos, ClassGeneral, "(%s) strict mode requires higher_prio_send_advert to be clear - resetting", in.Name)
	}
	in.LowerPrioNoAdvert = true
	in.HigherPrioSendAdvert = false
	b.mark(in, "lower_prio_no_advert")
	b.mark(in, "higher_prio_send_advert")
}

// unicast applies the unicast rules: a unicast keyword without peers means
// multicast (deprecated), a multicast destination with peers is dropped.
func (b *builder) unicast(in *Instance) {
	for _, p := range in.UnicastPeers {
		if in.UnicastSrcIP.IsValid() && p.Addr.Is4() != in.UnicastSrcIP.Is4() {
			// vrrp_data.c: "Configuration error: VRRP instance[%s] and
			// unicast peer address family mismatch".
			b.d.kaf(p.Pos, ClassGeneral, "(%s) unicast_peer %s and unicast_src_ip %s are of different families",
				in.Name, p.Addr, in.UnicastSrcIP)
		}
	}
	if len(in.UnicastPeers) == 0 && b.isSet(in, "unicast") && !in.UnicastFaultNoPeer {
		// "(%s) A unicast keyword has been specified without any unicast
		// peers. Defaulting to multicast." (CONFIG_DEPRECATED)
		b.d.kaf(in.Pos, ClassDeprecated, "(%s) a unicast keyword has been specified without any unicast peers - "+
			"using multicast (deprecated: keepalived's rule since 2.2.4)", in.Name)
	}
	if len(in.UnicastPeers) > 0 && in.McastDstIP.IsValid() {
		// "(%s) multicast destination specified with unicast - ignoring".
		b.d.kaf(in.Pos, ClassGeneral, "(%s) multicast destination specified with unicast - ignoring", in.Name)
	}
}

// preemption applies the nopreempt and preempt_delay rules.
func (b *builder) preemption(in *Instance) {
	if in.Priority == 255 && !in.Preempt {
		// "(%s) nopreempt is incompatible with priority %d. resetting
		// nopreempt".
		b.d.kaf(in.Pos, ClassGeneral, "(%s) nopreempt is incompatible with priority 255 - resetting nopreempt", in.Name)
		in.Preempt = true
	}
	if in.State == "MASTER" {
		if !in.Preempt {
			// "(%s) Warning - nopreempt will not work with initial state
			// MASTER - clearing".
			b.d.kaf(in.StatePos, ClassGeneral, "(%s) nopreempt will not work with initial state MASTER - clearing nopreempt "+
				"(nopreempt needs state BACKUP)", in.Name)
			in.Preempt = true
		}
		if in.PreemptDelay > 0 {
			// "(%s) Warning - preempt delay will not work with initial
			// state MASTER - clearing".
			b.d.kaf(in.StatePos, ClassGeneral, "(%s) preempt_delay will not work with initial state MASTER - clearing", in.Name)
			in.PreemptDelay = 0
		}
	}
	if in.PreemptDelay > 0 && !in.Preempt {
		// "(%s) preempt_delay is incompatible with nopreempt mode -
		// resetting".
		b.d.kaf(in.Pos, ClassGeneral, "(%s) preempt_delay is incompatible with nopreempt - resetting", in.Name)
		in.PreemptDelay = 0
	}
}

func (b *builder) syncGroups() {
	cfg := b.cfg
	inst := map[string]*Instance{}
	for _, in := range cfg.Instances {
		inst[in.Name] = in
	}
	member := map[string]*SyncGroup{}
	var groups []*SyncGroup
	for _, g := range cfg.SyncGroups {
		var members []string
		var pos []Pos
		for i, name := range g.Group {
			if inst[name] == nil {
				// vrrp_complete_init: "Unable to find vrrp instance %s".
				b.d.kaf(g.GroupPos[i], ClassGeneral, "vrrp_sync_group %s: vrrp_instance %s is not defined - ignoring it", g.Name, name)
				continue
			}
			if other := member[name]; other != nil {
				b.d.kaf(g.GroupPos[i], ClassGeneral, "vrrp_sync_group %s: vrrp_instance %s is already in group %s - ignoring it", g.Name, name, other.Name)
				continue
			}
			member[name] = g
			members = append(members, name)
			pos = append(pos, g.GroupPos[i])
		}
		g.Group, g.GroupPos = members, pos
		if len(g.Group) == 0 {
			// "Sync group %s has no virtual router(s) - removing".
			b.d.kaf(g.Pos, ClassGeneral, "vrrp_sync_group %s has no virtual router(s) - removing", g.Name)
			continue
		}
		if len(g.Group) == 1 {
			// vrrp_sync.c: "... has only 1 virtual router(s) - this
			// probably isn't what you want" (a log message only).
			b.d.warnf(g.Pos, "vrrp_sync_group %s has only 1 virtual router - this probably isn't what you want", g.Name)
		}
		groups = append(groups, g)
	}
	cfg.SyncGroups = groups
}

func (b *builder) scriptsAndTracks() {
	cfg := b.cfg
	scripts := map[string]*VRRPScript{}
	for _, s := range cfg.Scripts {
		scripts[s.Name] = s
	}
	files := map[string]*TrackFile{}
	for _, f := range cfg.TrackFiles {
		if f.File == "" {
			b.d.kaf(f.Pos, ClassGeneral, "track_file %s: no file given", f.Name)
		}
		files[f.Name] = f
	}
	procs := map[string]bool{}
	for _, p := range cfg.TrackProcesses {
		procs[p.Name] = true
	}
	used := map[string]bool{}
	// check drops the tracks whose object is not defined, as keepalived
	// does when it reads the track block: "(%s) track script %s not
	// found, ignoring...".
	check := func(owner string, ts []Track, kind string, exists func(string) bool) []Track {
		kept := ts[:0]
		for _, t := range ts {
			if !exists(t.Name) {
				b.d.kaf(t.Pos, ClassGeneral, "(%s) %s %s not found, ignoring...", owner, kind, t.Name)
				continue
			}
			kept = append(kept, t)
		}
		return kept
	}
	script := func(n string) bool { used[n] = scripts[n] != nil || used[n]; return scripts[n] != nil }
	for _, in := range cfg.Instances {
		in.TrackScripts = check(in.Name, in.TrackScripts, "track script", script)
		in.TrackFiles = check(in.Name, in.TrackFiles, "track file", func(n string) bool { return files[n] != nil })
		in.TrackProcesses = check(in.Name, in.TrackProcesses, "track process", func(n string) bool { return procs[n] })
	}
	for _, g := range cfg.SyncGroups {
		g.TrackScripts = check(g.Name, g.TrackScripts, "track script", script)
		g.TrackFiles = check(g.Name, g.TrackFiles, "track file", func(n string) bool { return files[n] != nil })
		g.TrackProcesses = check(g.Name, g.TrackProcesses, "track process", func(n string) bool { return procs[n] })
	}
	if len(cfg.Instances) > 0 {
		for _, s := range cfg.Scripts {
			if !used[s.Name] {
				// vrrp_complete_init: "Warning - script %s is not used".
				b.d.kaf(s.Pos, ClassGeneral, "vrrp_script %s is not used", s.Name)
			}
		}
	}
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checkers {
				if c.File != nil && files[c.File.TrackFile] == nil {
					b.d.kaf(c.Pos, ClassGeneral, "FILE_CHECK: track_file %s is not defined", c.File.TrackFile)
				}
			}
		}
	}
}

// trackingWeights applies vrrp_complete_instance's rule for a sync group
// member without sync_group_tracking_weight, and for an address owner
// (priority 255): tracked objects cannot change the priority, so a weighted
// interface counts with weight 0 (the owner stops tracking it), a weighted
// script is no longer tracked, and a weighted file counts with weight 0
// when its weight is the default 1, or is no longer tracked.
func (b *builder) trackingWeights() {
	cfg := b.cfg
	group := map[string]*SyncGroup{}
	for _, g := range cfg.SyncGroups {
		for _, name := range g.Group {
			group[name] = g
		}
	}
	scripts := map[string]*VRRPScript{}
	for _, s := range cfg.Scripts {
		scripts[s.Name] = s
	}
	files := map[string]*TrackFile{}
	for _, f := range cfg.TrackFiles {
		files[f.Name] = f
	}
	for _, in := range cfg.Instances {
		g := group[in.Name]
		sync := g != nil && !g.SyncGroupTrackingWeight
		if !sync && in.Priority != 255 {
			continue
		}
		why := "address owner"
		if sync {
			why = "SYNC group"
		}
		ifs := in.TrackInterfaces[:0]
		for _, t := range in.TrackInterfaces {
			if t.Weight != nil && *t.Weight != 0 {
				if sync {
					// "(%s) ignoring %s tracked interface weight due to
					// SYNC group".
					b.d.kaf(t.Pos, ClassGeneral, "(%s) ignoring %s tracked interface weight due to %s", in.Name, t.Name, why)
					t.Weight = intPtr(0)
				} else {
					b.d.kaf(t.Pos, ClassGeneral, "(%s) ignoring %s tracked interface due to %s", in.Name, t.Name, why)
					continue
				}
			}
			ifs = append(ifs, t)
		}
		in.TrackInterfaces = ifs
		scs := in.TrackScripts[:0]
		for _, t := range in.TrackScripts {
			w := 0
			if s := scripts[t.Name]; s != nil {
				w = s.Weight
			}
			if t.Weight != nil {
				w = *t.Weight
			}
			if w != 0 {
				// "(%s) ignoring tracked script %s with weights due to %s".
				b.d.kaf(t.Pos, ClassGeneral, "(%s) ignoring tracked script %s with weights due to %s", in.Name, t.Name, why)
				continue
			}
			scs = append(scs, t)
		}
		in.TrackScripts = scs
		tfs := in.TrackFiles[:0]
		for _, t := range in.TrackFiles {
			w := 1
			if f := files[t.Name]; f != nil {
				w = f.Weight
			}
			if t.Weight != nil {
				w = *t.Weight
			}
			switch {
			case w == 1:
				// "(%s) ignoring weight from tracked file %s due to %s.
				// specify weight 0".
				b.d.kaf(t.Pos, ClassGeneral, "(%s) ignoring weight from tracked file %s due to %s - specify weight 0", in.Name, t.Name, why)
				t.Weight = intPtr(0)
			case w != 0:
				// "(%s) ignoring tracked file %s with weight %d due to %s".
				b.d.kaf(t.Pos, ClassGeneral, "(%s) ignoring tracked file %s with weight %d due to %s", in.Name, t.Name, w, why)
				continue
			}
			tfs = append(tfs, t)
		}
		in.TrackFiles = tfs
	}
}

// trackInterfaces drops the tracked interfaces keepalived drops: one named
// twice (vrrp_track.c: "(%s) duplicate track_interface %s - ignoring") and
// the instance's own (vrrp.c: "(%s) Ignoring track_interface %s since own
// interface"; the instance follows its interface anyway).
func (b *builder) trackInterfaces() {
	for _, in := range b.cfg.Instances {
		seen := map[string]bool{}
		kept := in.TrackInterfaces[:0]
		for _, t := range in.TrackInterfaces {
			switch {
			case seen[t.Name]:
				b.d.kaf(t.Pos, ClassGeneral, "(%s) duplicate track_interface %s - ignoring", in.Name, t.Name)
				continue
			case t.Name == in.Interface && in.UseVMAC == nil:
				b.d.kaf(t.Pos, ClassGeneral, "(%s) ignoring track_interface %s since own interface", in.Name, t.Name)
				seen[t.Name] = true
				continue
			}
			seen[t.Name] = true
			kept = append(kept, t)
		}
		in.TrackInterfaces = kept
	}
}
