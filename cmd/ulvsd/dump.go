package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/ipvsfmt"
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

// dumpFile writes a dump atomically (a temporary file renamed into place),
// so a reader never sees half of one.
func (d *daemon) dumpFile(path string, write func(io.Writer) error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		d.log.Error("dump", zap.String("file", path), zap.Error(err))
		return
	}
	w := bufio.NewWriter(f)
	err = write(w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		d.log.Error("dump", zap.String("file", path), zap.Error(err))
		return
	}
	d.log.Info("dump written", zap.String("file", path))
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
		p("------< VRRP Scripts >------")
		for _, s := range cfg.Scripts {
			p(" VRRP Script = %s", s.Name)
			p("   Command = '%s'", strings.Join(s.Script.Argv, "' '"))
			p("   Interval = %s sec", secsOf(s.Interval))
			p("   Timeout = %s sec", secsOf(s.Timeout))
			p("   Weight = %d%s", s.Weight, onOff(s.Reverse, " reverse", ""))
			p("   Rise = %d", s.Rise)
			p("   Fall = %d", s.Fall)
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

// jsonInstance is keepalived's JSON dump entry (vrrp_json.c), with the
// fields ulvs has.
type jsonInstance struct {
	Data  jsonData   `json:"data"`
	Stats vrrp.Stats `json:"stats"`
}

type jsonData struct {
	IName                string   `json:"iname"`
	DontTrackPrimary     int      `json:"dont_track_primary"`
	SkipCheckAdvAddr     int      `json:"skip_check_adv_addr"`
	StrictMode           int      `json:"strict_mode"`
	VMACIfname           string   `json:"vmac_ifname"`
	IfpIfname            string   `json:"ifp_ifname"`
	MasterPriority       int      `json:"master_priority"`
	LastTransition       float64  `json:"last_transition"`
	GarpDelay            int      `json:"garp_delay"`
	GarpRefresh          int      `json:"garp_refresh"`
	GarpRep              int      `json:"garp_rep"`
	GarpRefreshRep       int      `json:"garp_refresh_rep"`
	GarpLowerPrioDelay   int      `json:"garp_lower_prio_delay"`
	GarpLowerPrioRep     int      `json:"garp_lower_prio_rep"`
	LowerPrioNoAdvert    int      `json:"lower_prio_no_advert"`
	HigherPrioSendAdvert int      `json:"higher_prio_send_advert"`
	VRID                 int      `json:"vrid"`
	BasePriority         int      `json:"base_priority"`
	EffectivePriority    int      `json:"effective_priority"`
	VIPSet               bool     `json:"vipset"`
	PromoteSecondaries   bool     `json:"promote_secondaries"`
	AdverInt             float64  `json:"adver_int"`
	MasterAdverInt       float64  `json:"master_adver_int"`
	Accept               int      `json:"accept"`
	Nopreempt            bool     `json:"nopreempt"`
	PreemptDelay         float64  `json:"preempt_delay"`
	State                int      `json:"state"`
	WantState            int      `json:"wantstate"`
	Version              int      `json:"version"`
	SMTPAlert            bool     `json:"smtp_alert"`
	NotifyDeleted        bool     `json:"notify_deleted"`
	VIPs                 []string `json:"vips"`
	TrackScript          []string `json:"track_script"`
	AuthType             int      `json:"auth_type"`
	AuthData             string   `json:"auth_data,omitempty"`
}

// keepalived's state numbers in the JSON dump.
var jsonStates = map[vrrp.State]int{vrrp.StateInit: 0, vrrp.StateBackup: 1, vrrp.StateMaster: 2, vrrp.StateFault: 3}

// writeJSON is the SIGRTMIN+2 dump.
func (d *daemon) writeJSON(w io.Writer) error {
	out := []jsonInstance{}
	if d.node != nil {
		cfg := d.conf()
		byName := d.instanceStatus()
		d.mu.Lock()
		base := maps.Clone(d.vrrpBase)
		d.mu.Unlock()
		b2i := map[bool]int{true: 1}
		for _, in := range cfg.Instances {
			s := byName[in.Name]
			jd := jsonData{IName: in.Name, DontTrackPrimary: b2i[in.DontTrackPrimary], SkipCheckAdvAddr: b2i[in.SkipCheckAdvAddr],
				StrictMode: b2i[in.Strict], IfpIfname: in.Interface, MasterPriority: s.MasterPriority,
				GarpDelay: int(in.Garp.MasterDelay.Seconds()), GarpRefresh: int(in.Garp.MasterRefresh.Seconds()),
				GarpRep: in.Garp.MasterRepeat, GarpRefreshRep: in.Garp.MasterRefreshRepeat,
				GarpLowerPrioDelay: int(in.Garp.LowerPrioDelay.Seconds()), GarpLowerPrioRep: in.Garp.LowerPrioRepeat,
				LowerPrioNoAdvert: b2i[in.LowerPrioNoAdvert], HigherPrioSendAdvert: b2i[in.HigherPrioSendAdvert],
				VRID: in.VRID, BasePriority: in.Priority, EffectivePriority: s.EffectivePriority, VIPSet: s.VIPsSet,
				AdverInt: in.AdvertInt.Seconds(), MasterAdverInt: s.MasterAdverInt.Seconds(), Accept: 1,
				Nopreempt: !in.Preempt, PreemptDelay: in.PreemptDelay.Seconds(), State: jsonStates[s.State],
				WantState: jsonStates[s.WantState], Version: in.Version, SMTPAlert: in.SMTPAlert != nil && *in.SMTPAlert,
				VIPs: []string{}, TrackScript: []string{}}
			if in.Accept != nil && !*in.Accept {
				jd.Accept = 0
			}
			if !s.LastTransition.IsZero() {
				jd.LastTransition = float64(s.LastTransition.UnixMicro()) / 1e6
			}
			for _, a := range in.VIPs {
				jd.VIPs = append(jd.VIPs, vipLine(a, in)+onOff(s.VIPsSet, " set", ""))
			}
			for _, t := range in.TrackScripts {
				for _, sc := range cfg.Scripts {
					if sc.Name == t.Name {
						jd.TrackScript = append(jd.TrackScript, "'"+strings.Join(sc.Script.Argv, "' '")+"'")
					}
				}
			}
			if in.Auth != nil {
				jd.AuthType = map[string]int{"PASS": 1, "AH": 2}[in.Auth.Type]
				if in.Auth.Type == "PASS" {
					jd.AuthData = in.Auth.Pass
				}
			}
			out = append(out, jsonInstance{Data: jd, Stats: s.Stats.Sub(base[in.Name])})
		}
	}
	return json.NewEncoder(w).Encode(out)
}
