package plan

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/script"
)

// SystemChecks is what only this machine can tell: interfaces that do not
// exist here and scripts that could not run. Where keepalived 2.2.7 reports
// the same thing, the message carries its class (and so sets `ulvsd -t`'s
// exit status as keepalived's); the rest are ulvs's own warnings.
func SystemChecks(cfg *conf.Config) conf.Diagnostics {
	var ds conf.Diagnostics
	report := func(pos conf.Pos, class conf.Class, format string, args ...any) {
		ds = append(ds, conf.Diagnostic{Pos: pos, Severity: conf.Warning, Class: class, Msg: fmt.Sprintf(format, args...)})
	}
	// keepalived reports a missing interface at every line that names one
	// (vrrp_parser.c, vrrp_ipaddress.c, vrrp_iproute.c, vrrp_iprule.c).
	missingIf := false
	iface := func(pos conf.Pos, name string, class conf.Class) {
		if name == "" {
			return
		}
		if _, err := net.InterfaceByName(name); err != nil {
			report(pos, class, "interface %s not found on this machine", name)
			missingIf = true
		}
	}
	routes := func(rs []*conf.Route) {
		for _, r := range rs {
			// "WARNING - interface %s for VROUTE nexthop doesn't exist".
			iface(r.Pos, r.Dev, conf.ClassGeneral)
		}
	}
	rules := func(rs []*conf.Rule) {
		for _, r := range rs {
			// "WARNING - interface %s for rule doesn't exist".
			iface(r.Pos, r.IIf, conf.ClassGeneral)
			iface(r.Pos, r.OIf, conf.ClassGeneral)
		}
	}
	addrs := func(as []*conf.IPAddress) {
		for _, a := range as {
			// "WARNING - interface %s for ip address %s doesn't exist".
			iface(a.Pos, a.Dev, conf.ClassGeneral)
		}
	}
	for _, in := range cfg.Instances {
		if in.UseVMAC == nil {
			// vrrp_parser.c: "WARNING - interface %s for vrrp_instance %s
			// doesn't exist".
			iface(in.InterfacePos, in.Interface, conf.ClassGeneral)
		}
		for _, t := range in.TrackInterfaces {
			// "(%s) tracked interface %s doesn't exist".
			iface(t.Pos, t.Name, conf.ClassGeneral)
		}
		addrs(in.VIPs)
		addrs(in.ExcludedVIPs)
		routes(in.Routes)
		rules(in.Rules)
	}
	addrs(cfg.StaticAddresses)
	routes(cfg.StaticRoutes)
	rules(cfg.StaticRules)
	// vrrp_daemon.c: without dynamic_interfaces, a missing interface stops
	// keepalived's VRRP process ("Non-existent interface specified in
	// configuration", CONFIG_BAD_IF) before it checks its scripts; ulvsd's
	// VRRP would not start either.
	vrrpRuns := len(cfg.Instances) > 0
	if missingIf && !cfg.Global.DynamicInterfaces {
		pos := cfg.Global.Pos
		if !pos.IsValid() && len(cfg.Files) > 0 {
			pos = conf.Pos{File: cfg.Files[0], Line: 1}
		}
		report(pos, conf.ClassBadInterface, "non-existent interface specified in configuration: VRRP cannot run on this machine")
		vrrpRuns = false
	}
	pol := script.Policy{User: cfg.Global.ScriptUser, Group: cfg.Global.ScriptGroup,
		EnableSecurity: cfg.Global.EnableScriptSecurity}
	// check prepares one script as the daemon would, and reports whether
	// its program exists (keepalived's SC_ISSCRIPT: it stats the file).
	check := func(s *conf.Script, track string) bool {
		if s == nil || len(s.Argv) == 0 {
			return false
		}
		found := scriptFound(s.Argv[0])
		if strings.HasPrefix(s.Argv[0], "<") {
			return false
		}
		if !found && track != "" {
			// vrrp.c check_track_script_secure: "Disabling track script
			// %s since not found/accessible".
			report(s.Pos, conf.ClassGeneral, "vrrp_script %s: %s not found or not accessible - the track script is disabled",
				track, s.Argv[0])
			return false
		}
		sc, err := pol.Prepare(script.Spec{Argv: s.Argv, User: s.User, Group: s.Group})
		switch {
		case err != nil:
			report(s.Pos, conf.NoClass, "%v", err)
		case sc.Disabled != nil:
			class := conf.NoClass
			if track != "" && found {
				// "Disabling track script %s due to insecure".
				class = conf.ClassGeneral
			}
			report(s.Pos, class, "script will not run: %v", sc.Disabled)
		case sc.Insecure != "":
			report(s.Pos, conf.NoClass, "%s", sc.Insecure)
		}
		return found
	}
	notify := func(n conf.Notify, instance bool) bool {
		found := false
		list := []*conf.Script{n.Master, n.Backup, n.Fault, n.Stop, n.Generic}
		if instance {
			list = append(list, n.Deleted, n.MasterRxLowerPrio)
		}
		for _, s := range list {
			found = check(s, "") || found
		}
		return found
	}
	fifo := func(f *conf.Fifo) bool { return f != nil && check(f.Script, "") }
	// keepalived checks the VRRP scripts only when there are instances,
	// and the checker's only when there are virtual servers; each side
	// reports a SECURITY VIOLATION (CONFIG_SECURITY_ERROR) of its own.
	violation := func(what string) {
		pos := cfg.Global.Pos
		if !pos.IsValid() && len(cfg.Files) > 0 {
			pos = conf.Pos{File: cfg.Files[0], Line: 1}
		}
		report(pos, conf.ClassSecurity, "SECURITY VIOLATION - %s are being executed but script_security not enabled", what)
	}
	secure := cfg.Global.EnableScriptSecurity
	if vrrpRuns {
		found := false
		for _, s := range cfg.Scripts {
			found = check(s.Script, s.Name) || found
		}
		for _, in := range cfg.Instances {
			found = notify(in.Notify, true) || found
		}
		for _, g := range cfg.SyncGroups {
			found = notify(g.Notify, false) || found
		}
		found = fifo(cfg.Global.NotifyFifo) || found
		found = fifo(cfg.Global.VRRPNotifyFifo) || found
		if found && !secure {
			violation("scripts")
		}
	}
	if len(cfg.VirtualServers) > 0 {
		found := false
		for _, vs := range cfg.VirtualServers {
			found = check(vs.QuorumUp, "") || found
			found = check(vs.QuorumDown, "") || found
			for _, rs := range vs.RealServers {
				found = check(rs.NotifyUp, "") || found
				found = check(rs.NotifyDown, "") || found
				for _, c := range rs.Checkers {
					if c.Misc != nil {
						found = check(c.Misc.Path, "") || found
					}
				}
			}
		}
		found = fifo(cfg.Global.LVSNotifyFifo) || found
		if found && !secure {
			violation("check scripts")
		}
	}
	return ds
}

// scriptFound reports whether a script's program exists, as keepalived's
// check_script_secure finds it: a path is looked at, a bare name is looked
// up on PATH. A line the daemon runs through /bin/sh ("a && b") starts with
// its program all the same.
func scriptFound(prog string) bool {
	if strings.HasPrefix(prog, "<") && strings.HasPrefix(strings.TrimLeft(prog[1:], " \t"), "/") {
		// "</dev/tcp/..." tests that a file opens: keepalived runs it
		// with system() and does not count it as a script (SC_SYSTEM).
		return false
	}
	if strings.ContainsRune(prog, '/') {
		_, err := os.Stat(prog)
		return err == nil
	}
	_, err := exec.LookPath(prog)
	return err == nil
}
