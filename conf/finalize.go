package conf

import (
	"fmt"
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
	b.trackInterfaces()
	b.trackingWeights()
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

// String helpers used by messages and dumps.
func (vs *VirtualServer) String() string { return vsName(vs) }

// Key returns a stable identity for a virtual server: protocol and
// address:port, fwmark or group.
func (vs *VirtualServer) Key() string {
	return fmt.Sprintf("%s %s", vs.Protocol, vsName(vs))
}
