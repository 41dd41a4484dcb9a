package conf

import (
	"fmt"
	"math"
	"net/netip"
	"time"
)

// defaultConnectTimeout is keepalived's checker connect_timeout default.
const defaultConnectTimeout = 5 * time.Second

func firstDur(ps ...*time.Duration) *time.Duration {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func firstInt(ps ...*int) *int {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// inherit resolves what real servers and checkers take from their virtual
// server, once the whole virtual_server block is read (keywords may come
// in any order).
func (b *builder) inherit(vs *VirtualServer) {
	vt := b.timingOf(vs)
	vs.ConnectTimeout, vs.Retry, vs.DelayBeforeRetry, vs.Warmup = vt.connectTimeout, vt.retry, vt.delayBeforeRetry, vt.warmup
	for _, rs := range vs.RealServers {
		rt := b.timingOf(rs)
		if !b.isSet(rs, "weight") {
			rs.Weight = vs.Weight
		}
		if !b.isSet(rs, "inhibit") {
			rs.InhibitOnFailure = vs.InhibitOnFailure
		}
		if !b.isSet(rs, "method") {
			rs.Method = vs.Method
		}
		if !b.isSet(rs, "virtualhost") {
			rs.Virtualhost = vs.Virtualhost
		}
		if rs.Port == 0 && vs.Fwmark == 0 {
			rs.Port = vs.Port
		}
		switch {
		case rt.alpha != nil:
			rs.Alpha = *rt.alpha
		default:
			rs.Alpha = vs.Alpha
		}
		rs.DelayLoop = vs.DelayLoop
		if rt.delayLoop != nil {
			rs.DelayLoop = *rt.delayLoop
		}
		rs.ConnectTimeout = firstDur(rt.connectTimeout, vt.connectTimeout)
		rs.Retry = firstInt(rt.retry, vt.retry)
		rs.DelayBeforeRetry = firstDur(rt.delayBeforeRetry, vt.delayBeforeRetry)
		rs.Warmup = firstDur(rt.warmup, vt.warmup)
		for _, c := range rs.Checkers {
			b.resolveChecker(c, rs)
			if c.SMTP != nil {
				for _, h := range c.SMTP.Hosts {
					h.ConnectTimeout, h.Retry, h.DelayBeforeRetry = c.ConnectTimeout, c.Retry, c.DelayBeforeRetry
					h.DelayLoop, h.Warmup, h.Alpha = c.DelayLoop, c.Warmup, c.Alpha
					if !h.ConnectIP.IsValid() {
						h.ConnectIP = c.ConnectIP
					}
					if h.ConnectPort == 0 {
						h.ConnectPort = c.ConnectPort
					}
				}
			}
		}
	}
}

func (b *builder) resolveChecker(c *Checker, rs *RealServer) {
	ct := b.timingOf(c)
	c.ConnectTimeout = defaultConnectTimeout
	if p := firstDur(ct.connectTimeout, rs.ConnectTimeout); p != nil {
		c.ConnectTimeout = *p
	}
	c.DelayLoop = rs.DelayLoop
	if ct.delayLoop != nil {
		c.DelayLoop = *ct.delayLoop
	}
	c.Retry = defaultRetry(c.Type)
	if p := firstInt(ct.retry, rs.Retry); p != nil {
		c.Retry = *p
	}
	c.DelayBeforeRetry = defaultDelayBeforeRetry(c.Type, c.DelayLoop)
	if p := firstDur(ct.delayBeforeRetry, rs.DelayBeforeRetry); p != nil {
		c.DelayBeforeRetry = *p
	}
	c.Warmup = firstDur(ct.warmup, rs.Warmup)
	c.Alpha = rs.Alpha
	if ct.alpha != nil {
		c.Alpha = *ct.alpha
	}
	if !c.ConnectIP.IsValid() {
		c.ConnectIP = rs.Addr
	}
	if c.ConnectPort == 0 {
		c.ConnectPort = rs.Port
	}
	if c.HTTP != nil && c.HTTP.Virtualhost == "" {
		c.HTTP.Virtualhost = rs.Virtualhost
	}
	if c.Misc != nil && c.Misc.Timeout == 0 {
		c.Misc.Timeout = c.DelayLoop
	}
}

// finish applies global defaults and cross-object rules, and validates.
func (b *builder) finish() {
	b.globalDefaults()
	b.instances()
	b.syncGroups()
	b.scriptsAndTracks()
	b.virtualServers()
}

func (b *builder) globalDefaults() {
	g := &b.cfg.Global
	if g.SMTPPort == 0 {
		g.SMTPPort = 25
	}
	if g.SMTPServer != "" && g.SMTPConnectTimeout == 0 {
		g.SMTPConnectTimeout = 30 * time.Second
	}
	if !g.McastGroup4.IsValid() {
		g.McastGroup4 = netip.MustParseAddr("224.0.0.18")
	}
	if !g.McastGroup6.IsValid() {
		g.McastGroup6 = netip.MustParseAddr("ff02::12")
	}
	if g.VRRPVersion == 0 {
		g.VRRPVersion = 2
	}
	if g.DownTimerAdverts == 0 {
		g.DownTimerAdverts = 3
	}
	if g.DefaultInterface == "" {
		g.DefaultInterface = "eth0"
	}
	if g.StateDumpFile == "" {
		g.StateDumpFile = "/tmp/keepalived.data"
	}
	if g.StatsDumpFile == "" {
		g.StatsDumpFile = "/tmp/keepalived.stats"
	}
	if g.JSONDumpFile == "" {
		g.JSONDumpFile = "/tmp/keepalived.json"
	}
	gp := &g.Garp
	garpSet := b.isSet(g, "garp")
	if !garpSet {
		*gp = Garp{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1}
		if g.MinGarp {
			// vrrp_min_garp, with the GARP settings still at their defaults:
			// one GARP, no repeat or refresh.
			*gp = Garp{MasterRepeat: 1}
		}
	}
	if gp.MasterRepeat == 0 {
		gp.MasterRepeat = 5
	}
	if gp.MasterRefreshRepeat == 0 {
		gp.MasterRefreshRepeat = 1
	}
	if !b.isSet(g, "garp_lower_delay") {
		gp.LowerPrioDelay = gp.MasterDelay
	}
	if !b.isSet(g, "garp_lower_repeat") {
		gp.LowerPrioRepeat = gp.MasterRepeat
		if g.Strict {
			gp.LowerPrioRepeat = 0
		}
	}
	if g.Strict {
		g.LowerPrioNoAdvert = true
		g.HigherPrioSendAdvert = false
	}
}

func (b *builder) instances() {
	cfg := b.cfg
	g := &cfg.Global
	byName := map[string]*Instance{}
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
		if first, dup := byName[in.Name]; dup {
			b.d.errorf(in.Pos, "vrrp_instance %s defined twice (first at %s)", in.Name, first.Pos)
		} else {
			byName[in.Name] = in
		}
		if in.VRID == 0 {
			b.d.errorf(in.Pos, "vrrp_instance %s: virtual_router_id is required", in.Name)
		}
		if in.Interface == "" {
			if len(in.UnicastPeers) == 0 {
				b.d.warnf(in.Pos, "vrrp_instance %s: no interface given, using default_interface %s", in.Name, g.DefaultInterface)
			}
			in.Interface = g.DefaultInterface
			in.InterfacePos = in.Pos
		}
		// Family: from the addresses, all of which must agree.
		v6 := false
		fam := 0
		for _, a := range in.VIPs {
			f := 4
			if a.Prefix.Addr().Is6() && !a.Prefix.Addr().Is4In6() {
				f = 6
			}
			if fam == 0 {
				fam = f
			} else if f != fam {
				b.d.errorf(a.Pos, "vrrp_instance %s: virtual_ipaddress %s is IPv%d but the instance is IPv%d "+
					"(put other families in virtual_ipaddress_excluded)", in.Name, a.Prefix, f, fam)
			}
		}
		if fam == 6 || (fam == 0 && in.UnicastSrcIP.Is6()) {
			v6 = true
		}
		if len(in.VIPs) == 0 && !in.NoVirtualIPAddress && len(in.ExcludedVIPs) == 0 {
			b.d.warnf(in.Pos, "vrrp_instance %s: no virtual_ipaddress", in.Name)
		}
		if in.VRID != 0 {
			k := vridKey{in.Interface, in.VRID, v6}
			if other, dup := byVRID[k]; dup && other.Name != in.Name && len(in.UnicastPeers) == 0 {
				b.d.errorf(in.Pos, "vrrp_instance %s: virtual_router_id %d on %s is already used by %s (%s)",
					in.Name, in.VRID, in.Interface, other.Name, other.Pos)
			} else {
				byVRID[k] = in
			}
		}
		// Version and advert_int resolution (vrrp.c vrrp_complete_instance).
		if in.Version == 0 {
			in.Version = g.VRRPVersion
		}
		if v6 && in.Version == 2 {
			in.Version = 3
		}
		if in.Version == 2 {
			secs := math.Round(in.AdvertInt.Seconds())
			if secs < 1 {
				secs = 1
			}
			if time.Duration(secs)*time.Second != in.AdvertInt {
				b.d.warnf(in.Pos, "vrrp_instance %s: VRRPv2 advert_int %v rounded to %vs", in.Name, in.AdvertInt.Seconds(), secs)
				in.AdvertInt = time.Duration(secs) * time.Second
			}
		} else {
			cs := math.Round(float64(in.AdvertInt) / float64(10*time.Millisecond))
			if cs < 1 {
				cs = 1
			}
			if cs > 4095 {
				b.d.errorf(in.Pos, "vrrp_instance %s: VRRPv3 advert_int %v is above 40.95s", in.Name, in.AdvertInt.Seconds())
				cs = 4095
			}
			in.AdvertInt = time.Duration(cs) * 10 * time.Millisecond
			if in.Auth != nil {
				b.d.warnf(in.Auth.Pos, "vrrp_instance %s: authentication is not part of VRRPv3 - ignored", in.Name)
				in.Auth = nil
			}
		}
		if in.Auth != nil && in.Auth.Type == "PASS" && in.Auth.Pass == "" {
			b.d.errorf(in.Auth.Pos, "vrrp_instance %s: auth_type PASS without auth_pass", in.Name)
		}
		for _, p := range in.UnicastPeers {
			if in.UnicastSrcIP.IsValid() && p.Addr.Is4() != in.UnicastSrcIP.Is4() {
				b.d.errorf(p.Pos, "vrrp_instance %s: unicast_peer %s and unicast_src_ip %s are of different families",
					in.Name, p.Addr, in.UnicastSrcIP)
			}
		}
		if in.PreemptDelay > 0 && !in.Preempt {
			b.d.warnf(in.Pos, "vrrp_instance %s: preempt_delay has no effect with nopreempt", in.Name)
		}
		if !in.Preempt && in.State == "MASTER" {
			b.d.warnf(in.StatePos, "vrrp_instance %s: nopreempt needs state BACKUP to take effect (keepalived's rule)", in.Name)
		}
		// Per-instance settings default to the global ones.
		if !b.isSet(in, "strict") {
			in.Strict = g.Strict
		}
		if !b.isSet(in, "lower_prio_no_advert") {
			in.LowerPrioNoAdvert = g.LowerPrioNoAdvert
		}
		if !b.isSet(in, "higher_prio_send_advert") {
			in.HigherPrioSendAdvert = g.HigherPrioSendAdvert
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
			b.strictInstance(in)
		}
	}
}

// strictInstance applies vrrp_strict's rules (keepalived man page).
func (b *builder) strictInstance(in *Instance) {
	if len(in.VIPs) == 0 {
		b.d.errorf(in.Pos, "vrrp_instance %s: vrrp_strict needs at least one virtual_ipaddress", in.Name)
	}
	if len(in.UnicastPeers) > 0 {
		b.d.errorf(in.Pos, "vrrp_instance %s: vrrp_strict does not allow unicast_peer", in.Name)
	}
	if in.Auth != nil {
		b.d.warnf(in.Auth.Pos, "vrrp_instance %s: vrrp_strict removes authentication", in.Name)
		in.Auth = nil
	}
	if in.State == "MASTER" && in.Priority != 255 {
		b.d.warnf(in.StatePos, "vrrp_instance %s: vrrp_strict: state MASTER needs priority 255, using BACKUP", in.Name)
		in.State = "BACKUP"
	}
	if in.PreemptDelay > 0 {
		b.d.warnf(in.Pos, "vrrp_instance %s: vrrp_strict ignores preempt_delay", in.Name)
		in.PreemptDelay = 0
	}
	in.LowerPrioNoAdvert = true
	in.HigherPrioSendAdvert = false
	in.Garp.LowerPrioRepeat = 0
	if in.Accept == nil {
		in.Accept = boolPtr(in.Priority == 255)
	}
}

func (b *builder) syncGroups() {
	cfg := b.cfg
	inst := map[string]*Instance{}
	for _, in := range cfg.Instances {
		inst[in.Name] = in
	}
	member := map[string]*SyncGroup{}
	names := map[string]*SyncGroup{}
	for _, g := range cfg.SyncGroups {
		if first, dup := names[g.Name]; dup {
			b.d.errorf(g.Pos, "vrrp_sync_group %s defined twice (first at %s)", g.Name, first.Pos)
			continue
		}
		names[g.Name] = g
		if len(g.Group) == 0 {
			b.d.errorf(g.Pos, "vrrp_sync_group %s: no group { } of instances", g.Name)
		}
		for i, name := range g.Group {
			if inst[name] == nil {
				b.d.errorf(g.GroupPos[i], "vrrp_sync_group %s: vrrp_instance %s is not defined", g.Name, name)
				continue
			}
			if other := member[name]; other != nil {
				b.d.errorf(g.GroupPos[i], "vrrp_sync_group %s: vrrp_instance %s is already in group %s", g.Name, name, other.Name)
				continue
			}
			member[name] = g
		}
		if len(g.Group) == 1 {
			b.d.warnf(g.Pos, "vrrp_sync_group %s has only 1 virtual router - this probably isn't what you want", g.Name)
		}
	}
}

func (b *builder) scriptsAndTracks() {
	cfg := b.cfg
	scripts := map[string]*VRRPScript{}
	for _, s := range cfg.Scripts {
		if first, dup := scripts[s.Name]; dup {
			b.d.errorf(s.Pos, "vrrp_script %s defined twice (first at %s)", s.Name, first.Pos)
			continue
		}
		scripts[s.Name] = s
	}
	files := map[string]*TrackFile{}
	for _, f := range cfg.TrackFiles {
		if first, dup := files[f.Name]; dup {
			b.d.errorf(f.Pos, "track_file %s defined twice (first at %s)", f.Name, first.Pos)
			continue
		}
		if f.File == "" {
			b.d.errorf(f.Pos, "track_file %s: no file given", f.Name)
		}
		files[f.Name] = f
	}
	procs := map[string]bool{}
	for _, p := range cfg.TrackProcesses {
		procs[p.Name] = true
	}
	check := func(owner string, ts []Track, kind string, exists func(string) bool) {
		for _, t := range ts {
			if !exists(t.Name) {
				b.d.errorf(t.Pos, "%s: %s %s is not defined", owner, kind, t.Name)
			}
		}
	}
	for _, in := range cfg.Instances {
		owner := "vrrp_instance " + in.Name
		check(owner, in.TrackScripts, "vrrp_script", func(n string) bool { return scripts[n] != nil })
		check(owner, in.TrackFiles, "track_file", func(n string) bool { return files[n] != nil })
		check(owner, in.TrackProcesses, "vrrp_track_process", func(n string) bool { return procs[n] })
	}
	for _, g := range cfg.SyncGroups {
		owner := "vrrp_sync_group " + g.Name
		check(owner, g.TrackScripts, "vrrp_script", func(n string) bool { return scripts[n] != nil })
		check(owner, g.TrackFiles, "track_file", func(n string) bool { return files[n] != nil })
		check(owner, g.TrackProcesses, "vrrp_track_process", func(n string) bool { return procs[n] })
	}
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checkers {
				if c.File != nil && files[c.File.TrackFile] == nil {
					b.d.errorf(c.Pos, "FILE_CHECK: track_file %s is not defined", c.File.TrackFile)
				}
			}
		}
	}
}

