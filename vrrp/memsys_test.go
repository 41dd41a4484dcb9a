package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
)

// memSys is the System state of a MemHost: links, addresses, routes and
// rules as sets, plus a log of every operation and announcement.
type memSys struct {
	links    map[string]*Link
	addrs    map[string]map[netip.Prefix]VIP
	routes   map[string]Route
	rules    map[string]Rule
	ops      []string
	watchers []func(string, bool)
	aw       []func(string, netip.Prefix, bool)
	// blocked is the no_accept firewall's set, as "addr" or "addr%dev"
	// lines; fwTable is its table ("" while there is none).
	blocked []string
	fwTable string
	promote map[string]bool
	// fail, when set, makes the named operation ("add-address", ...)
	// return an error.
	fail map[string]error
}

func newMemHost(l *MemLAN, name string, addrs []netip.Addr) *MemHost {
	h := &MemHost{lan: l, name: name}
	h.sys = memSys{
		links:  map[string]*Link{},
		addrs:  map[string]map[netip.Prefix]VIP{},
		routes: map[string]Route{},
		rules:  map[string]Rule{},
		fail:   map[string]error{},
	}
	eth := &Link{Name: "eth0", Index: 2, Up: true, MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(len(l.hosts) + 1)},
		Addrs: slices.Clone(addrs)}
	h.sys.links["eth0"] = eth
	h.sys.promote = map[string]bool{}
	return h
}

var _ System = (*MemHost)(nil)

func (s *memSys) ownsLocked(a netip.Addr) bool {
	for _, l := range s.links {
		if slices.Contains(l.Addrs, a) {
			return true
		}
	}
	for _, set := range s.addrs {
		for p := range set {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

func (h *MemHost) op(name, format string, args ...any) error {
	h.sys.ops = append(h.sys.ops, name+" "+fmt.Sprintf(format, args...))
	return h.sys.fail[name]
}

// Fail makes the named operation ("add-address", "del-address",
// "add-route", "del-route", "add-rule", "del-rule", "announce",
// "add-vmac", "del-vmac") fail with err from now on (nil clears it).
func (h *MemHost) Fail(op string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.sys.fail, op)
	} else {
		h.sys.fail[op] = err
	}
}

// Link implements System.
func (h *MemHost) Link(name string) (Link, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.sys.links[name]
	if !ok {
		return Link{}, fmt.Errorf("vrrp: memlan: %s: no interface %s", h.name, name)
	}
	c := *l
	c.Addrs = slices.Clone(l.Addrs)
	for p := range h.sys.addrs[name] {
		c.Addrs = append(c.Addrs, p.Addr())
	}
	return c, nil
}

// AddAddress implements System.
func (h *MemHost) AddAddress(dev string, v VIP) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("add-address", "%s %s", dev, v.Prefix); err != nil {
		return err
	}
	if _, ok := h.sys.links[dev]; !ok {
		return fmt.Errorf("vrrp: memlan: %s: no interface %s", h.name, dev)
	}
	if h.sys.addrs[dev] == nil {
		h.sys.addrs[dev] = map[netip.Prefix]VIP{}
	}
	h.sys.addrs[dev][v.Prefix] = v
	return nil
}

// DelAddress implements System.
func (h *MemHost) DelAddress(dev string, v VIP) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("del-address", "%s %s", dev, v.Prefix); err != nil {
		return err
	}
	delete(h.sys.addrs[dev], v.Prefix)
	return nil
}

func routeKey(r Route) string {
	return fmt.Sprintf("%s via %v dev %s table %d metric %d type %s", r.Dst, r.Gateway, r.Dev, r.Table, r.Metric, r.Type)
}

func ruleKey(r Rule) string {
	return fmt.Sprintf("from %v to %v table %d pref %d", r.From, r.To, r.Table, r.Priority)
}

// AddRoute implements System.
func (h *MemHost) AddRoute(r Route) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("add-route", "%s", routeKey(r)); err != nil {
		return err
	}
	h.sys.routes[routeKey(r)] = r
	return nil
}

// DelRoute implements System.
func (h *MemHost) DelRoute(r Route) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("del-route", "%s", routeKey(r)); err != nil {
		return err
	}
	delete(h.sys.routes, routeKey(r))
	return nil
}

// AddRule implements System.
func (h *MemHost) AddRule(r Rule) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("add-rule", "%s", ruleKey(r)); err != nil {
		return err
	}
	h.sys.rules[ruleKey(r)] = r
	return nil
}

// DelRule implements System.
func (h *MemHost) DelRule(r Rule) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("del-rule", "%s", ruleKey(r)); err != nil {
		return err
	}
	delete(h.sys.rules, ruleKey(r))
	return nil
}

// Announce implements System.
func (h *MemHost) Announce(dev string, addr netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.op("announce", "%s %s", dev, addr)
}

