package vrrp

import (
	"context"
	"net/netip"
	"reflect"
	"slices"

	"go.uber.org/zap"
)

// This file is static_ipaddress, static_routes and static_rules
// (keepalived vrrp_daemon.c start_vrrp / stop_vrrp, vrrp_static_track.c,
// vrrp_netlink.c): installed before the instances start, removed after
// they stop, a reload applied as a difference; a static address someone
// deletes is put back at once, and an interface that comes back up gets
// its static addresses and routes back. An item with a track_group makes
// that group's instances track the interface it lives on.

// installStatic adds every static address, route and rule.
func (n *Node) installStatic(st *Static) {
	for _, a := range st.Addresses {
		if err := n.sys.AddAddress(a.Dev, a.VIP); err != nil {
			n.log.Error("cannot add static address", zap.String("dev", a.Dev), zap.Stringer("address", a.Prefix), zap.Error(err))
		}
	}
	for _, r := range st.Routes {
		if err := n.sys.AddRoute(r.Route); err != nil {
			n.log.Error("cannot add static route", zap.Stringer("dst", r.Dst), zap.Error(err))
		}
	}
	for _, r := range st.Rules {
		if err := n.sys.AddRule(r.Rule); err != nil {
			n.log.Error("cannot add static rule", zap.Error(err))
		}
	}
}

// removeStatic removes them in reverse: rules, routes, then addresses.
func (n *Node) removeStatic(st *Static) {
	for _, r := range st.Rules {
		if err := n.sys.DelRule(r.Rule); err != nil {
			n.log.Warn("cannot remove static rule", zap.Error(err))
		}
	}
	for _, r := range st.Routes {
		if err := n.sys.DelRoute(r.Route); err != nil {
			n.log.Warn("cannot remove static route", zap.Stringer("dst", r.Dst), zap.Error(err))
		}
	}
	for _, a := range st.Addresses {
		if err := n.sys.DelAddress(a.Dev, a.VIP); err != nil {
			n.log.Warn("cannot remove static address", zap.String("dev", a.Dev), zap.Stringer("address", a.Prefix), zap.Error(err))
		}
	}
}

// applyStatic moves from the static items of old to those of cur: what
// old has and cur has not is removed, then what cur has is added (adding
// what exists changes nothing). Unchanged items are not touched.
func (n *Node) applyStatic(old, cur *Static) {
	var gone Static
	for _, r := range old.Rules {
		if !slices.ContainsFunc(cur.Rules, func(x StaticRule) bool { return reflect.DeepEqual(x.Rule, r.Rule) }) {
			gone.Rules = append(gone.Rules, r)
		}
	}
	for _, r := range old.Routes {
		if !slices.ContainsFunc(cur.Routes, func(x StaticRoute) bool { return reflect.DeepEqual(x.Route, r.Route) }) {
			gone.Routes = append(gone.Routes, r)
		}
	}
	for _, a := range old.Addresses {
		if !slices.ContainsFunc(cur.Addresses, func(x StaticAddress) bool { return reflect.DeepEqual(x.VIP, a.VIP) }) {
			gone.Addresses = append(gone.Addresses, a)
		}
	}
	n.removeStatic(&gone)
	n.installStatic(cur)
}

// staticAddrRemoved puts back a static address that was deleted
// (keepalived: "Restoring deleted static address").
func (n *Node) staticAddrRemoved(dev string, p netip.Prefix) {
	for _, a := range n.cfg.Static.Addresses {
		if a.NoTrack || a.Dev != dev || a.Prefix != p {
			continue
		}
		n.log.Info("Restoring deleted static address", zap.String("dev", dev), zap.Stringer("address", p))
		if err := n.sys.AddAddress(a.Dev, a.VIP); err != nil {
			n.log.Warn("cannot restore static address", zap.String("dev", dev), zap.Stringer("address", p), zap.Error(err))
		}
		return
	}
}

// reinstateStatic puts back the static addresses and routes of an
// interface that came up (the kernel drops routes with their link).
func (n *Node) reinstateStatic(dev string) {
	st := &n.cfg.Static
	for _, a := range st.Addresses {
		if !a.NoTrack && a.Dev == dev {
			if err := n.sys.AddAddress(a.Dev, a.VIP); err != nil {
				n.log.Warn("cannot restore static address", zap.String("dev", dev), zap.Stringer("address", a.Prefix), zap.Error(err))
			}
		}
	}
	for _, r := range st.Routes {
		if !r.NoTrack && r.Dev == dev {
			if err := n.sys.AddRoute(r.Route); err != nil {
				n.log.Warn("cannot restore static route", zap.Stringer("dst", r.Dst), zap.Error(err))
			}
		}
	}
}

// staticDevs lists the interfaces static items with a track group live
// on, so that their state is known.
func (n *Node) staticDevs() []string {
	var out []string
	for _, it := range staticTracked(&n.cfg.Static) {
		if !slices.Contains(out, it.dev) {
			out = append(out, it.dev)
		}
	}
	return out
}

// trackedItem is a static item with a track group: the group and the
// interface the item needs.
type trackedItem struct{ group, dev string }

func staticTracked(st *Static) []trackedItem {
	var out []trackedItem
	for _, a := range st.Addresses {
		if a.TrackGroup != "" && !a.NoTrack {
			out = append(out, trackedItem{a.TrackGroup, a.Dev})
		}
	}
	for _, r := range st.Routes {
		if r.TrackGroup != "" && !r.NoTrack && r.Dev != "" {
			out = append(out, trackedItem{r.TrackGroup, r.Dev})
		}
	}
	for _, r := range st.Rules {
		if r.TrackGroup != "" && !r.NoTrack && r.Iif != "" {
			out = append(out, trackedItem{r.TrackGroup, r.Iif})
		}
	}
	return out
}

// staticIfaces returns the interfaces an instance tracks through track
// groups (keepalived add_vrrp_to_interface(..., TRACK_SADDR/SROUTE/SRULE)):
// while one is down, the instance is in FAULT.
func (n *Node) staticIfaces(name string) []string {
	var out []string
	for _, it := range staticTracked(&n.cfg.Static) {
		for _, g := range n.cfg.Static.TrackGroups {
			if g.Name == it.group && slices.Contains(g.Instances, name) && !slices.Contains(out, it.dev) {
				out = append(out, it.dev)
			}
		}
	}
	return out
}

// watchAddrs starts the address watch that restores deleted static
// addresses, if there are any and it is not running.
func (n *Node) watchAddrs(ctx context.Context) {
	if n.stopAddr != nil || len(n.cfg.Static.Addresses) == 0 {
		return
	}
	actx, cancel := context.WithCancel(ctx)
	n.stopAddr = cancel
	n.trackWG.Add(1)
	go func() {
		defer n.trackWG.Done()
		err := n.sys.WatchAddrs(actx, func(dev string, p netip.Prefix, added bool) {
			if added {
				return
			}
			select {
			case n.trk <- trackMsg{kind: "addr", name: dev, prefix: p}:
			case <-actx.Done():
			}
		})
		if err != nil && actx.Err() == nil {
			n.log.Error("address watch failed; deleted static addresses are not restored", zap.Error(err))
		}
	}()
}
