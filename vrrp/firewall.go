package vrrp

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"go.uber.org/zap"
)

// DefaultFirewallTable is keepalived's default nftables table name.
const DefaultFirewallTable = "keepalived"

func (fw Firewall) table() string {
	if fw.Table == "" {
		return DefaultFirewallTable
	}
	return fw.Table
}

func (fw Firewall) priority() string {
	p := -1
	if fw.Priority != nil {
		p = *fw.Priority
	}
	switch {
	case p < 0:
		return "filter - " + strconv.Itoa(-p)
	case p > 0:
		return "filter + " + strconv.Itoa(p)
	}
	return "filter"
}

// fwState is what the node last asked of the no_accept firewall.
type fwState struct {
	active bool
	cfg    Firewall
	last   string // the blocked set, as text, last applied
}

// noAccept reports whether the instance drops traffic to its VIPs while
// master: no_accept, unless it owns them (priority 255). keepalived
// vrrp_handle_accept_mode: "if (vrrp->base_priority == VRRP_PRIO_OWNER ||
// vrrp->accept) return".
func (in *instance) noAccept() bool {
	return in.cfg.NoAccept && in.p.basePrio != PrioOwner
}

// syncFirewall brings the no_accept firewall in line with the instances:
// the table exists while any instance is in no_accept mode, and its set
// holds the VIPs and eVIPs of those that are master (setVIPs marks them
// before adding the addresses, clearVIPs unmarks them after removing
// them, so an address is never held without its drop rule).
func (n *Node) syncFirewall() {
	want, v4, v6 := false, false, false
	var addrs []BlockedAddr
	for _, in := range n.insts {
		if in.noAccept() {
			want = true
			for _, v := range in.allVIPs() {
				if FamilyOf(v.Prefix.Addr()) == IPv6 {
					v6 = true
				} else {
					v4 = true
				}
			}
		}
		if !in.blocking {
			continue
		}
		for _, v := range in.allVIPs() {
			addrs = append(addrs, BlockedAddr{Addr: v.Prefix.Addr(), Dev: in.devOf(v)})
		}
	}
	fw := n.cfg.Global.Firewall
	if n.fw.active && !reflect.DeepEqual(n.fw.cfg, fw) {
		n.clearFirewall() // the table was renamed or reprioritised
	}
	if !want && len(addrs) == 0 {
		n.clearFirewall()
		return
	}
	key := fmt.Sprint(v4, v6, addrs)
	if n.fw.active && key == n.fw.last {
		return
	}
	if err := n.sys.SetNoAccept(fw, v4, v6, addrs); err != nil {
		n.log.Error("no_accept firewall not applied: the VIPs of masters in no_accept mode accept traffic",
			zap.Error(err))
		return
	}
	n.fw = fwState{active: true, cfg: fw, last: key}
	n.log.Info("no_accept firewall", zap.String("table", fw.table()), zap.Int("blocked", len(addrs)))
}

// clearFirewall removes the firewall's table if the node made one.
func (n *Node) clearFirewall() {
	if !n.fw.active {
		return
	}
	if err := n.sys.ClearNoAccept(n.fw.cfg); err != nil {
		n.log.Warn("cannot remove the no_accept firewall table", zap.String("table", n.fw.cfg.table()), zap.Error(err))
	}
	n.fw = fwState{}
}

// syncPromote sets promote_secondaries on the interfaces of the instances
// that ask for it, and puts back the others it had set.
func (n *Node) syncPromote() {
	var want []string
	for _, in := range n.insts {
		if in.cfg.PromoteSecondaries && !slices.Contains(want, in.dev) {
			want = append(want, in.dev)
		}
	}
	for _, dev := range want {
		if slices.Contains(n.promoted, dev) {
			continue
		}
		if err := n.sys.PromoteSecondaries(dev, true); err != nil {
			n.log.Warn("promote_secondaries not set", zap.String("interface", dev), zap.Error(err))
			continue
		}
		n.promoted = append(n.promoted, dev)
	}
	n.restorePromote(want)
}

// restorePromote puts back promote_secondaries on the interfaces ulvs set
// it on, except those in keep.
func (n *Node) restorePromote(keep []string) {
	var still []string
	for _, dev := range n.promoted {
		if slices.Contains(keep, dev) {
			still = append(still, dev)
			continue
		}
		if err := n.sys.PromoteSecondaries(dev, false); err != nil {
			n.log.Warn("promote_secondaries not restored", zap.String("interface", dev), zap.Error(err))
		}
	}
	n.promoted = still
}
