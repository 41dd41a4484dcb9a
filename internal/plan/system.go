package plan

import (
	"fmt"
	"net"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/script"
)

// SystemChecks is what only this machine can tell: interfaces that do not
// exist here and scripts that could not run.
func SystemChecks(cfg *conf.Config) conf.Diagnostics {
	var ds conf.Diagnostics
	warn := func(pos conf.Pos, format string, args ...any) {
		ds = append(ds, conf.Diagnostic{Pos: pos, Severity: conf.Warning, Msg: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	iface := func(pos conf.Pos, name string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		if _, err := net.InterfaceByName(name); err != nil {
			warn(pos, "interface %s not found on this machine", name)
		}
	}
	for _, in := range cfg.Instances {
		if in.UseVMAC == nil {
			iface(in.InterfacePos, in.Interface)
		}
		for _, t := range in.TrackInterfaces {
			iface(t.Pos, t.Name)
		}
		for _, a := range append(append([]*conf.IPAddress(nil), in.VIPs...), in.ExcludedVIPs...) {
			iface(a.Pos, a.Dev)
		}
	}
	for _, a := range cfg.StaticAddresses {
		iface(a.Pos, a.Dev)
	}
	pol := script.Policy{User: cfg.Global.ScriptUser, Group: cfg.Global.ScriptGroup,
		EnableSecurity: cfg.Global.EnableScriptSecurity}
	var scripts []*conf.Script
	for _, s := range cfg.Scripts {
		scripts = append(scripts, s.Script)
	}
	notify := func(n conf.Notify) {
		scripts = append(scripts, n.Master, n.Backup, n.Fault, n.Stop, n.Deleted, n.Generic, n.MasterRxLowerPrio)
	}
	for _, in := range cfg.Instances {
		notify(in.Notify)
	}
	for _, g := range cfg.SyncGroups {
		notify(g.Notify)
	}
	for _, vs := range cfg.VirtualServers {
		scripts = append(scripts, vs.QuorumUp, vs.QuorumDown)
		for _, rs := range vs.RealServers {
			scripts = append(scripts, rs.NotifyUp, rs.NotifyDown)
			for _, c := range rs.Checkers {
				if c.Misc != nil {
					scripts = append(scripts, c.Misc.Path)
				}
			}
		}
	}
	hasScripts := false
	for _, s := range scripts {
		if s == nil || len(s.Argv) == 0 {
			continue
		}
		hasScripts = true
		sc, err := pol.Prepare(script.Spec{Argv: s.Argv, User: s.User, Group: s.Group})
		switch {
		case err != nil:
			warn(s.Pos, "%v", err)
		case sc.Disabled != nil:
			warn(s.Pos, "script will not run: %v", sc.Disabled)
		case sc.Insecure != "":
			warn(s.Pos, "%s", sc.Insecure)
		}
	}
	if hasScripts && !cfg.Global.EnableScriptSecurity {
		pos := cfg.Global.Pos
		if !pos.IsValid() && len(cfg.Files) > 0 {
			pos = conf.Pos{File: cfg.Files[0], Line: 1}
		}
		warn(pos, "SECURITY VIOLATION - scripts are being executed but script_security not enabled")
	}
	return ds
}
