package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/ipvsfmt"
	"github.com/ulvs/ulvs/internal/kacompat"
	"github.com/ulvs/ulvs/vrrp"
)

// The dump files follow keepalived 2.2.7's, line for line where ulvs has
// the same facts (testdata/keepalived-2.2.7 holds keepalived's own), so the
// exporters and scripts that parse them keep working:
//
//	SIGUSR1      state dump  (global_defs state_dump_file, /tmp/keepalived.data)
//	SIGUSR2      stats dump  (stats_dump_file, /tmp/keepalived.stats)
//	SIGRTMIN+2   JSON dump   (json_dump_file, /tmp/keepalived.json)

func (d *daemon) conf() *conf.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *daemon) stateDumpPath() string { return d.conf().Global.StateDumpFile }
func (d *daemon) statsDumpPath() string { return d.conf().Global.StatsDumpFile }
func (d *daemon) jsonDumpPath() string  { return d.conf().Global.JSONDumpFile }

// dumpFile writes a dump atomically (kacompat.WriteFile): a reader sees
// the previous dump or this one, whole.
func (d *daemon) dumpFile(path string, write func(io.Writer) error) {
	if err := kacompat.WriteFile(path, 0o600, write); err != nil {
		d.log.Error("dump", zap.String("file", path), zap.Error(err))
		return
	}
	d.log.Debug("dump written", zap.String("file", path))
}

// dumpAll writes the three dumps, so that they exist before the first
// signal.
func (d *daemon) dumpAll() {
	d.dumpFile(d.stateDumpPath(), d.writeData)
	d.dumpFile(d.statsDumpPath(), d.writeStats)
	d.dumpFile(d.jsonDumpPath(), d.writeJSON)
}

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

func optBool(b *bool) string {
	if b == nil {
		return "unset"
	}
	return fmt.Sprint(*b)
}

func secsOf(t time.Duration) string { return fmt.Sprintf("%g", t.Seconds()) }

// writeData is the SIGUSR1 dump.
func (d *daemon) writeData(w io.Writer) error {
	cfg := d.conf()
	g := cfg.Global
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("------< Global definitions >------")
	p(" Router ID = %s", g.RouterID)
	if g.SMTPServer != "" {
		p(" Smtp server = %s", g.SMTPServer)
		p(" Smtp server port = %d", g.SMTPPort)
		p(" Smtp HELO name = %s", g.SMTPHeloName)
		p(" Smtp server connection timeout = %s", secsOf(g.SMTPConnectTimeout))
		p(" Email notification from = %s", g.NotificationEmailFrom)
		for _, e := range g.NotificationEmail {
			p(" Email notification = %s", e)
		}
	}
	p(" Default smtp_alert = %s", optBool(g.SMTPAlert))
	p(" Default smtp_alert_vrrp = %s", optBool(g.SMTPAlertVRRP))
	p(" Default smtp_alert_checker = %s", optBool(g.SMTPAlertChecker))
	p(" Checkers log all failures = %t", g.CheckerLogAllFailures)
	p(" Dynamic interfaces = %t", g.DynamicInterfaces)
	p(" Default interface = %s", g.DefaultInterface)
	p(" LVS flush = %t", g.LVSFlush)
	p(" LVS flush on stop = %s", onOff(g.LVSFlushOnStop != "", g.LVSFlushOnStop, "disabled"))
	p(" VRRP notify priority changes = %t", g.NotifyPriorityChange)
	p(" VRRP IPv4 mcast group = %s", g.McastGroup4)
	p(" VRRP IPv6 mcast group = %s", g.McastGroup6)
	p(" Gratuitous ARP delay = %d", int(g.Garp.MasterDelay.Seconds()))
	p(" Gratuitous ARP repeat = %d", g.Garp.MasterRepeat)
	p(" Gratuitous ARP refresh timer = %d", int(g.Garp.MasterRefresh.Seconds()))
	p(" Gratuitous ARP refresh repeat = %d", g.Garp.MasterRefreshRepeat)
	p(" Gratuitous ARP lower priority delay = %d", int(g.Garp.LowerPrioDelay.Seconds()))
	p(" Gratuitous ARP lower priority repeat = %d", g.Garp.LowerPrioRepeat)
	p(" Num adverts before down = %d", g.DownTimerAdverts)
	p(" Send advert after receive lower priority advert = %t", !g.LowerPrioNoAdvert)
	p(" Send advert after receive higher priority advert = %t", g.HigherPrioSendAdvert)
	p(" Gratuitous ARP interval = %f", g.GarpInterval.Seconds())
	p(" Gratuitous NA interval = %f", g.GnaInterval.Seconds())
	p(" VRRP default protocol version = %d", g.VRRPVersion)
	p(" VRRP check unicast_src = %t", g.CheckUnicastSrc)
	p(" VRRP skip check advert addresses = %t", g.SkipCheckAdvAddr)
	p(" VRRP strict mode = %t", g.Strict)
	p(" Script security %s", onOff(g.EnableScriptSecurity, "enabled", "disabled"))
	if d.node != nil {
		d.writeVRRPTopology(w, cfg)
	}
	if d.lvs != nil {
		p("------< LVS Topology >------")
		p(" System <%s>", strings.ToUpper(d.o.backend))
		ipvsfmt.Table(w, d.lvs.View(d.o.backend), ipvsfmt.Numeric)
	}
	if d.hr != nil {
		cs, err := d.checkerView(context.Background())
		if err == nil && len(cs) > 0 {
			p("------< Health checkers >------")
			for _, c := range cs {
				p(" %s %s for %s: %s (%d consecutive failures, last %.3f ms)%s", c.Type, c.Target, c.Service,
					onOff(c.Up, "UP", "DOWN"), c.Failures, c.LatencyMS, onOff(c.LastError != "", ": "+c.LastError, ""))
			}
		}
	}
	return nil
}