// AddVMAC implements System.
func (h *MemHost) AddVMAC(name, base string, mac net.HardwareAddr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("add-vmac", "%s %s %s", name, base, mac); err != nil {
		return err
	}
	b, ok := h.sys.links[base]
	if !ok {
		return fmt.Errorf("vrrp: memlan: %s: no interface %s", h.name, base)
	}
	h.sys.links[name] = &Link{Name: name, Index: 100 + len(h.sys.links), MAC: mac, Up: b.Up}
	return nil
}

// DelVMAC implements System.
func (h *MemHost) DelVMAC(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("del-vmac", "%s", name); err != nil {
		return err
	}
	delete(h.sys.links, name)
	delete(h.sys.addrs, name)
	return nil
}

// WatchLinks implements System: fn is called from SetLink.
func (h *MemHost) WatchLinks(ctx context.Context, fn func(name string, up bool)) error {
	h.mu.Lock()
	h.sys.watchers = append(h.sys.watchers, fn)
	h.mu.Unlock()
	<-ctx.Done()
	return nil
}

// SetLink sets a link's operational state and tells the watchers.
func (h *MemHost) SetLink(name string, up bool) {
	h.mu.Lock()
	if l, ok := h.sys.links[name]; ok {
		l.Up = up
	}
	ws := slices.Clone(h.sys.watchers)
	h.mu.Unlock()
	for _, w := range ws {
		w(name, up)
	}
}

// AddLink adds another interface to the host.
func (h *MemHost) AddLink(l Link) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sys.links[l.Name] = &l
}

// Addresses returns the addresses ulvs added, as sorted "dev prefix"
// lines (label and scope included when set).
func (h *MemHost) Addresses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for dev, set := range h.sys.addrs {
		for p, v := range set {
			s := dev + " " + p.String()
			if v.Label != "" {
				s += " label " + v.Label
			}
			if v.Scope != "" {
				s += " scope " + v.Scope
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Routes returns the routes ulvs added, sorted.
func (h *MemHost) Routes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k := range h.sys.routes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Rules returns the rules ulvs added, sorted.
func (h *MemHost) Rules() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k := range h.sys.rules {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Ops returns every System operation so far, in order, as text.
func (h *MemHost) Ops() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sys.ops)
}

// HasAddress reports whether a is assigned to any interface by ulvs.
func (h *MemHost) HasAddress(a netip.Addr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.sys.addrs {
		for p := range set {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// WatchAddrs implements System: fn is called from RemoveAddress.
func (h *MemHost) WatchAddrs(ctx context.Context, fn func(dev string, addr netip.Prefix, added bool)) error {
	h.mu.Lock()
	h.sys.aw = append(h.sys.aw, fn)
	h.mu.Unlock()
	<-ctx.Done()
	return nil
}

// RemoveAddress removes an address as a hand (ip addr del) would, and
// tells the watchers.
func (h *MemHost) RemoveAddress(dev string, p netip.Prefix) {
	h.mu.Lock()
	delete(h.sys.addrs[dev], p)
	ws := slices.Clone(h.sys.aw)
	h.mu.Unlock()
	for _, w := range ws {
		w(dev, p, false)
	}
}

// SetNoAccept implements System.
func (h *MemHost) SetNoAccept(fw Firewall, ipv4, ipv6 bool, addrs []BlockedAddr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var set []string
	for _, a := range addrs {
		if a.Addr.IsLinkLocalUnicast() {
			set = append(set, a.Addr.String()+"%"+a.Dev)
		} else {
			set = append(set, a.Addr.String())
		}
	}
	sort.Strings(set)
	if err := h.op("set-no-accept", "%s %v", fw.table(), set); err != nil {
		return err
	}
	h.sys.fwTable, h.sys.blocked = fw.table(), set
	return nil
}

// ClearNoAccept implements System.
func (h *MemHost) ClearNoAccept(fw Firewall) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("clear-no-accept", "%s", fw.table()); err != nil {
		return err
	}
	if h.sys.fwTable == fw.table() {
		h.sys.fwTable, h.sys.blocked = "", nil
	}
	return nil
}

// NoAccept returns the no_accept firewall's table ("" when there is none)
// and the addresses it blocks, sorted ("addr%dev" for link-local ones).
func (h *MemHost) NoAccept() (string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sys.fwTable, slices.Clone(h.sys.blocked)
}

// PromoteSecondaries implements System.
func (h *MemHost) PromoteSecondaries(dev string, on bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("promote-secondaries", "%s %v", dev, on); err != nil {
		return err
	}
	if on {
		h.sys.promote[dev] = true
	} else {
		delete(h.sys.promote, dev)
	}
	return nil
}

// Promoted reports whether promote_secondaries is set on dev.
func (h *MemHost) Promoted(dev string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sys.promote[dev]
}
