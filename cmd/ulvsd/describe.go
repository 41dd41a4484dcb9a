package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/ulvs/ulvs/conf"
)

// describe prints what a configuration sets up, in plain words.
func describe(w io.Writer, file string, cfg *conf.Config) {
	fmt.Fprintf(w, "%s\n", file)
	g := cfg.Global
	var glob []string
	if g.RouterID != "" {
		glob = append(glob, "router_id "+g.RouterID)
	}
	glob = append(glob, fmt.Sprintf("VRRP multicast group %s", g.McastGroup4))
	if g.SMTPServer != "" {
		glob = append(glob, fmt.Sprintf("mail alerts via %s:%d to %s", g.SMTPServer, g.SMTPPort,
			strings.Join(g.NotificationEmail, ", ")))
	}
	fmt.Fprintf(w, "  global: %s\n", strings.Join(glob, "; "))
	for _, s := range cfg.Scripts {
		fmt.Fprintf(w, "  vrrp_script %s: runs %q every %s, %s, fall %d rise %d\n", s.Name, s.Script.Cmd,
			secs(s.Interval), weightWords(s.Weight, s.Reverse), s.Fall, s.Rise)
	}
	for _, sg := range cfg.SyncGroups {
		fmt.Fprintf(w, "  vrrp_sync_group %s: %s move together\n", sg.Name, strings.Join(sg.Group, ", "))
	}
	if sd := cfg.Global.LVSSyncDaemon; sd != nil {
		fmt.Fprintf(w, "  lvs_sync_daemon: connections synchronised over %s (%s port %d, sync id %d): sent while %s is master, received otherwise\n",
			sd.Interface, sd.Group, sd.Port, sd.SyncID, sd.Instance)
	}
	for _, in := range cfg.Instances {
		auth := "no authentication"
		if in.Auth != nil {
			auth = "auth " + in.Auth.Type
		}
		pre := "preempt"
		if !in.Preempt {
			pre = "nopreempt"
		}
		fmt.Fprintf(w, "  vrrp_instance %s: starts %s on %s, VRID %d, priority %d, advert every %s (VRRPv%d), %s, %s\n",
			in.Name, in.State, in.Interface, in.VRID, in.Priority, secs(in.AdvertInt), in.Version, auth, pre)
		var vips []string
		for _, a := range in.VIPs {
			s := a.Prefix.String()
			if a.Dev != "" {
				s += " dev " + a.Dev
			}
			vips = append(vips, s)
		}
		if len(vips) > 0 {
			fmt.Fprintf(w, "      VIPs: %s\n", strings.Join(vips, ", "))
		}
		if len(in.UnicastPeers) > 0 {
			var ps []string
			for _, p := range in.UnicastPeers {
				ps = append(ps, p.Addr.String())
			}
			fmt.Fprintf(w, "      unicast peers: %s\n", strings.Join(ps, ", "))
		}
		for _, t := range in.TrackScripts {
			fmt.Fprintf(w, "      tracks vrrp_script %s%s\n", t.Name, trackWeight(t))
		}
		for _, t := range in.TrackInterfaces {
			fmt.Fprintf(w, "      tracks interface %s%s\n", t.Name, trackWeight(t))
		}
		if n := notifyList(in.Notify); n != "" {
			fmt.Fprintf(w, "      notify: %s\n", n)
		}
	}
	for _, vs := range cfg.VirtualServers {
		var extra []string
		if vs.PersistenceTimeout > 0 {
			extra = append(extra, fmt.Sprintf("persistent %s (/%d)", secs(vs.PersistenceTimeout), vs.PersistenceGranularity))
		}
		if vs.SorryServer != nil {
			extra = append(extra, "sorry server "+netip.AddrPortFrom(vs.SorryServer.Addr, vs.SorryServer.Port).String())
		}
		if vs.Quorum > 1 {
			extra = append(extra, fmt.Sprintf("quorum %d", vs.Quorum))
		}
		sched := vs.Sched
		if vs.SchedFlags != 0 {
			sched += fmt.Sprintf(" (flags %#x)", vs.SchedFlags)
		}
		fmt.Fprintf(w, "  virtual_server %s %s: scheduler %s, forwarding %s%s\n", vs, vs.Protocol, sched,
			vs.Method.Kind, prefixed("; ", strings.Join(extra, "; ")))
		for _, rs := range vs.RealServers {
			fmt.Fprintf(w, "      real_server %s weight %d", netip.AddrPortFrom(rs.Addr, rs.Port), rs.Weight)
			if rs.InhibitOnFailure {
				fmt.Fprintf(w, " (inhibit_on_failure)")
			}
			if len(rs.Checkers) == 0 {
				fmt.Fprintf(w, ": no checker, always up\n")
				continue
			}
			fmt.Fprintln(w)
			for _, c := range rs.Checkers {
				fmt.Fprintf(w, "          %s\n", checkerWords(c))
			}
		}
	}
}

func checkerWords(c *conf.Checker) string {
	target := netip.AddrPortFrom(c.ConnectIP, c.ConnectPort).String()
	what := c.Type + " " + target
	switch {
	case c.HTTP != nil:
		var urls []string
		for _, u := range c.HTTP.URLs {
			s := u.Path
			if len(u.StatusCodes) > 0 {
				var codes []string
				for _, r := range u.StatusCodes {
					if r.Lo == r.Hi {
						codes = append(codes, fmt.Sprint(r.Lo))
					} else {
						codes = append(codes, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
					}
				}
				s += " status " + strings.Join(codes, ",")
			}
			if u.Digest != "" {
				s += " digest " + u.Digest
			}
			urls = append(urls, s)
		}
		what += " GET " + strings.Join(urls, "; ")
	case c.Misc != nil:
		what = c.Type + " " + c.Misc.Path.Cmd
	case c.DNS != nil:
		what += fmt.Sprintf(" %s %s", c.DNS.Type, c.DNS.Name)
	}
	return fmt.Sprintf("%s: every %s, timeout %s, down after %d failures %s apart",
		what, secs(c.DelayLoop), secs(c.ConnectTimeout), c.Retry+1, secs(c.DelayBeforeRetry))
}

func notifyList(n conf.Notify) string {
	var out []string
	for _, p := range []struct {
		name string
		s    *conf.Script
	}{{"master", n.Master}, {"backup", n.Backup}, {"fault", n.Fault}, {"stop", n.Stop}, {"any", n.Generic}} {
		if p.s != nil {
			out = append(out, p.name+"="+p.s.Cmd)
		}
	}
	return strings.Join(out, ", ")
}

func trackWeight(t conf.Track) string {
	if t.Weight == nil {
		return ""
	}
	return fmt.Sprintf(" (weight %d)", *t.Weight)
}

func weightWords(w int, reverse bool) string {
	switch {
	case w == 0:
		return "failure means FAULT"
	case w < 0 && !reverse:
		return fmt.Sprintf("priority %d while failing", w)
	case w > 0 && !reverse:
		return fmt.Sprintf("priority +%d while succeeding", w)
	}
	return fmt.Sprintf("weight %d reversed", w)
}

func secs(d time.Duration) string {
	return strings.TrimSuffix(fmt.Sprintf("%gs", d.Seconds()), ".0s")
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