func (d *daemon) writeVRRPTopology(w io.Writer, cfg *conf.Config) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	byName := d.instanceStatus()
	p("------< VRRP Topology >------")
	for _, in := range cfg.Instances {
		s := byName[in.Name]
		p(" VRRP Instance = %s", in.Name)
		p("   VRRP Version = %d", in.Version)
		p("   State = %s", s.State)
		p("   Wantstate = %s", s.WantState)
		if !s.LastTransition.IsZero() {
			t := s.LastTransition
			p("   Last transition = %d.%06d (%s)", t.Unix(), t.Nanosecond()/1000, t.Format("Mon Jan _2 15:04:05.000000 2006"))
		}
		p("   Interface = %s", in.Interface)
		if s.SourceAddr.IsValid() {
			p("   Using src_ip = %s", s.SourceAddr)
		}
		if len(in.UnicastPeers) == 0 {
			group := cfg.Global.McastGroup4
			if in.Version == 3 && len(in.VIPs) > 0 && in.VIPs[0].Prefix.Addr().Is6() {
				group = cfg.Global.McastGroup6
			}
			p("   Multicast address %s", group)
		} else {
			p("   Unicast Peer(s) :")
			for _, pe := range in.UnicastPeers {
				p("     %s", pe.Addr)
			}
		}
		p("   Gratuitous ARP delay = %d", int(in.Garp.MasterDelay.Seconds()))
		p("   Gratuitous ARP repeat = %d", in.Garp.MasterRepeat)
		p("   Gratuitous ARP refresh = %d", int(in.Garp.MasterRefresh.Seconds()))
		p("   Gratuitous ARP refresh repeat = %d", in.Garp.MasterRefreshRepeat)
		p("   Gratuitous ARP lower priority delay = %d", int(in.Garp.LowerPrioDelay.Seconds()))
		p("   Gratuitous ARP lower priority repeat = %d", in.Garp.LowerPrioRepeat)
		p("   Down timer adverts = %d", in.DownTimerAdverts)
		p("   Send advert after receive lower priority advert = %t", !in.LowerPrioNoAdvert)
		p("   Send advert after receive higher priority advert = %t", in.HigherPrioSendAdvert)
		p("   Virtual Router ID = %d", in.VRID)
		p("   Priority = %d", in.Priority)
		p("   Effective priority = %d", s.EffectivePriority)
		// ulvs's own: keepalived counts these for SNMP only.
		p("   Checksum errors = %d", s.Stats.ChecksumErr)
		p("   Advert interval = %s sec", secsOf(in.AdvertInt))
		p("   Preempt = %s", onOff(in.Preempt, "enabled", "disabled"))
		if in.PreemptDelay > 0 {
			p("   Preempt delay = %s secs", secsOf(in.PreemptDelay))
		}
		if in.Auth != nil {
			p("   Authentication type = %s", map[string]string{"PASS": "SIMPLE_PASSWORD", "AH": "IPSEC_AH"}[in.Auth.Type])
			if in.Auth.Type == "PASS" {
				p("   Password = %s", in.Auth.Pass)
			}
		}
		if len(in.VIPs) > 0 {
			p("   Virtual IP (%d):", len(in.VIPs))
			for _, a := range in.VIPs {
				p("     %s%s", vipLine(a, in), onOff(s.VIPsSet, " set", ""))
			}
		}
		if len(in.TrackScripts) > 0 {
			p("   Tracked scripts :")
			for _, t := range in.TrackScripts {
				p("     %s%s", t.Name, trackWeightWords(t, cfg))
			}
		}
		p("   Using smtp notification = %s", onOff(in.SMTPAlert != nil && *in.SMTPAlert, "yes", "no"))
	}
	if len(cfg.Scripts) > 0 {
		scripts := map[string]string{} // script → its last result, as an instance tracking it sees it
		for _, s := range byName {
			for _, tr := range s.Trackers {
				if tr.Kind == "script" {
					scripts[tr.Name] = tr.Status
				}
			}
		}
		p("------< VRRP Scripts >------")
		for _, s := range cfg.Scripts {
			p(" VRRP Script = %s", s.Name)
			p("   Command = '%s'", strings.Join(s.Script.Argv, "' '"))
			p("   Interval = %s sec", secsOf(s.Interval))
			p("   Timeout = %s sec", secsOf(s.Timeout))
			p("   Weight = %d%s", s.Weight, onOff(s.Reverse, " reverse", ""))
			p("   Rise = %d", s.Rise)
			p("   Fall = %d", s.Fall)
			if st, ok := scripts[s.Name]; ok {
				p("   Status = %s", onOff(st == "OK", "GOOD", "BAD"))
			}
		}
	}
}