func (b *builder) virtualServers() {
	cfg := b.cfg
	groups := map[string]*VirtualServerGroup{}
	for _, g := range cfg.VirtualServerGroups {
		if first, dup := groups[g.Name]; dup {
			b.d.errorf(g.Pos, "virtual_server_group %s defined twice (first at %s)", g.Name, first.Pos)
			continue
		}
		groups[g.Name] = g
		if len(g.Entries) == 0 {
			b.d.warnf(g.Pos, "virtual_server_group %s is empty", g.Name)
		}
	}
	seen := map[string]*VirtualServer{}
	for _, vs := range cfg.VirtualServers {
		name := vsName(vs)
		key := vs.Protocol + " " + name
		if vs.Fwmark != 0 {
			key = name + " " + vs.Family
		}
		if first, dup := seen[key]; dup {
			b.d.errorf(vs.Pos, "virtual_server %s (%s) defined twice (first at %s)", name, vs.Protocol, first.Pos)
		} else {
			seen[key] = vs
		}
		if vs.Group != "" && groups[vs.Group] == nil {
			b.d.errorf(vs.Pos, "virtual_server group %s: virtual_server_group %s is not defined", vs.Group, vs.Group)
		}
		if vs.Family == "" {
			switch {
			case vs.Addr.Is6():
				vs.Family = "inet6"
			case vs.Group != "" && groups[vs.Group] != nil && len(groups[vs.Group].Entries) > 0 && groups[vs.Group].Entries[0].First.Is6():
				vs.Family = "inet6"
			default:
				vs.Family = "inet"
			}
		}
		if vs.PersistenceGranularity < 0 {
			vs.PersistenceGranularity = 32
			if vs.Family == "inet6" {
				vs.PersistenceGranularity = 128
			}
		} else if vs.Family == "inet" && vs.PersistenceGranularity > 32 {
			b.d.errorf(vs.Pos, "virtual_server %s: persistence_granularity /%d is too long for IPv4", name, vs.PersistenceGranularity)
		}
		if vs.Addr.IsValid() && vs.Port == 0 && vs.PersistenceTimeout == 0 {
			b.d.errorf(vs.Pos, "virtual_server %s: no port given - only valid with persistence_timeout", vs.Addr)
		}
		if vs.OPS && vs.Protocol != "UDP" {
			b.d.warnf(vs.Pos, "virtual_server %s: ops only applies to UDP - ignored", name)
			vs.OPS = false
		}
		if vs.SorryServer != nil && vs.SorryServer.Port == 0 {
			vs.SorryServer.Port = vs.Port
		}
		if vs.SchedFlags != 0 && vs.Sched != "sh" && vs.Sched != "mh" {
			b.d.warnf(vs.Pos, "virtual_server %s: scheduler flags only apply to sh and mh", name)
		}
		if len(vs.RealServers) == 0 && vs.SorryServer == nil {
			b.d.warnf(vs.Pos, "virtual_server %s has no real_server", name)
		}
		rsSeen := map[netip.AddrPort]*RealServer{}
		total := 0
		for _, rs := range vs.RealServers {
			ap := netip.AddrPortFrom(rs.Addr, rs.Port)
			if first, dup := rsSeen[ap]; dup {
				b.d.errorf(rs.Pos, "virtual_server %s: real_server %s defined twice (first at %s)", name, ap, first.Pos)
			}
			rsSeen[ap] = rs
			total += rs.Weight
			if vs.Family == "inet" && rs.Addr.Is6() && rs.Method.Kind != MethodTUN {
				b.d.errorf(rs.Pos, "virtual_server %s: IPv6 real_server %s in an IPv4 service needs lb_kind TUN", name, rs.Addr)
			}
			if rs.Method.Kind == MethodDR && vs.Port != 0 && rs.Port != vs.Port {
				b.d.warnf(rs.Pos, "virtual_server %s: real_server %s: DR cannot change the port (%d → %d); the VIP's port is used",
					name, ap, vs.Port, rs.Port)
			}
			if rs.LThreshold > 0 && rs.UThreshold > 0 && rs.LThreshold > rs.UThreshold {
				b.d.errorf(rs.Pos, "real_server %s: lthreshold %d is above uthreshold %d", ap, rs.LThreshold, rs.UThreshold)
			}
			for _, c := range rs.Checkers {
				if c.Misc == nil && c.File == nil && c.Type != CheckPing && c.ConnectPort == 0 {
					b.d.errorf(c.Pos, "%s for real_server %s: no port to check (set connect_port)", c.Type, ap)
				}
			}
		}
		if vs.Quorum > total && len(vs.RealServers) > 0 {
			b.d.warnf(vs.Pos, "virtual_server %s: quorum %d is above the total weight %d of its real servers", name, vs.Quorum, total)
		}
	}
}

// String helpers used by messages and dumps.
func (vs *VirtualServer) String() string { return vsName(vs) }

// Key returns a stable identity for a virtual server: protocol and
// address:port, fwmark or group.
func (vs *VirtualServer) Key() string {
	return fmt.Sprintf("%s %s", vs.Protocol, vsName(vs))
}
