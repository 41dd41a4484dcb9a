package lvs

import "net/netip"

// Follow makes the services on addr follow a VRRP instance: enabled only
// while it is master. Addresses no instance owns stay enabled, and so does
// everything when the backend does not follow VRRP.
func (r *Reconciler) Follow(addr netip.Addr, enabled bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.followVRRP {
		return nil
	}
	r.vips[addr] = enabled
	return r.be.SetVIP(addr, enabled)
}

// Own makes the services of the addresses VRRP instances own follow them
// (at start and on reload, before Apply): an address newly owned starts
// disabled — its instance enables it through Follow when it is, or becomes,
// master — and an address no instance owns any more forwards again. owned
// maps each address to its instance.
func (r *Reconciler) Own(owned map[netip.Addr]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.followVRRP {
		return
	}
	for a := range r.vips {
		if _, ok := owned[a]; !ok {
			delete(r.vips, a)
			_ = r.be.SetVIP(a, true)
		}
	}
	for a := range owned {
		if _, ok := r.vips[a]; !ok {
			r.vips[a] = false
			_ = r.be.SetVIP(a, false)
		}
	}
}