// instanceStatus is one snapshot of the VRRP instances, by name.
func (d *daemon) instanceStatus() map[string]vrrp.InstanceStatus {
	byName := map[string]vrrp.InstanceStatus{}
	for _, s := range d.node.Status().Instances {
		byName[s.Name] = s
	}
	return byName
}

func vipLine(a *conf.IPAddress, in *conf.Instance) string {
	dev := a.Dev
	if dev == "" {
		dev = in.Interface
	}
	s := a.Prefix.Addr().String()
	if a.Prefix.Bits() != a.Prefix.Addr().BitLen() {
		s = a.Prefix.String()
	}
	scope := a.Scope
	if scope == "" {
		scope = "global"
	}
	s += " dev " + dev + " scope " + scope
	if a.Label != "" {
		s += " label " + a.Label
	}
	return s
}

func trackWeightWords(t conf.Track, cfg *conf.Config) string {
	if t.Weight != nil {
		return fmt.Sprintf(" weight %d", *t.Weight)
	}
	for _, s := range cfg.Scripts {
		if s.Name == t.Name {
			return fmt.Sprintf(" weight %d", s.Weight)
		}
	}
	return ""
}

// writeStats is the SIGUSR2 dump, keepalived's exactly.
func (d *daemon) writeStats(w io.Writer) error {
	for _, in := range d.vrrpView() {
		s := in.Stats
		fmt.Fprintf(w, "VRRP Instance: %s\n", in.Name)
		fmt.Fprintf(w, "  Advertisements:\n    Received: %d\n    Sent: %d\n", s.AdvertRcvd, s.AdvertSent)
		fmt.Fprintf(w, "  Became master: %d\n  Released master: %d\n", s.BecomeMaster, s.ReleaseMaster)
		fmt.Fprintf(w, "  Packet Errors:\n    Length: %d\n    TTL: %d\n    Invalid Type: %d\n    Advertisement Interval: %d\n    Address List: %d\n",
			s.PacketLenErr, s.IPTTLErr, s.InvalidTypeRcvd, s.AdvertIntervalErr, s.AddrListErr)
		fmt.Fprintf(w, "  Authentication Errors:\n    Invalid Type: %d\n    Type Mismatch: %d\n    Failure: %d\n",
			s.InvalidAuthType, s.AuthTypeMismatch, s.AuthFailure)
		fmt.Fprintf(w, "  Priority Zero:\n    Received: %d\n    Sent: %d\n", s.PriZeroRcvd, s.PriZeroSent)
	}
	return nil
}

// keepalived's state numbers in the JSON dump.
var jsonStates = map[vrrp.State]int{vrrp.StateInit: 0, vrrp.StateBackup: 1, vrrp.StateMaster: 2, vrrp.StateFault: 3}

// writeJSON is the SIGRTMIN+2 dump, in keepalived's JSON shape
// (kacompat.WriteJSON).
func (d *daemon) writeJSON(w io.Writer) error {
	var out []kacompat.Instance
	if d.node != nil {
		cfg := d.conf()
		byName := d.instanceStatus()
		d.mu.Lock()
		base := maps.Clone(d.vrrpBase)
		d.mu.Unlock()
		for _, in := range cfg.Instances {
			out = append(out, jsonInstance(cfg, in, byName[in.Name], base[in.Name]))
		}
	}
	return kacompat.WriteJSON(w, out)
}

func jsonInstance(cfg *conf.Config, in *conf.Instance, s vrrp.InstanceStatus, base vrrp.Stats) kacompat.Instance {
	jd := kacompat.Data{IName: in.Name, DontTrackPrimary: in.DontTrackPrimary, SkipCheckAdvAddr: in.SkipCheckAdvAddr,
		StrictMode: in.Strict, IfpIfname: in.Interface, MasterPriority: s.MasterPriority, LastTransition: s.LastTransition,
		GarpDelay: in.Garp.MasterDelay, GarpRefresh: in.Garp.MasterRefresh, GarpRep: in.Garp.MasterRepeat,
		GarpRefreshRep: in.Garp.MasterRefreshRepeat, GarpLowerPrioDelay: in.Garp.LowerPrioDelay,
		GarpLowerPrioRep: in.Garp.LowerPrioRepeat, LowerPrioNoAdvert: in.LowerPrioNoAdvert,
		HigherPrioSendAdvert: in.HigherPrioSendAdvert, VRID: in.VRID, BasePriority: in.Priority,
		EffectivePriority: s.EffectivePriority, VIPSet: s.VIPsSet, AdverInt: in.AdvertInt,
		MasterAdverInt: s.MasterAdverInt, Accept: in.Accept == nil || *in.Accept, Nopreempt: !in.Preempt,
		PreemptDelay: in.PreemptDelay, State: jsonStates[s.State], WantState: jsonStates[s.WantState],
		Version: in.Version, SMTPAlert: in.SMTPAlert != nil && *in.SMTPAlert, NotifyDeleted: in.Notify.Deleted != nil}
	if in.UseVMAC != nil {
		jd.VMACIfname = in.UseVMAC.Name
		if jd.VMACIfname == "" {
			jd.VMACIfname = fmt.Sprintf("vrrp.%d", in.VRID) // keepalived's default, as package vrrp names it
		}
	}
	cmd := func(sc *conf.Script) string {
		if sc == nil {
			return ""
		}
		return kacompat.Command(sc.Argv)
	}
	n := &in.Notify
	jd.ScriptBackup, jd.ScriptMaster, jd.ScriptFault, jd.ScriptStop = cmd(n.Backup), cmd(n.Master), cmd(n.Fault), cmd(n.Stop)
	jd.ScriptDeleted, jd.Script, jd.ScriptMasterRxLowerPri = cmd(n.Deleted), cmd(n.Generic), cmd(n.MasterRxLowerPrio)
	for _, a := range in.VIPs {
		jd.VIPs = append(jd.VIPs, vipLine(a, in)+onOff(s.VIPsSet, " set", ""))
	}
	for _, a := range in.ExcludedVIPs {
		jd.EVIPs = append(jd.EVIPs, vipLine(a, in)+onOff(s.VIPsSet, " set", ""))
	}
	for _, t := range in.TrackInterfaces {
		jd.TrackIfp = append(jd.TrackIfp, t.Name)
	}
	for _, t := range in.TrackScripts {
		for _, sc := range cfg.Scripts {
			if sc.Name == t.Name {
				jd.TrackScript = append(jd.TrackScript, kacompat.Command(sc.Script.Argv))
			}
		}
	}
	if in.Auth != nil {
		jd.AuthType = map[string]int{"PASS": 1, "AH": 2}[in.Auth.Type]
		if in.Auth.Type == "PASS" {
			jd.AuthData = in.Auth.Pass
		}
	}
	return kacompat.Instance{Data: jd, Stats: s.Stats.Sub(base)}
}
